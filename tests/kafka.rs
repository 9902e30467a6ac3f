//! The Kafka backend against a real broker process (tansu; see `common::kafka`), with clients
//! Brooklet did not write: Python's `confluent-kafka` produces the input and reads the output.
//! The backend's unit tests against librdkafka's mock cluster are in `src/log/kafka/tests.rs`.

mod common;

use common::http::Server;
use common::kafka::{client, unique, Broker};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A dead server's lease moves after this (tansu's first group join also takes half of it).
const SESSION: &str = "brooklet.kafka.session.timeout.ms=6000";

/// `brooklet --kafka B --property SESSION --property ksql.service.id=S --data-dir D`.
fn brooklet(broker: &Broker, service: &str, data: &Path) -> Command {
    let mut c = Command::new(common::bin());
    c.args(["--kafka", &broker.bootstrap, "--property", SESSION])
        .arg("--property")
        .arg(format!("ksql.service.id={service}"))
        .arg("--data-dir")
        .arg(data);
    c
}

/// `brooklet ... run FILE` with `sql` in FILE: (success, output).
fn run(broker: &Broker, service: &str, data: &Path, sql: &str) -> (bool, String) {
    let file = data.with_extension("sql");
    std::fs::write(&file, sql).unwrap();
    let out = brooklet(broker, service, data)
        .arg("run")
        .arg(&file)
        .output()
        .unwrap();
    (out.status.success(), common::kafka::text(&out))
}

fn proof_sql(s: &str) -> String {
    format!(
        "SET 'auto.offset.reset'='earliest';
CREATE STREAM bids (auction VARCHAR KEY, bidder VARCHAR, price INT, source BYTES HEADER('source'))
  WITH (KAFKA_TOPIC='bids_{s}', VALUE_FORMAT='JSON');
CREATE TABLE auctions (id VARCHAR PRIMARY KEY, category VARCHAR)
  WITH (KAFKA_TOPIC='auctions_{s}', VALUE_FORMAT='JSON');
CREATE TABLE per_window WITH (KAFKA_TOPIC='PER_WINDOW_{s}') AS
  SELECT auction, COUNT(*) AS n, SUM(price) AS total FROM bids
  WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY auction EMIT CHANGES;
CREATE STREAM enriched WITH (KAFKA_TOPIC='ENRICHED_{s}') AS
  SELECT b.auction AS auction, b.bidder AS bidder, b.price AS price, a.category AS category,
         FROM_BYTES(b.source, 'utf8') AS src
  FROM bids b JOIN auctions a ON b.auction = a.id EMIT CHANGES;
"
    )
}

#[test]
fn confluent_kafka_writes_the_input_and_reads_a_windowed_aggregation_and_a_join() {
    let broker = Broker::get();
    let b = broker.bootstrap.as_str();
    let s = unique("proof");
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = client("kafka_proof.py", &["produce", b, &s, "0"]);
    assert!(ok, "{out}");
    let (ok, out) = run(&broker, &s, &dir.path().join("first"), &proof_sql(&s));
    assert!(ok, "{out}");
    let (ok, out) = client("kafka_proof.py", &["check", b, &s, "1"]);
    assert!(ok, "after the first run: {out}");

    // A second server of the service, with none of the first one's local files: the catalog
    // comes from the command topic, positions from the offsets topic, state from the input.
    let (ok, out) = client("kafka_proof.py", &["produce", b, &s, "1"]);
    assert!(ok, "{out}");
    let (ok, out) = run(&broker, &s, &dir.path().join("second"), "SHOW QUERIES;");
    assert!(ok, "{out}");
    assert!(
        out.contains("CTAS_PER_WINDOW_0") && out.contains("CSAS_ENRICHED_1"),
        "{out}"
    );
    let (ok, out) = client("kafka_proof.py", &["check", b, &s, "2"]);
    assert!(
        ok,
        "after the second run (no duplicates, nothing lost): {out}"
    );
}

