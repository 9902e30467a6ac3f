//! The event-driven recipes of `queries/patterns`: each runs as a query file and shows what
//! its `.out` file holds (the expected output, checked in), and gives the same rows when its
//! statements go to a server over HTTP (CQRS's commands through `/inserts-stream`).
//!
//! `BROOKLET_BLESS=1 cargo test --test patterns` rewrites the `.out` files from a run: read
//! the difference before committing it.

mod common;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn recipe(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("queries/patterns")
        .join(name)
}

/// Runs the binary in `cwd` with `args`; (success, stdout, stderr).
fn brooklet(cwd: &Path, args: &[&str], stdin: Option<&Path>) -> (bool, String, String) {
    let mut cmd = Command::new(common::bin());
    cmd.current_dir(cwd).args(args);
    if let Some(input) = stdin {
        cmd.stdin(Stdio::from(std::fs::File::open(input).unwrap()));
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Loads the records a recipe starts from, if it has any (`<stem>.<topic>.jsonl`).
fn load_inputs(name: &str, cwd: &Path, data: &str) {
    if name == "headers-and-event-time.sql" {
        let input = recipe("headers.readings.jsonl");
        let (ok, _, err) = brooklet(
            cwd,
            &["--data-dir", data, "topic-load", "readings"],
            Some(&input),
        );
        assert!(ok, "{err}");
    }
}

/// Runs a recipe as a file: its tabular output must be its `.out` file; returns the rows of
/// each query, in order (from a second run with `--output json` in a fresh directory).
fn run_recipe(name: &str, cwd: &Path) -> Vec<Vec<Value>> {
    let file = recipe(name);
    let file = file.to_str().unwrap();
    load_inputs(name, cwd, "data");
    let (ok, out, err) = brooklet(cwd, &["--data-dir", "data", "run", file], None);
    assert!(ok, "{name}: {err}");
    let expected = recipe(name).with_extension("out");
    if std::env::var_os("BROOKLET_BLESS").is_some() {
        std::fs::write(&expected, &out).unwrap();
    }
    let want = std::fs::read_to_string(&expected).unwrap_or_default();
    assert_eq!(
        out,
        want,
        "{name}: the output differs from {}",
        expected.display()
    );

    load_inputs(name, cwd, "json-data");
    let args = ["--data-dir", "json-data", "--output", "json", "run", file];
    let (ok, out, err) = brooklet(cwd, &args, None);
    assert!(ok, "{name}: {err}");
    let mut queries: Vec<Vec<Value>> = Vec::new();
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v.get("header").is_some() {
            queries.push(Vec::new());
        } else if let (Some(row), Some(q)) = (v.get("row"), queries.last_mut()) {
            q.push(row["columns"].clone());
        }
    }
    queries
}

/// A server on a free port, started in `cwd` with `data`, files allowed in `cwd`.
fn server(cwd: &Path, data: &str) -> common::http::Server {
    let dirs = format!("brooklet.connect.file.dirs={}", cwd.display());
    let mut child = Command::new(common::bin())
        .current_dir(cwd)
        .args([
            "--data-dir",
            data,
            "--property",
            &dirs,
            "server",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line.trim().rsplit("://").next().unwrap().to_string();
    common::http::Server { child, addr }
}

/// The rows of a query over `/query-stream` (delimited: a header line, then one array per row).
fn query(addr: &str, sql: &str, props: &Value) -> Vec<Value> {
    let body = json!({"sql": sql, "properties": props}).to_string();
    let accept = "application/vnd.ksqlapi.delimited.v1";
    let (status, text) = common::http::request(addr, "POST", "/query-stream", accept, &body);
    assert_eq!(status, 200, "{sql}: {text}");
    text.lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(Value::is_array)
        .collect()
}

/// `INSERT INTO s (cols) VALUES (literals)` as a target and a JSON row, for `/inserts-stream`.
fn insert_row(statement: &str) -> Option<(String, Value)> {
    let (head, values) = statement.split_once(" VALUES ")?;
    let (target, cols) = head.strip_prefix("INSERT INTO ")?.split_once(" (")?;
    let cols = cols.trim_end_matches(')').split(", ");
    let values = values.trim().trim_start_matches('(').trim_end_matches(");");
    let row: serde_json::Map<String, Value> = cols
        .zip(values.split(", "))
        .map(|(c, v)| {
            let v = match v.strip_prefix('\'') {
                Some(s) => Value::from(s.trim_end_matches('\'')),
                None => serde_json::from_str(v).unwrap(),
            };
            (c.to_uppercase(), v)
        })
        .collect();
    Some((target.to_uppercase(), Value::Object(row)))
}

/// Sends a recipe's statements to the server at `addr`: the rows of each query must be
/// `expected`'s (a pull query is asked again until they are, as the queries before it catch
/// up). With `inserts_stream`, INSERT VALUES go through `/inserts-stream`.
fn run_over_http(name: &str, addr: &str, expected: &[Vec<Value>], inserts_stream: bool) {
    let text = std::fs::read_to_string(recipe(name)).unwrap();
    let mut props = json!({});
    let mut queries = expected.iter();
    for chunk in brooklet::sql::script::split_statements(&text) {
        let statement = chunk.text.trim();
        let upper = statement.to_uppercase();
        if let Some(set) = upper.strip_prefix("SET ") {
            let _ = set;
            let (k, v) = statement[4..].split_once('=').unwrap();
            props[k.trim().trim_matches('\'')] = v
                .trim()
                .trim_end_matches(';')
                .trim()
                .trim_matches('\'')
                .into();
            continue;
        }
        if upper.starts_with("SELECT") {
            let want = queries
                .next()
                .unwrap_or_else(|| panic!("{name}: more queries than rows"));
            let mut got = Vec::new();
            for _ in 0..100 {
                got = query(addr, statement, &props);
                if &got == want {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            assert_eq!(&got, want, "{name}: {statement}");
            continue;
        }
        if inserts_stream && upper.starts_with("INSERT INTO") {
            let (target, row) = insert_row(statement).unwrap();
            let body = format!("{}\n{row}\n", json!({"target": target}));
            let (status, acks) = common::http::request(addr, "POST", "/inserts-stream", "", &body);
            assert_eq!(status, 200, "{acks}");
            assert!(acks.contains("\"status\":\"ok\""), "{statement}: {acks}");
            continue;
        }
        let body = json!({"ksql": statement, "streamsProperties": props}).to_string();
        let (status, text) = common::http::request(addr, "POST", "/ksql", "", &body);
        assert_eq!(status, 200, "{name}: {statement}: {text}");
    }
    assert!(
        queries.next().is_none(),
        "{name}: fewer queries than expected"
    );
}

fn check(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let rows = run_recipe(name, dir.path());
    assert!(
        rows.iter().all(|q| !q.is_empty()),
        "{name}: a query gave no rows: {rows:?}"
    );
    load_inputs(name, dir.path(), "server-data");
    let server = server(dir.path(), "server-data");
    run_over_http(name, &server.addr, &rows, name == "cqrs.sql");
}

#[test]
fn event_sourcing() {
    check("event-sourcing.sql");
}

#[test]
fn event_notification() {
    check("event-notification.sql");
}

#[test]
fn cqrs() {
    check("cqrs.sql");
}

#[test]
fn event_id_audits_and_deduplication() {
    check("audit.sql");
}

#[test]
fn headers_and_event_time() {
    check("headers-and-event-time.sql");
}

/// Two services, two data directories: B answers from its own copy of A's customers, with A
/// gone. Then the same over two servers.
#[test]
fn event_carried_state_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let file = |n: &str| recipe(n).to_str().unwrap().to_string();
    let (ok, out, err) = brooklet(
        cwd,
        &["--data-dir", "service-a", "run", &file("ecst-producer.sql")],
        None,
    );
    assert!(ok, "{err}");
    if std::env::var_os("BROOKLET_BLESS").is_some() {
        std::fs::write(recipe("ecst-producer.out"), &out).unwrap();
    }
    let want = std::fs::read_to_string(recipe("ecst-producer.out")).unwrap_or_default();
    assert_eq!(out, want);
    // Service A's data is gone before B starts: B needs only the events.
    std::fs::remove_dir_all(cwd.join("service-a")).unwrap();
    let rows = run_recipe("ecst-consumer.sql", cwd);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0],
        vec![json!(["c-1", "Ana", "ana@example.org", "gold"])]
    );

    let http = tempfile::tempdir().unwrap();
    let a = server(http.path(), "service-a");
    run_over_http("ecst-producer.sql", &a.addr, &[], false);
    let transfer = http.path().join("customer-changes.jsonl");
    for _ in 0..100 {
        let lines = std::fs::read_to_string(&transfer)
            .unwrap_or_default()
            .lines()
            .count();
        if lines == 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(a);
    let b = server(http.path(), "service-b");
    run_over_http("ecst-consumer.sql", &b.addr, &rows, false);
}

/// A recipe's data directory goes on after its run: events added later (here by a second
/// file) reach its windowed tables, though the run closed every window it had open.
#[test]
fn a_recipes_tables_take_events_added_after_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let file = recipe("audit.sql");
    let (ok, _, err) = brooklet(
        cwd,
        &["--data-dir", "d", "run", file.to_str().unwrap()],
        None,
    );
    assert!(ok, "{err}");
    let more = cwd.join("more.sql");
    std::fs::write(
        &more,
        "INSERT INTO payments (event_id, producer, seq, amount) VALUES ('e9', 'p3', 1, 4.00);
INSERT INTO payments (event_id, producer, seq, amount) VALUES ('e9', 'p3', 1, 4.00);
SELECT producer, event_id, copies FROM duplicate_ids ORDER BY producer;
SELECT event_id FROM unique_payments WHERE event_id = 'e9';
",
    )
    .unwrap();
    let args = [
        "--data-dir",
        "d",
        "--output",
        "json",
        "run",
        more.to_str().unwrap(),
    ];
    let (ok, out, err) = brooklet(cwd, &args, None);
    assert!(ok, "{err}");
    let rows: Vec<Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok()?.get("row").cloned())
        .map(|r| r["columns"].clone())
        .collect();
    assert_eq!(
        rows,
        [
            json!(["p1", "e2", 2]),
            json!(["p3", "e9", 2]),
            json!(["e9"])
        ],
        "{out}"
    );
}
