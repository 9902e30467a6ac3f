//! The HTTP server: ksqlDB's endpoints over HTTP/1.1, driven with plain sockets.

mod common;

use common::http::{ksql, request, start, start_with};

#[test]
fn statements_queries_inserts_and_errors_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    let addr = server.addr.as_str();

    let (status, info) = request(addr, "GET", "/info", "", "");
    assert_eq!(status, 200);
    assert!(
        info.contains(r#""KsqlServerInfo":{"version":"0.29.0""#),
        "{info}"
    );
    let (status, health) = request(addr, "GET", "/healthcheck", "", "");
    assert_eq!(status, 200);
    assert!(health.contains(r#""isHealthy":true"#), "{health}");
    assert_eq!(
        request(addr, "GET", "/nope", "", ""),
        (
            404,
            r#"{"@type":"generic_error","error_code":40400,"message":"Not found: /nope"}"#.into()
        )
    );

    // Statements: one entity each (none for INSERT VALUES).
    let (status, entities) = ksql(
        addr,
        "CREATE STREAM pv (id INT KEY, page VARCHAR) WITH (kafka_topic='pv', value_format='JSON', partitions=1);
         INSERT INTO pv (id, page) VALUES (1, 'home');
         SHOW STREAMS;",
    );
    assert_eq!(status, 200, "{entities}");
    assert_eq!(entities[0]["@type"], "currentStatus");
    assert_eq!(entities[0]["commandId"], "stream/`PV`/create");
    assert_eq!(entities[0]["commandStatus"]["message"], "Stream created");
    assert_eq!(entities[1]["@type"], "streams");
    assert_eq!(entities.as_array().unwrap().len(), 2);
    let (status, st) = request(addr, "GET", "/status/stream/%60PV%60/create", "", "");
    assert_eq!(status, 200, "{st}");
    assert!(
        st.contains(r#""status":"SUCCESS","message":"Stream created""#),
        "{st}"
    );
    let (status, _) = request(addr, "GET", "/status/stream/%60NOPE%60/create", "", "");
    assert_eq!(status, 404);

    // Errors: a bad statement (with what ran before it), a query on /ksql, bad JSON.
    let (status, e) = ksql(addr, "SHOW STREAMS; DESCRIBE nope;");
    assert_eq!(status, 400);
    assert_eq!(e["@type"], "statement_error");
    assert_eq!(e["error_code"], 40001);
    assert_eq!(e["entities"][0]["@type"], "streams");
    let (status, e) = ksql(addr, "SELECT * FROM pv EMIT CHANGES;");
    assert_eq!((status, e["error_code"].clone()), (400, 40002.into()));
    let (status, e) = request(addr, "POST", "/ksql", "", "{not json");
    assert_eq!(status, 400);
    assert!(e.contains(r#""error_code":40000"#), "{e}");

    // Streaming inserts: one ack per row.
    let (status, acks) = request(
        addr,
        "POST",
        "/inserts-stream",
        "",
        "{\"target\":\"pv\"}\n{\"ID\":2,\"PAGE\":\"cart\"}\n{\"id\":\"x\",\"page\":\"bad\"}\n{\"id\":3,\"page\":\"pay\"}\n{\"nope\":1}\n",
    );
    assert_eq!(status, 200);
    let acks: Vec<serde_json::Value> = acks
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let statuses: Vec<(&str, i64)> = acks
        .iter()
        .map(|a| (a["status"].as_str().unwrap(), a["seq"].as_i64().unwrap()))
        .collect();
    // A value of the wrong type and an unknown column fail their rows only.
    assert_eq!(
        statuses,
        [("ok", 0), ("error", 1), ("ok", 2), ("error", 3)],
        "{acks:?}"
    );
    assert!(
        acks[3]["message"].as_str().unwrap().contains("NOPE"),
        "{acks:?}"
    );

    // Push queries in each framing.
    let q = r#"{"sql":"SELECT * FROM pv EMIT CHANGES LIMIT 3;","properties":{"auto.offset.reset":"earliest"}}"#;
    let (status, rows) = request(addr, "POST", "/query-stream", "", q);
    assert_eq!(status, 200);
    let lines: Vec<&str> = rows.lines().collect();
    assert!(
        lines[0].contains(r#""columnNames":["ID","PAGE"],"columnTypes":["INTEGER","STRING"]"#),
        "{rows}"
    );
    assert_eq!(
        &lines[1..],
        [r#"[1,"home"]"#, r#"[2,"cart"]"#, r#"[3,"pay"]"#]
    );
    let (_, array) = request(addr, "POST", "/query-stream", "application/json", q);
    let array: serde_json::Value = serde_json::from_str(&array).unwrap();
    assert_eq!(array.as_array().unwrap().len(), 4);
    assert_eq!(array[3], serde_json::json!([3, "pay"]));
    let legacy = r#"{"ksql":"SELECT * FROM pv EMIT CHANGES LIMIT 1;","streamsProperties":{"ksql.streams.auto.offset.reset":"earliest"}}"#;
    let (status, old) = request(
        addr,
        "POST",
        "/query",
        "application/vnd.ksql.v1+json",
        legacy,
    );
    assert_eq!(status, 200);
    assert!(old.starts_with(r#"[{"header":{"queryId":""#), "{old}");
    assert!(
        old.contains(r#""schema":"`ID` INTEGER, `PAGE` STRING"}},"#),
        "{old}"
    );
    assert!(
        old.contains("{\"row\":{\"columns\":[1,\"home\"]}},\n"),
        "{old}"
    );
    assert!(
        old.ends_with("{\"finalMessage\":\"Limit Reached\"}]\n"),
        "{old}"
    );

    // Closing: an unknown query is an error; a running one ends its response.
    let (status, e) = request(addr, "POST", "/close-query", "", r#"{"queryId":"nope"}"#);
    assert_eq!(status, 400);
    assert!(e.contains("No query with id nope"), "{e}");
    let addr2 = addr.to_string();
    let open = std::thread::spawn(move || {
        request(
            &addr2,
            "POST",
            "/query-stream",
            "",
            r#"{"sql":"SELECT * FROM pv EMIT CHANGES;","properties":{"auto.offset.reset":"earliest"}}"#,
        )
    });
    let mut closed = false;
    for _ in 0..200 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Query ids count up per source: the open query is the fourth over PV.
        let (status, _) = request(
            addr,
            "POST",
            "/close-query",
            "",
            r#"{"queryId":"transient_PV_4"}"#,
        );
        if status == 200 {
            closed = true;
            break;
        }
    }
    assert!(closed, "the open query was never there to close");
    let (status, rows) = open.join().unwrap();
    assert_eq!(status, 200);
    assert_eq!(rows.lines().count(), 4, "{rows}");
}

/// 500 push queries at once on one server (ksqlDB stops at 100): each gets every row.
#[test]
fn five_hundred_concurrent_push_queries_each_receive_every_row() {
    let dir = tempfile::tempdir().unwrap();
    // Beyond the default limits (100 push queries), as an operator would set them.
    let server = start_with(
        &dir.path().join("data"),
        &[
            "--property",
            "ksql.max.push.queries=500",
            "--property",
            "brooklet.push.queries.per.client=500",
        ],
    );
    let addr = server.addr.clone();
    let mut sql = String::from(
        "CREATE STREAM n (id INT KEY, v INT) WITH (kafka_topic='n', value_format='JSON', partitions=2);",
    );
    for i in 0..20 {
        sql.push_str(&format!("INSERT INTO n (id, v) VALUES ({i}, {});", i * 10));
    }
    let (status, e) = ksql(&addr, &sql);
    assert_eq!(status, 200, "{e}");
    let threads: Vec<_> = (0..500)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                request(
                    &addr,
                    "POST",
                    "/query-stream",
                    "application/vnd.ksqlapi.delimited.v1",
                    r#"{"sql":"SELECT v FROM n EMIT CHANGES LIMIT 20;","properties":{"auto.offset.reset":"earliest"}}"#,
                )
            })
        })
        .collect();
    for t in threads {
        let (status, rows) = t.join().unwrap();
        assert_eq!(status, 200);
        let mut values: Vec<i64> = rows
            .lines()
            .skip(1)
            .map(|l| serde_json::from_str::<Vec<i64>>(l).unwrap()[0])
            .collect();
        values.sort();
        assert_eq!(values, (0..20).map(|i| i * 10).collect::<Vec<_>>());
    }
}

/// `--auth-file`: HTTP basic authentication on every endpoint but the health probes.
#[test]
fn basic_authentication_guards_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.properties");
    std::fs::write(&users, "fred: letmein,admin\n").unwrap();
    let server = start_with(
        &dir.path().join("data"),
        &["--auth-file", users.to_str().unwrap()],
    );
    let addr = server.addr.as_str();
    let (status, body) = request(addr, "GET", "/info", "", "");
    assert_eq!(status, 401);
    assert!(body.contains(r#""error_code":40100"#), "{body}");
    // fred:letmein and fred:wrong in base64.
    let (status, _) = request(
        addr,
        "GET",
        "/info",
        "Authorization: Basic ZnJlZDpsZXRtZWlu",
        "",
    );
    assert_eq!(status, 200);
    let (status, _) = request(
        addr,
        "GET",
        "/info",
        "Authorization: Basic ZnJlZDp3cm9uZw==",
        "",
    );
    assert_eq!(status, 401);
    assert_eq!(request(addr, "GET", "/chc/live", "", "").0, 200);
}

/// A pull query until its answer is `want` (the table's query runs in the background), or
/// the last answer after 20 s.
fn pull_until(addr: &str, sql: &str, want: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let got = pull(addr, sql);
        if got == want || std::time::Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A pull query's rows (delimited framing), one per line.
fn pull(addr: &str, sql: &str) -> String {
    let body = serde_json::json!({ "sql": sql }).to_string();
    let (status, text) = request(addr, "POST", "/query-stream", "", &body);
    assert_eq!(status, 200, "{text}");
    text.lines().skip(1).collect::<Vec<_>>().join("\n")
}

/// Pull queries over HTTP in every framing, and a table's state after kill -9: the restarted
/// server gives the same answers.
#[test]
fn pull_queries_over_http_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data);
    let addr = server.addr.clone();
    let mut sql = String::from(
        "CREATE STREAM clicks (uid VARCHAR KEY, page VARCHAR) WITH (kafka_topic='clicks', value_format='JSON', partitions=4);
         CREATE TABLE per_user AS SELECT uid, COUNT(*) AS n FROM clicks GROUP BY uid EMIT CHANGES;",
    );
    for i in 0..300 {
        sql.push_str(&format!(
            "INSERT INTO clicks (uid, page) VALUES ('u{}', 'p{i}');",
            i % 30
        ));
    }
    let (status, e) = ksql(&addr, &sql);
    assert_eq!(status, 200, "{e}");
    let lookup = "SELECT * FROM per_user WHERE uid IN ('u3', 'u17') ORDER BY uid;";
    let scan = "SELECT n, COUNT_DISTINCT_NONE FROM per_user;";
    let ordered = "SELECT uid FROM per_user WHERE n = 10 ORDER BY uid DESC LIMIT 3;";
    let want_lookup = "[\"u17\",10]\n[\"u3\",10]";
    assert_eq!(pull_until(&addr, lookup, want_lookup), want_lookup);
    let want_ordered = "[\"u9\"]\n[\"u8\"]\n[\"u7\"]";
    assert_eq!(pull_until(&addr, ordered, want_ordered), want_ordered);
    // An unknown column: a 400 before any row.
    let (status, text) = request(
        addr.as_str(),
        "POST",
        "/query-stream",
        "",
        &serde_json::json!({ "sql": scan }).to_string(),
    );
    assert_eq!(status, 400, "{text}");
    // The legacy framing marks the key and ends with "Query Completed"; the JSON array holds
    // the header and the row.
    let one = r#"{"ksql":"SELECT * FROM per_user WHERE uid = 'u5';"}"#;
    let (status, legacy) = request(&addr, "POST", "/query", "application/vnd.ksql.v1+json", one);
    assert_eq!(status, 200);
    assert!(
        legacy.contains(r#""schema":"`UID` STRING KEY, `N` BIGINT""#),
        "{legacy}"
    );
    assert!(
        legacy.ends_with(
            "{\"row\":{\"columns\":[\"u5\",10]}},\n{\"finalMessage\":\"Query Completed\"}]\n"
        ),
        "{legacy}"
    );
    let (status, array) = request(
        &addr,
        "POST",
        "/query-stream",
        "application/json",
        r#"{"sql":"SELECT n FROM per_user WHERE uid = 'u5';"}"#,
    );
    assert_eq!(status, 200);
    let array: serde_json::Value = serde_json::from_str(&array).unwrap();
    assert_eq!(array[1], serde_json::json!([10]));

    // kill -9, restart: the same answers, from the table's topic.
    let scan_all = "SELECT * FROM per_user ORDER BY uid;";
    let before: Vec<String> = [lookup, ordered, scan_all]
        .iter()
        .map(|q| pull(&addr, q))
        .collect();
    assert_eq!(before[2].lines().count(), 30);
    drop(server); // SIGKILL
    let server = start(&data);
    let after: Vec<String> = [lookup, ordered, scan_all]
        .iter()
        .zip(&before)
        .map(|(q, want)| pull_until(&server.addr, q, want))
        .collect();
    assert_eq!(before, after);
    // DELETE over HTTP, on a table declared over a topic.
    let (status, e) = ksql(
        &server.addr,
        "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR) WITH (kafka_topic='users', value_format='JSON', partitions=2);
         INSERT INTO users (id, name) VALUES (1, 'ann');
         INSERT INTO users (id, name) VALUES (2, 'bob');
         DELETE FROM users WHERE id = 1;",
    );
    assert_eq!(status, 200, "{e}");
    assert_eq!(
        e[1]["commandStatus"]["message"],
        "Deleted 1 row from USERS."
    );
    let all = "SELECT * FROM users;";
    assert_eq!(pull_until(&server.addr, all, "[2,\"bob\"]"), "[2,\"bob\"]");
}

/// `/inserts-stream` acks rows while the request is still open: a client streams rows in
/// pieces and gets each piece's acks before it sends the next.
#[test]
fn inserts_are_acked_while_the_request_streams() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    let (status, e) = ksql(
        &server.addr,
        "CREATE STREAM s (id INT KEY, v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);",
    );
    assert_eq!(status, 200, "{e}");
    let mut socket = std::net::TcpStream::connect(&server.addr).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let chunk = |s: &mut std::net::TcpStream, text: &str| {
        write!(s, "{:x}\r\n{text}\r\n", text.len()).unwrap();
        s.flush().unwrap();
    };
    write!(
        socket,
        "POST /inserts-stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.ksqlapi.delimited.v1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    chunk(
        &mut socket,
        "{\"target\": \"S\"}\n{\"ID\": 1, \"V\": 10}\n{\"ID\": 2, \"V\": 20}\n",
    );
    // Reads until the response so far holds `n` acks.
    let mut seen = Vec::new();
    let mut acks = |s: &mut std::net::TcpStream, n: usize| -> String {
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&seen).into_owned();
            if text.matches("\"seq\"").count() >= n {
                return text;
            }
            let got = s.read(&mut buf).unwrap();
            assert!(got > 0, "the response ended early: {text}");
            seen.extend_from_slice(&buf[..got]);
        }
    };
    let first = acks(&mut socket, 2);
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.contains(r#"{"status":"ok","seq":1}"#), "{first}");
    // The request is still open: more rows, one of them bad.
    chunk(&mut socket, "not json\n{\"ID\": 3, \"V\": 30}\n");
    let second = acks(&mut socket, 4);
    assert!(
        second.contains(r#""status":"error","seq":2,"error_code":40000"#),
        "{second}"
    );
    assert!(second.contains(r#"{"status":"ok","seq":3}"#), "{second}");
    write!(socket, "0\r\n\r\n").unwrap();
    let mut rest = String::new();
    let _ = socket.read_to_string(&mut rest);
    // The three good rows are in the stream.
    let (_, rows) = request(
        &server.addr,
        "POST",
        "/query-stream",
        "",
        r#"{"sql": "SELECT v FROM s EMIT CHANGES LIMIT 3;", "properties": {"auto.offset.reset": "earliest"}}"#,
    );
    assert_eq!(
        rows.lines().skip(1).collect::<Vec<_>>(),
        ["[10]", "[20]", "[30]"]
    );
}

#[test]
fn cluster_status_lists_the_server_with_the_partitions_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path());
    let (status, body) = ksql(
        &srv.addr,
        "CREATE STREAM s (k INT KEY, v INT) WITH (KAFKA_TOPIC='s', PARTITIONS=2, \
         VALUE_FORMAT='JSON'); CREATE STREAM t AS SELECT * FROM s;",
    );
    assert_eq!(status, 200, "{body}");
    let (status, text) = request(&srv.addr, "GET", "/clusterStatus", "", "");
    assert_eq!(status, 200, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hosts = body["clusterStatus"].as_object().unwrap();
    assert_eq!(hosts.len(), 1, "{body}");
    let (addr, me) = hosts.iter().next().unwrap();
    assert_eq!(addr, &srv.addr, "listed at the address it serves");
    assert_eq!(me["hostAlive"], true);
    let active = &me["activeStandbyPerQuery"]["CSAS_T_0"]["activePartitions"];
    assert_eq!(
        active,
        &serde_json::json!([{"topic": "s", "partition": 0}, {"topic": "s", "partition": 1}]),
        "{body}"
    );
}

/// The admin entities have ksqlDB's shapes, which clients parse: a source description's
/// `readQueries` and `writeQueries` are `RunningQuery` objects (ksql-python's `ksql.utils`
/// reads their `id`), `SHOW STREAMS|TABLES EXTENDED` answers `source_descriptions`,
/// `SHOW QUERIES EXTENDED` `query_descriptions`, `SHOW TOPICS EXTENDED`
/// `kafka_topics_extended`, and `SHOW PROPERTIES` a list of `{name, scope, value}`.
#[test]
fn admin_entities_have_ksqldb_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    let addr = server.addr.as_str();
    let (status, e) = ksql(
        addr,
        "CREATE STREAM pv (id INT KEY, page VARCHAR) WITH (kafka_topic='pv', value_format='JSON', partitions=3);
         CREATE TABLE per_page AS SELECT page, COUNT(*) AS n FROM pv
           WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY page;",
    );
    assert_eq!(status, 200, "{e}");

    let (status, e) = ksql(addr, "DESCRIBE pv; DESCRIBE per_page EXTENDED;");
    assert_eq!(status, 200, "{e}");
    let pv = &e[0]["sourceDescription"];
    assert_eq!(pv["extended"], false);
    assert_eq!(pv["partitions"], 0, "partitions only when extended: {pv}");
    assert_eq!(pv["windowType"], serde_json::Value::Null);
    assert_eq!(pv["writeQueries"], serde_json::json!([]));
    let reader = &pv["readQueries"][0];
    assert_eq!(reader["id"], "CTAS_PER_PAGE_0", "{pv}");
    assert_eq!(reader["sinks"], serde_json::json!(["PER_PAGE"]));
    assert_eq!(reader["sinkKafkaTopics"], serde_json::json!(["PER_PAGE"]));
    assert_eq!(reader["statusCount"], serde_json::json!({"RUNNING": 1}));
    assert_eq!(reader["queryType"], "PERSISTENT");
    assert_eq!(reader["state"], "RUNNING");
    let per = &e[1]["sourceDescription"];
    assert_eq!(per["extended"], true);
    assert_eq!(per["partitions"], 3, "{per}");
    assert_eq!(per["replication"], 1);
    assert_eq!(per["windowType"], "TUMBLING");
    assert_eq!(per["writeQueries"][0]["id"], "CTAS_PER_PAGE_0");
    for f in [
        "timestamp",
        "statistics",
        "errorStats",
        "statement",
        "topic",
    ] {
        assert!(per[f].is_string(), "{f}: {per}");
    }
    for f in ["queryOffsetSummaries", "sourceConstraints", "fields"] {
        assert!(per[f].is_array(), "{f}: {per}");
    }

    let (status, e) = ksql(
        addr,
        "SHOW STREAMS EXTENDED; SHOW TABLES EXTENDED; SHOW QUERIES EXTENDED; SHOW TOPICS EXTENDED; SHOW TABLES;",
    );
    assert_eq!(status, 200, "{e}");
    assert_eq!(e[0]["@type"], "source_descriptions");
    let streams: Vec<&str> = e[0]["sourceDescriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(streams, ["KSQL_PROCESSING_LOG", "PV"]);
    assert!(e[0]["sourceDescriptions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["extended"] == true && d["type"] == "STREAM"));
    assert_eq!(e[1]["@type"], "source_descriptions");
    assert_eq!(e[1]["sourceDescriptions"][0]["name"], "PER_PAGE");
    assert_eq!(e[1]["sourceDescriptions"][0]["fields"][0]["name"], "PAGE");
    assert_eq!(e[2]["@type"], "query_descriptions");
    assert_eq!(e[2]["queryDescriptions"][0]["id"], "CTAS_PER_PAGE_0");
    assert_eq!(
        e[2]["queryDescriptions"][0]["sources"],
        serde_json::json!(["PV"])
    );
    assert_eq!(e[3]["@type"], "kafka_topics_extended");
    let pv_topic = e[3]["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "pv")
        .unwrap();
    assert_eq!(pv_topic["replicaInfo"], serde_json::json!([1, 1, 1]));
    assert_eq!(pv_topic["consumerGroupCount"], 1, "one query reads pv");
    assert_eq!(e[4]["@type"], "tables", "without EXTENDED, the list");
    assert_eq!(e[4]["tables"][0]["isWindowed"], true);

    let (status, e) = common::http::ksql_with(
        addr,
        "SHOW PROPERTIES;",
        serde_json::json!({"auto.offset.reset": "earliest"}),
    );
    assert_eq!(status, 200, "{e}");
    let props = e[0]["properties"]
        .as_array()
        .expect("a list, as ksqlDB 0.29");
    let reset = props
        .iter()
        .find(|p| p["name"] == "auto.offset.reset")
        .expect("the session's property");
    assert_eq!(reset["value"], "earliest");
    assert!(reset["scope"].is_string());
    assert_eq!(
        e[0]["overwrittenProperties"],
        serde_json::json!(["auto.offset.reset"])
    );
    assert_eq!(e[0]["defaultProperties"], serde_json::json!([]));
    let (_, e) = ksql(addr, "SHOW PROPERTIES;");
    assert_eq!(
        e[0]["defaultProperties"],
        serde_json::json!(["auto.offset.reset"])
    );
}