/// Starts `brooklet server` of `service`; the receiver gets its address once it listens.
fn spawn_server(
    broker: &Broker,
    service: &str,
    data: &Path,
) -> (Child, std::sync::mpsc::Receiver<String>) {
    spawn_server_with(broker, service, data, &[], None)
}

/// [`spawn_server`] with more arguments before the command, and its log (at info level) in
/// `log` if given.
fn spawn_server_with(
    broker: &Broker,
    service: &str,
    data: &Path,
    extra: &[&str],
    log: Option<&Path>,
) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut command = brooklet(broker, service, data);
    command
        .args(extra)
        .args(["server", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped());
    match log {
        Some(log) => command
            .env(
                "BROOKLET_LOG",
                "warn,brooklet::exec::persistent::split=info,brooklet::exec::recovery=info,\
                 brooklet::state::changelog=info",
            )
            .stderr(std::fs::File::create(log).unwrap()),
        None => command.stderr(Stdio::null()),
    };
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        if BufReader::new(stdout).read_line(&mut line).is_ok() {
            let _ = tx.send(line.trim().rsplit("://").next().unwrap_or("").to_string());
        }
    });
    (child, rx)
}

/// A server of `service`, listening.
fn server(broker: &Broker, service: &str, data: &Path) -> Server {
    let (child, rx) = spawn_server(broker, service, data);
    let addr = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    assert!(!addr.is_empty(), "the server did not start");
    Server { child, addr }
}

/// Asserts that `topic` holds nothing on the cluster (it was deleted).
fn assert_gone(broker: &Broker, topic: &str) {
    let (ok, out) = client("kafka_proof.py", &["count", &broker.bootstrap, topic, "0"]);
    assert!(ok && out.trim() == "0", "{topic} is still there: {out}");
}

fn count(broker: &Broker, topic: &str) -> u64 {
    let (ok, out) = client("kafka_proof.py", &["count", &broker.bootstrap, topic, "0"]);
    assert!(ok, "{out}");
    // The number's line: librdkafka may log a line of its own to stderr under load.
    out.lines().find_map(|l| l.trim().parse().ok()).unwrap_or(0)
}

#[test]
fn the_server_shell_and_topic_tools_work_on_the_cluster() {
    let broker = Broker::get();
    let s = unique("srv");
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&broker, &s, &dir.path().join("server"));
    let topic = format!("orders_{s}");
    let (status, body) = common::http::ksql(
        &srv.addr,
        &format!(
            "CREATE STREAM orders (id INT KEY, amount DOUBLE) WITH (KAFKA_TOPIC='{topic}', \
             PARTITIONS=3, VALUE_FORMAT='JSON');
             CREATE TABLE totals WITH (KAFKA_TOPIC='totals_{s}') AS
               SELECT id, SUM(amount) AS total FROM orders GROUP BY id;
             CREATE TABLE per_minute WITH (KAFKA_TOPIC='per_minute_{s}', PARTITIONS=2) AS
               SELECT id, COUNT(*) AS n FROM orders
               WINDOW TUMBLING (SIZE 1 MINUTE, RETENTION 3 DAYS) GROUP BY id;
             CREATE TABLE by_size WITH (KAFKA_TOPIC='by_size_{s}') AS
               SELECT FLOOR(amount / 2.2) AS band, COUNT(*) AS n FROM orders
               GROUP BY FLOOR(amount / 2.2);
             INSERT INTO orders (id, amount) VALUES (1, 2.5);
             INSERT INTO orders (id, amount) VALUES (2, 4.0);
             INSERT INTO orders (id, amount) VALUES (1, 1.5);"
        ),
    );
    assert_eq!(status, 200, "{body}");
    // The topic was made on the cluster with its partitions; any consumer sees the inserts.
    assert_eq!(count(&broker, &topic), 3);
    let (_, topics) = common::http::ksql(&srv.addr, "SHOW TOPICS;");
    let listed = topics[0]["topics"].as_array().cloned().unwrap_or_default();
    let ours = listed.iter().find(|t| t["name"] == topic.as_str());
    assert_eq!(
        ours.map(|t| t["replicaInfo"].as_array().map(Vec::len)),
        Some(Some(3)),
        "{topics}"
    );
    // Topics made as ksqlDB makes them: a stream's deletes, a table's compacts, a windowed
    // table's does both with its window's retention; partitions from the source or WITH.
    let configs = |t: &str| -> serde_json::Value {
        let (ok, out) = client("kafka_proof.py", &["configs", &broker.bootstrap, t, "0"]);
        assert!(ok, "{out}");
        // The JSON line: librdkafka may log a line of its own to stderr under load.
        let line = out.lines().find(|l| l.starts_with('{')).unwrap_or_default();
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    assert_eq!(configs(&topic)["cleanup.policy"], "delete");
    assert_eq!(configs(&topic)["partitions"], 3);
    assert_eq!(configs(&format!("totals_{s}"))["cleanup.policy"], "compact");
    assert_eq!(
        configs(&format!("totals_{s}"))["partitions"],
        3,
        "the source's partitions"
    );
    let windowed = configs(&format!("per_minute_{s}"));
    assert_eq!(windowed["cleanup.policy"], "compact,delete");
    assert_eq!(windowed["retention.ms"], (3 * 24 * 3_600_000).to_string());
    assert_eq!(windowed["partitions"], 2);
    let (status, body) = common::http::ksql(
        &srv.addr,
        "CREATE TABLE bad WITH (KAFKA_TOPIC='bad', PARTITIONS=1, RETENTION_MS=5) AS \
         SELECT id, COUNT(*) AS n FROM orders GROUP BY id;",
    );
    assert_eq!(status, 400);
    assert!(
        body.to_string()
            .contains("Non-windowed tables do not support retention"),
        "{body}"
    );
    // A pull query over the table the server materializes from the cluster.
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = serde_json::json!({"ksql": "SELECT * FROM totals WHERE id = 1;"}).to_string();
    loop {
        let (status, text) = common::http::request(&srv.addr, "POST", "/query", "", &body);
        if status == 200 && text.contains("4.0") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no total for id 1: {status} {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A grouping by an expression of the values goes through a repartition topic (ksqlDB's
    // name), which TERMINATE deletes.
    let body = serde_json::json!({"ksql": "SELECT * FROM by_size;"}).to_string();
    loop {
        let (status, text) = common::http::request(&srv.addr, "POST", "/query", "", &body);
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('[')).collect();
        if status == 200 && rows.iter().any(|r| r.contains("1.0,2")) {
            assert!(rows.iter().any(|r| r.contains("0.0,1")), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no counts by size: {status} {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let repartition =
        format!("_confluent-ksql-{s}query_CTAS_BY_SIZE_2-Aggregate-GroupBy-repartition");
    assert_eq!(count(&broker, &repartition), 3);
    let (status, body) = common::http::ksql(&srv.addr, "TERMINATE CTAS_BY_SIZE_2;");
    assert_eq!(status, 200, "{body}");
    assert_gone(&broker, &repartition);
    // The shell on that server sees the catalog and the topic's data.
    let url = format!("http://{}", srv.addr);
    let (ok, out, err) = common::shell(
        &["--server", &url],
        &format!("SHOW STREAMS;\nPRINT '{topic}' FROM BEGINNING LIMIT 3;\n"),
    );
    assert!(ok, "{err}");
    assert!(out.contains("ORDERS"), "{out}");
    assert_eq!(out.matches("\"AMOUNT\":").count(), 3, "{out}");
    // topic-dump reads the cluster too.
    let dump = Command::new(common::bin())
        .args(["--kafka", &broker.bootstrap, "topic-dump", &topic])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&dump.stdout).lines().count(), 3);
}

#[test]
fn two_servers_share_the_partitions_and_one_takes_over_the_killed_ones_by_origins() {
    takeover(&[], true);
}

#[test]
fn two_servers_share_the_partitions_and_one_takes_over_the_killed_ones_by_transactions() {
    // Without the grouped query: its two more stages under transactions made this run slow
    // enough on two cores to miss the checks' deadlines now and then (the exactly-once of the
    // repartition under transactions was checked by hand, 7 runs).
    takeover(
        &["--property", "processing.guarantee=exactly_once_v2"],
        false,
    );
}

/// The takeover tests run one at a time: two of them together on two cores (four servers, and
/// a broker each when run alone) starve the servers' group heartbeats.
static ONE_TAKEOVER_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Starts a server of `service` logging its tasks to `log`; its address once it listens.
fn logged_server(broker: &Broker, s: &str, data: &Path, extra: &[&str], log: &Path) -> Server {
    let (child, addr) = spawn_server_with(broker, s, data, extra, Some(log));
    let addr = addr
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_default();
    assert!(!addr.is_empty(), "the server did not start");
    Server { child, addr }
}

/// The task lines a server logged for query `id`: "task started ... task=K restore_ms=M".
fn tasks_started(log: &Path, id: &str) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("task started on this server") && l.contains(id))
        .map(str::to_string)
        .collect()
}

/// `/clusterStatus` of the server at `addr`: each server listed, with whether it is alive and
/// which partitions of `topic` it runs for query `id`, once two servers are listed (waits up to
/// 10 s for that).
fn cluster_status(addr: &str, id: &str) -> BTreeMap<String, (bool, Vec<u64>)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, text) = common::http::request(addr, "GET", "/clusterStatus", "", "");
        assert_eq!(status, 200, "{text}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        let hosts: BTreeMap<String, (bool, Vec<u64>)> = body["clusterStatus"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(h, s)| {
                let parts = s["activeStandbyPerQuery"][id]["activePartitions"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|p| p["partition"].as_u64()).collect())
                    .unwrap_or_default();
                (h.clone(), (s["hostAlive"] == true, parts))
            })
            .collect();
        if hosts.len() >= 2 || Instant::now() > deadline {
            return hosts;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Two servers of a service share each query's two input partitions (both listen, and the
/// second follows the statements sent to the first); the first is killed mid-query, the second
/// takes its partitions over, and every output is there once (read committed, as Kafka
/// consumers read by default).
/// With `grouped`, an aggregation through a repartition topic runs too.
fn takeover(extra: &[&str], grouped_too: bool) {
    let _one = ONE_TAKEOVER_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    const N: &str = "1000000";
    let broker = Broker::get();
    let b = broker.bootstrap.as_str();
    let s = unique("kill");
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = client("kafka_proof.py", &["bulk", b, &s, N]);
    assert!(ok, "{out}");
    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    // Checkpoints every second, so the aggregation's state is in its changelog at the kill.
    let extra = [
        extra,
        &["--property", "brooklet.checkpoint.interval.ms=1000"],
    ]
    .concat();
    // The first server fetches in small pieces (librdkafka's per-partition fetch size: about
    // 20 records), so it is still in the middle of its partitions when it is killed. At 4 KB
    // it once got through all of them before the kill on this machine.
    let slow = [
        &extra[..],
        &["--property", "brooklet.kafka.fetch.message.max.bytes=1024"],
    ]
    .concat();
    let mut first = logged_server(&broker, &s, &dir.path().join("a"), &slow, &log_a);
    let second = logged_server(&broker, &s, &dir.path().join("b"), &extra, &log_b);
    let out_topic = format!("BULK_OUT_{s}");
    // From the start of the topic, as ksqlDB's clients ask (its default is the end).
    let req = serde_json::json!({
        "ksql": format!(
            "CREATE STREAM bulk (k VARCHAR KEY, n BIGINT, g VARCHAR) WITH (KAFKA_TOPIC='bulk_{s}', \
             VALUE_FORMAT='JSON'); CREATE STREAM bulk_out WITH (KAFKA_TOPIC='{out_topic}') \
             AS SELECT k, n, n * 2 AS twice FROM bulk; CREATE TABLE bulk_counts WITH \
             (KAFKA_TOPIC='BULK_COUNTS_{s}') AS SELECT k, COUNT(*) AS c FROM bulk GROUP BY k; \
             {}",
            if grouped_too {
                format!(
                    "CREATE TABLE bulk_groups WITH (KAFKA_TOPIC='BULK_GROUPS_{s}') AS SELECT g, \
                     COUNT(*) AS c FROM bulk WHERE n % 10 = 0 GROUP BY g;"
                )
            } else {
                String::new()
            }),
        "streamsProperties": {"auto.offset.reset": "earliest"}
    });
    let (status, body) = common::http::request(&first.addr, "POST", "/ksql", "", &req.to_string());
    assert_eq!(status, 200, "{body}");
    // Kill the first server once each runs a task of the stateless query (one partition
    // each) and part of the output is there.
    let deadline = Instant::now() + Duration::from_secs(90);
    let id = "CSAS_BULK_OUT_0";
    // And once the aggregation has a checkpoint of each partition in its changelog.
    let changelog = format!(
        "_confluent-ksql-{s}query_CTAS_BULK_COUNTS_1-Aggregate-Aggregate-Materialize-changelog"
    );
    let least = |topic: &str| {
        let (ok, out) = client("kafka_proof.py", &["count", b, topic, "min"]);
        assert!(ok, "{out}");
        out.trim().parse::<u64>().unwrap_or(0)
    };
    // The aggregation grouped by a value column (through the repartition topic) spreads too.
    let grouped = "query=CTAS_BULK_GROUPS_2 task=";
    while tasks_started(&log_a, id).is_empty()
        || tasks_started(&log_b, id).is_empty()
        || (grouped_too && tasks_started(&log_a, grouped).is_empty())
        || (grouped_too && tasks_started(&log_b, grouped).is_empty())
        || count(&broker, &out_topic) == 0
        || least(&changelog) == 0
    {
        assert!(
            Instant::now() < deadline,
            "the servers did not share the query within 90 s:\n{}\n{}",
            std::fs::read_to_string(&log_a).unwrap_or_default(),
            std::fs::read_to_string(&log_b).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The second server follows the statements the first recorded.
    let (_, queries) = common::http::ksql(&second.addr, "SHOW QUERIES;");
    assert!(queries.to_string().contains(id), "{queries}");
    // It lists both servers, alive, each with its share of the partitions.
    let cluster = cluster_status(&second.addr, id);
    let mut shares: Vec<u64> = Vec::new();
    for addr in [&first.addr, &second.addr] {
        let (alive, parts) = cluster.get(addr).cloned().unwrap_or_default();
        assert!(alive && !parts.is_empty(), "{addr}: {cluster:?}");
        shares.extend(parts);
    }
    shares.sort_unstable();
    assert_eq!(shares, [0, 1], "{cluster:?}");
    // SIGKILL (what `Child::kill` sends): no chance to flush or commit.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let killed = Instant::now();
    // The end offsets count transaction markers too: below N, the query surely had not
    // finished.
    let before = count(&broker, &out_topic);
    assert!(
        before < 1_000_000,
        "the query may have finished before the kill ({before} offsets written)"
    );
    // The second server answers pull queries for every key, those the first counted too.
    let pull = serde_json::json!({"ksql": "SELECT * FROM bulk_counts;"}).to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, text) = common::http::request(&second.addr, "POST", "/query", "", &pull);
        let rows = text.lines().filter(|l| l.starts_with('[')).count();
        if status == 200 && rows == 50 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second server answers for all 50 keys: {status} {rows} rows"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (ok, out) = client("kafka_proof.py", &["bulkcheck", b, &s, N]);
    // By now the killed server has missed its heartbeats.
    let cluster = cluster_status(&second.addr, id);
    assert_eq!(
        cluster.get(&first.addr).map(|c| c.0),
        Some(false),
        "{cluster:?}"
    );
    assert_eq!(
        cluster.get(&second.addr),
        Some(&(true, vec![0, 1])),
        "{cluster:?}"
    );
    assert!(
        ok,
        "killed with {before} of {N} written: {out}\n---- the second server's log, last lines:\n{}",
        last_lines(&log_b, 40)
    );
    let (ok, out) = client("kafka_proof.py", &["countcheck", b, &s, N]);
    assert!(ok, "{out}");
    if grouped_too {
        grouped_checks(&broker, &s, &log_b);
    }
    let taken = tasks_started(&log_b, id);
    let mut tasks: Vec<&str> = taken
        .iter()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("task=")))
        .collect();
    tasks.sort_unstable();
    tasks.dedup();
    assert_eq!(
        tasks,
        ["task=0", "task=1"],
        "the second server runs both tasks: {taken:?}"
    );
    // The aggregation's task taken over got its state from the changelog topic, not by
    // replaying its whole input partition.
    let log = std::fs::read_to_string(&log_b).unwrap();
    let restored: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CTAS_BULK_COUNTS_1_task_"))
        .filter(|l| l.contains("state from the changelog topic") || l.contains("state rebuilt"))
        .collect();
    assert!(
        restored
            .iter()
            .any(|l| l.contains("state from the changelog topic")),
        "{log}\n---- the first server's log:\n{}",
        std::fs::read_to_string(&log_a).unwrap_or_default()
    );
    eprintln!(
        "takeover: killed with {before} output offsets written; all output there {:?} after \
         the kill; tasks on the second server: {taken:?}; restores: {restored:?}",
        killed.elapsed()
    );
}

/// The aggregation grouped by a value column counted every record once through its
/// repartition topic, and the second server took both stages' tasks over.
fn grouped_checks(broker: &Broker, s: &str, log_b: &Path) {
    let (ok, out) = client(
        "kafka_proof.py",
        &["groupcheck", &broker.bootstrap, s, "1000000"],
    );
    assert!(ok, "{out}");
    let grouped = "query=CTAS_BULK_GROUPS_2 task=";
    // The counts went through the repartition topic, under ksqlDB's name (exact counts: no
    // record was lost or doubled on its way through it).
    let repartition =
        format!("_confluent-ksql-{s}query_CTAS_BULK_GROUPS_2-Aggregate-GroupBy-repartition");
    assert!(count(broker, &repartition) > 0, "{repartition} is empty");
    // Both stages' tasks of the killed server moved to the second.
    for stage in [grouped, "query=CTAS_BULK_GROUPS_2_REPARTITION task="] {
        let mut tasks: Vec<String> = tasks_started(log_b, stage)
            .iter()
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("task=")))
            .map(str::to_string)
            .collect();
        tasks.sort_unstable();
        tasks.dedup();
        assert_eq!(tasks, ["task=0", "task=1"], "{stage}");
    }
}

/// The last `n` lines of a log file.
fn last_lines(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
fn with_exactly_once_a_querys_outputs_are_read_only_with_their_commit() {
    use brooklet::log::kafka::{KafkaConfig, KafkaLog};
    use brooklet::log::{Log, Origin, Record};
    let broker = Broker::get();
    let s = unique("txn");
    let settings = [
        ("processing.guarantee", "exactly_once_v2"),
        ("ksql.service.id", s.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = KafkaConfig::from_settings(Some(&broker.bootstrap), &settings)
        .unwrap()
        .unwrap();
    let log = KafkaLog::connect(config).unwrap();
    let out = format!("out_{s}");
    log.create_topic(&out, 1).unwrap();
    log.begin_outputs(9).unwrap();
    let record = Record {
        value: Some(b"v".to_vec()),
        timestamp: 1,
        origin: Some(Origin {
            producer: 9,
            partition: 0,
            offset: 41,
        }),
        ..Record::default()
    };
    log.append(&out, 0, &[record]).unwrap();
    // A fetch below the partition's known end polls for a while before it comes back empty.
    let read = |log: &KafkaLog| log.fetch(&out, 0, 0, 10).unwrap().len();
    assert_eq!(
        read(&log),
        0,
        "an output is not read before its transaction commits"
    );
    let positions = vec![("in".to_string(), 0, 42)];
    log.commit_outputs("q", 9, &positions).unwrap();
    assert!(read(&log) > 0, "the committed output is read");
    assert_eq!(log.committed("q").unwrap(), positions);
    // With no transaction open, a commit is a plain one.
    log.commit_outputs("q", 9, &[("in".to_string(), 0, 43)])
        .unwrap();
    assert_eq!(log.committed("q").unwrap()[0].2, 43);
}

#[test]
fn two_services_writing_one_topic_with_the_same_query_ids_both_write() {
    let broker = Broker::get();
    let s = unique("two");
    let dir = tempfile::tempdir().unwrap();
    let sql = |insert: bool| {
        let mut sql = format!(
            "SET 'auto.offset.reset'='earliest';
             CREATE STREAM src (id INT KEY, v INT) WITH (KAFKA_TOPIC='src_{s}', PARTITIONS=1,
               VALUE_FORMAT='JSON');
             CREATE STREAM dst WITH (KAFKA_TOPIC='dst_{s}') AS SELECT id, v FROM src;\n"
        );
        if insert {
            sql.push_str(
                "INSERT INTO src (id, v) VALUES (1, 1); INSERT INTO src (id, v) VALUES (2, 2);\n",
            );
        }
        sql
    };
    let (ok, out) = run(&broker, &format!("{s}a"), &dir.path().join("a"), &sql(true));
    assert!(ok, "{out}");
    // The second service's query has the same id (CSAS_DST_0) and sink: its outputs are its own.
    let (ok, out) = run(
        &broker,
        &format!("{s}b"),
        &dir.path().join("b"),
        &sql(false),
    );
    assert!(ok, "{out}");
    let stats = Command::new(common::bin())
        .args([
            "--kafka",
            &broker.bootstrap,
            "topic-stats",
            &format!("dst_{s}"),
        ])
        .output()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["records"], 4, "{stats}");
}

/// An aggregation grouped by a value column runs in two stages through a repartition topic,
/// both shared by the two servers of the service; TERMINATE sent to one stops it on both, and
/// its repartition topic is deleted once neither reads it (neither server falls over: a fetch
/// of a deleted topic can crash librdkafka on tansu).
#[test]
fn terminate_on_one_server_stops_a_repartitioned_query_on_both_and_deletes_its_topic() {
    let _one = ONE_TAKEOVER_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let broker = Broker::get();
    let s = unique("rep");
    let dir = tempfile::tempdir().unwrap();
    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let mut first = logged_server(&broker, &s, &dir.path().join("a"), &[], &log_a);
    let mut second = logged_server(&broker, &s, &dir.path().join("b"), &[], &log_b);
    let (status, body) = common::http::ksql(
        &first.addr,
        &format!(
            "CREATE STREAM visits (id INT KEY, page VARCHAR) WITH (KAFKA_TOPIC='visits_{s}', \
             PARTITIONS=2, VALUE_FORMAT='JSON');
             CREATE TABLE per_page WITH (KAFKA_TOPIC='per_page_{s}') AS
               SELECT page, COUNT(*) AS n FROM visits GROUP BY page;"
        ),
    );
    assert_eq!(status, 200, "{body}");
    let id = "CTAS_PER_PAGE_0";
    let stage = |log: &Path, which: &str| tasks_started(log, &format!("query={which} task="));
    let feeder = format!("{id}_REPARTITION");
    let deadline = Instant::now() + Duration::from_secs(90);
    while [&log_a, &log_b]
        .iter()
        .any(|l| stage(l, id).is_empty() || stage(l, &feeder).is_empty())
    {
        assert!(
            Instant::now() < deadline,
            "both servers run both stages within 90 s:\n{}\n{}",
            std::fs::read_to_string(&log_a).unwrap_or_default(),
            std::fs::read_to_string(&log_b).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for (id, page) in [(1, "a"), (2, "b"), (3, "a"), (4, "a"), (5, "b")] {
        let insert = format!("INSERT INTO visits (id, page) VALUES ({id}, '{page}');");
        let (status, body) = common::http::ksql(&second.addr, &insert);
        assert_eq!(status, 200, "{body}");
    }
    // Either server answers from the table, counted across both servers' tasks.
    let pull = serde_json::json!({"ksql": "SELECT * FROM per_page;"}).to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, text) = common::http::request(&first.addr, "POST", "/query", "", &pull);
        if status == 200 && text.contains("[\"a\",3]") && text.contains("[\"b\",2]") {
            break;
        }
        assert!(Instant::now() < deadline, "{status} {text}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body) = common::http::ksql(&first.addr, &format!("TERMINATE {id};"));
    assert_eq!(status, 200, "{body}");
    let repartition = format!("_confluent-ksql-{s}query_{id}-Aggregate-GroupBy-repartition");
    assert_gone(&broker, &repartition);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, queries) = common::http::ksql(&second.addr, "SHOW QUERIES;");
        if !queries.to_string().contains(id) {
            break;
        }
        assert!(Instant::now() < deadline, "{queries}");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    for (name, server) in [("first", &mut first), ("second", &mut second)] {
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "the {name} server stopped"
        );
    }
}

/// AVRO with clients we did not write: Confluent's AvroSerializer writes bids through the
/// server's schema registry, Brooklet takes the stream's columns from that registry, a query
/// writes AVRO, and fastavro decodes it with the schema Brooklet registered.
#[test]
fn confluents_avro_serializer_writes_the_input_and_fastavro_reads_the_output() {
    let broker = Broker::get();
    let s = unique("avro");
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&broker, &s, &dir.path().join("server"));
    let url = format!("http://{}", srv.addr);
    let (ok, out) = client("kafka_proof.py", &["avro", &broker.bootstrap, &s, &url]);
    assert!(ok, "{out}");
    let req = serde_json::json!({
        "ksql": format!(
            "CREATE STREAM bids (k VARCHAR KEY) WITH (KAFKA_TOPIC='avro_in_{s}', \
             VALUE_FORMAT='AVRO'); CREATE STREAM doubled WITH (KAFKA_TOPIC='AVRO_OUT_{s}', \
             VALUE_FORMAT='AVRO') AS SELECT k, auction, price * 2 AS double_price, bidder \
             FROM bids;"),
        "streamsProperties": {"auto.offset.reset": "earliest"}
    });
    let (status, body) = common::http::request(&srv.addr, "POST", "/ksql", "", &req.to_string());
    assert_eq!(status, 200, "{body}");
    let (ok, out) = client(
        "kafka_proof.py",
        &["avrocheck", &broker.bootstrap, &s, &url],
    );
    assert!(ok, "{out}");
}

/// The same with PROTOBUF: Confluent's ProtobufSerializer registers its message (as a base64
/// descriptor, with a reference to the file it imports) with the server's registry and writes
/// the bids, Brooklet infers the columns (a struct from the imported file),
/// a query writes PROTOBUF under ksqlDB's generated schema, and Confluent's
/// ProtobufDeserializer reads it with a message class built from that schema's fields.
#[test]
fn confluents_protobuf_serializer_writes_the_input_and_its_deserializer_reads_the_output() {
    let broker = Broker::get();
    let s = unique("proto");
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&broker, &s, &dir.path().join("server"));
    let url = format!("http://{}", srv.addr);
    let (ok, out) = client("kafka_proof.py", &["protobuf", &broker.bootstrap, &s, &url]);
    assert!(ok, "{out}");
    let req = serde_json::json!({
        "ksql": format!(
            "CREATE STREAM bids (k VARCHAR KEY) WITH (KAFKA_TOPIC='proto_in_{s}', \
             VALUE_FORMAT='PROTOBUF'); CREATE STREAM doubled WITH (KAFKA_TOPIC='PROTO_OUT_{s}', \
             VALUE_FORMAT='PROTOBUF') AS SELECT k, auction, price * 2 AS double_price, bidder, \
             source->app AS app FROM bids;"),
        "streamsProperties": {"auto.offset.reset": "earliest"}
    });
    let (status, body) = common::http::request(&srv.addr, "POST", "/ksql", "", &req.to_string());
    assert_eq!(status, 200, "{body}");
    let (ok, out) = client(
        "kafka_proof.py",
        &["protocheck", &broker.bootstrap, &s, &url],
    );
    assert!(ok, "{out}");
}
