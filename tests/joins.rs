//! Joins end to end: the example query file, the shell, and restarts.

mod common;

use brooklet::log::{EmbeddedLog, FsyncPolicy, Log, Record};
use common::{repl, rows, run_file};

fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{}/queries/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// `queries/reviews.sql`: pull-request, issue and discussion events joined into one stream of
/// updates per reviewer (stream-table joins, one through INSERT INTO), and a stream-stream join.
#[test]
fn the_pull_request_example_gives_each_reviewer_their_updates() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, lines, err) = run_file(&dir.path().join("reviews"), &example("reviews.sql"));
    assert!(ok, "{err}");
    let got = rows(&lines);
    // Two push queries: the updates (written by two queries, so in no fixed order), then the
    // follow-ups.
    assert_eq!(got.len(), 5, "{got:?}");
    let mut updates: Vec<String> = got[..4].iter().map(|r| r.to_string()).collect();
    updates.sort();
    assert_eq!(
        updates,
        vec![
            r#"[7,"ben","Faster joins","discussion","comment by eve","Benchmarks look good"]"#,
            r#"[7,"ben","Faster joins","issue","closed","Joins are slow"]"#,
            r#"[7,"ben","Faster joins","issue","linked","Joins are slow"]"#,
            // Pull request 8 changed reviewer before the comment.
            r#"[8,"fay","Fix the REPL","discussion","comment by ben","Needs a test"]"#,
        ]
    );
    assert_eq!(
        got[4].to_string(),
        r#"[7,"Joins are slow","eve","Benchmarks look good"]"#
    );
}

/// A transient push query over a join in the interactive shell.
#[test]
fn a_join_runs_as_a_push_query_in_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let input = "SET 'auto.offset.reset'='earliest';
CREATE STREAM orders (id INT KEY, customer INT, amount DOUBLE) WITH (KAFKA_TOPIC='orders', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE TABLE customers (id INT PRIMARY KEY, name STRING) WITH (KAFKA_TOPIC='customers', PARTITIONS=1, VALUE_FORMAT='JSON');
INSERT INTO customers (ROWTIME, id, name) VALUES (1, 10, 'zoe');
INSERT INTO orders (ROWTIME, id, customer, amount) VALUES (2, 1, 10, 9.5);
INSERT INTO orders (ROWTIME, id, customer, amount) VALUES (3, 2, 11, 1.25);
SELECT o.id AS order_id, c.name, o.amount FROM orders o LEFT JOIN customers c ON o.customer = c.id EMIT CHANGES LIMIT 2;
";
    let (ok, out, err) = repl(&dir.path().join("data"), input);
    assert!(ok, "{err}");
    let row = |s: &str| {
        out.lines()
            .any(|l| l.split('|').map(str::trim).collect::<Vec<_>>().join("|") == s)
    };
    // The customer row (earlier in event time) is there when the order comes.
    assert!(row("|1|zoe|9.5|"), "{out}");
    assert!(row("|2||1.25|"), "{out}");
    assert!(out.contains("Limit Reached"), "{out}");
}

/// Join state restored from its checkpoint gives what a full replay gives.
#[test]
fn joins_resume_from_checkpoints_as_from_a_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let setup = "SET 'auto.offset.reset'='earliest';
CREATE STREAM l (k INT KEY, a STRING) WITH (KAFKA_TOPIC='l', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE STREAM r (k INT KEY, b STRING) WITH (KAFKA_TOPIC='r', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE TABLE t (k INT PRIMARY KEY, c STRING) WITH (KAFKA_TOPIC='t', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE STREAM lr AS SELECT ROWKEY AS k, a, b FROM l FULL OUTER JOIN r WITHIN 10 SECONDS GRACE PERIOD 0 SECONDS ON l.k = r.k;
CREATE STREAM lt AS SELECT l.k, a, c FROM l LEFT JOIN t ON l.k = t.k;
INSERT INTO t (ROWTIME, k, c) VALUES (0, 1, 'one');
INSERT INTO l (ROWTIME, k, a) VALUES (1000, 1, 'a1');
INSERT INTO r (ROWTIME, k, b) VALUES (2000, 1, 'b1');";
    let (ok, _, err) = run_file(&first, setup);
    assert!(ok, "{err}");
    let more = "SET 'auto.offset.reset'='earliest';
INSERT INTO l (ROWTIME, k, a) VALUES (8000, 2, 'a2');
INSERT INTO t (ROWTIME, k, c) VALUES (9000, 1, 'uno');
INSERT INTO l (ROWTIME, k, a) VALUES (9500, 1, 'a1b');
INSERT INTO r (ROWTIME, k, b) VALUES (12000, 2, 'b2');
INSERT INTO r (ROWTIME, k, b) VALUES (30000, 3, 'b3');
SELECT * FROM lr EMIT CHANGES LIMIT 4;
SELECT * FROM lt EMIT CHANGES LIMIT 3;";
    // The same continuation twice: once from the checkpoints, once with them removed.
    let second = dir.path().join("second");
    common::copy_dir(&first, &second);
    std::fs::remove_dir_all(second.join("state")).unwrap();
    let (ok, a, err) = run_file(&first, more);
    assert!(ok, "{err}");
    let (ok, b, err2) = run_file(&second, more);
    assert!(ok, "{err2}");
    let (a, b) = (rows(&a), rows(&b));
    assert_eq!(a, b);
    let shown: Vec<String> = a.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        shown,
        vec![
            // Before the restart; then l 1 (a1b) joins r 1 (7.5 s apart), r 2 joins l 2 (4 s
            // apart), and the end of the run closes the window of r 3, which found no match.
            r#"[1,"a1","b1"]"#,
            r#"[1,"a1b","b1"]"#,
            r#"[2,"a2","b2"]"#,
            r#"[3,null,"b3"]"#,
            r#"[1,"a1","one"]"#,
            r#"[2,"a2",null]"#,
            r#"[1,"a1b","uno"]"#,
        ]
    );
}

/// A stored record's key (a KAFKA INT), value and timestamp.
fn int_records(dir: &std::path::Path, topic: &str) -> Vec<(i32, Option<String>, i64)> {
    let log = EmbeddedLog::open(dir, FsyncPolicy::Never).unwrap();
    log.read(topic, 0, 0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|r| {
            let key = r.record.key.unwrap();
            (
                i32::from_be_bytes(key[..4].try_into().unwrap()),
                r.record.value.map(|v| String::from_utf8(v).unwrap()),
                r.record.timestamp,
            )
        })
        .collect()
}

/// Foreign-key table-table joins: orders joined with their customer; a customer's change
/// reaches every order that refers to it; deletions on either side.
#[test]
fn foreign_key_joins_follow_changes_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let log = EmbeddedLog::open(&data, FsyncPolicy::Never).unwrap();
        log.create_topic("orders", 1).unwrap();
        log.create_topic("customers", 1).unwrap();
        let rec = |k: i32, v: Option<&str>, t: i64| Record {
            key: Some(k.to_be_bytes().to_vec()),
            value: v.map(|v| v.as_bytes().to_vec()),
            timestamp: t,
            ..Default::default()
        };
        let customers = [
            rec(10, Some(r#"{"NAME":"zoe"}"#), 1),
            rec(11, Some(r#"{"NAME":"yan"}"#), 4),
            rec(10, Some(r#"{"NAME":"zoey"}"#), 5),
            rec(11, None, 7),
        ];
        let orders = [
            rec(1, Some(r#"{"CUSTOMER":10,"AMOUNT":9.5}"#), 2),
            rec(2, Some(r#"{"CUSTOMER":11,"AMOUNT":1.25}"#), 3),
            rec(1, Some(r#"{"CUSTOMER":11,"AMOUNT":9.5}"#), 6),
            rec(2, None, 8),
        ];
        log.append("customers", 0, &customers).unwrap();
        log.append("orders", 0, &orders).unwrap();
    }
    let (ok, _, err) = run_file(
        &data,
        "SET 'auto.offset.reset'='earliest';
CREATE TABLE orders (id INT PRIMARY KEY, customer INT, amount DOUBLE) WITH (KAFKA_TOPIC='orders', VALUE_FORMAT='JSON');
CREATE TABLE customers (id INT PRIMARY KEY, name STRING) WITH (KAFKA_TOPIC='customers', VALUE_FORMAT='JSON');
CREATE TABLE named AS SELECT o.id, c.name, o.amount FROM orders o LEFT JOIN customers c ON o.customer = c.id;
CREATE TABLE matched AS SELECT o.id, c.name FROM orders o JOIN customers c ON o.customer = c.id;",
    );
    assert!(ok, "{err}");
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        int_records(&data, "NAMED"),
        vec![
            (1, s(r#"{"NAME":"zoe","AMOUNT":9.5}"#), 2),
            (2, s(r#"{"NAME":null,"AMOUNT":1.25}"#), 3),
            (2, s(r#"{"NAME":"yan","AMOUNT":1.25}"#), 4),
            (1, s(r#"{"NAME":"zoey","AMOUNT":9.5}"#), 5),
            (1, s(r#"{"NAME":"yan","AMOUNT":9.5}"#), 6),
            // Customer 11 deleted: both its orders, in the order they came to refer to it.
            (2, s(r#"{"NAME":null,"AMOUNT":1.25}"#), 7),
            (1, s(r#"{"NAME":null,"AMOUNT":9.5}"#), 7),
            (2, None, 8),
        ]
    );
    assert_eq!(
        int_records(&data, "MATCHED"),
        vec![
            (1, s(r#"{"NAME":"zoe"}"#), 2),
            (2, s(r#"{"NAME":"yan"}"#), 4),
            (1, s(r#"{"NAME":"zoey"}"#), 5),
            (1, s(r#"{"NAME":"yan"}"#), 6),
            (2, None, 7),
            (1, None, 7),
            // Deleting order 2 emits a tombstone though it has no result since 7: Kafka
            // Streams' foreign-key join propagates every deletion of a left row with a key.
            (2, None, 8),
        ]
    );
}

/// N-way joins: a stream enriched from two tables on different keys, and a stream-stream join
/// followed by a stream-table join.
#[test]
fn chains_of_joins_on_different_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, lines, err) = run_file(
        &dir.path().join("data"),
        "SET 'auto.offset.reset'='earliest';
CREATE STREAM orders (id INT KEY, customer INT, product INT, qty INT) WITH (KAFKA_TOPIC='orders', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE TABLE customers (id INT PRIMARY KEY, name STRING) WITH (KAFKA_TOPIC='customers', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE TABLE products (id INT PRIMARY KEY, title STRING, price DOUBLE) WITH (KAFKA_TOPIC='products', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE STREAM shipments (order_id INT KEY, carrier STRING) WITH (KAFKA_TOPIC='shipments', PARTITIONS=1, VALUE_FORMAT='JSON');
INSERT INTO customers (ROWTIME, id, name) VALUES (1, 10, 'zoe');
INSERT INTO products (ROWTIME, id, title, price) VALUES (1, 7, 'lamp', 20.0);
INSERT INTO orders (ROWTIME, id, customer, product, qty) VALUES (2, 1, 10, 7, 3);
INSERT INTO orders (ROWTIME, id, customer, product, qty) VALUES (3, 2, 10, 8, 1);
INSERT INTO orders (ROWTIME, id, customer, product, qty) VALUES (4, 3, 11, 7, 1);
INSERT INTO shipments (ROWTIME, order_id, carrier) VALUES (5, 1, 'dhl');
CREATE STREAM enriched AS
  SELECT o.product AS product, o.id AS order_id, c.name AS customer, p.title, o.qty * p.price AS total
  FROM orders o JOIN customers c ON o.customer = c.id LEFT JOIN products p ON o.product = p.id;
CREATE STREAM shipped AS
  SELECT c.id AS customer_id, o.id AS order_id, c.name, s.carrier
  FROM orders o JOIN shipments s WITHIN 1 HOUR ON o.id = s.order_id
  JOIN customers c ON o.customer = c.id;
SELECT * FROM enriched EMIT CHANGES LIMIT 2;
SELECT * FROM shipped EMIT CHANGES LIMIT 1;",
    );
    assert!(ok, "{err}");
    let shown: Vec<String> = rows(&lines).iter().map(|r| r.to_string()).collect();
    assert_eq!(
        shown,
        vec![
            // Order 3's customer does not exist: the inner join drops it.
            r#"[7,1,"zoe","lamp",60.0]"#,
            r#"[8,2,"zoe",null,null]"#,
            r#"[10,1,"zoe","dhl"]"#,
        ]
    );
}

/// A step joining on an expression the steps before joined on keeps their key's names, as
/// ksqlDB's viable key columns: `o.id = s.order_id - 100` then `s.order_id - 100 = r.order_id`
/// is keyed by `o.id` (or `r.order_id`), which the projection may select; without either the
/// key is missing.
#[test]
fn a_key_carries_through_a_join_on_the_same_expression() {
    let dir = tempfile::tempdir().unwrap();
    let setup = "SET 'auto.offset.reset'='earliest';
CREATE STREAM orders (id INT KEY, qty INT) WITH (KAFKA_TOPIC='orders', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE STREAM shipments (order_id INT KEY, carrier STRING) WITH (KAFKA_TOPIC='shipments', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE STREAM returns (order_id INT KEY, reason STRING) WITH (KAFKA_TOPIC='returns', PARTITIONS=1, VALUE_FORMAT='JSON');
INSERT INTO orders (ROWTIME, id, qty) VALUES (1, 1, 3);
INSERT INTO shipments (ROWTIME, order_id, carrier) VALUES (2, 101, 'dhl');
INSERT INTO returns (ROWTIME, order_id, reason) VALUES (3, 1, 'broken');
";
    let (ok, lines, err) = run_file(
        &dir.path().join("data"),
        &format!(
            "{setup}CREATE STREAM returned AS
  SELECT o.id, o.qty, s.carrier, r.reason
  FROM orders o JOIN shipments s WITHIN 1 HOUR ON o.id = s.order_id - 100
  JOIN returns r WITHIN 1 HOUR ON s.order_id - 100 = r.order_id;
SELECT * FROM returned EMIT CHANGES LIMIT 1;"
        ),
    );
    assert!(ok, "{err}");
    let shown: Vec<String> = rows(&lines).iter().map(|r| r.to_string()).collect();
    assert_eq!(shown, vec![r#"[1,3,"dhl","broken"]"#]);
    let said = common::run_file_refused(
        &dir.path().join("data2"),
        &format!(
            "{setup}CREATE STREAM returned AS
  SELECT o.qty, s.carrier, r.reason
  FROM orders o JOIN shipments s WITHIN 1 HOUR ON o.id = s.order_id - 100
  JOIN returns r WITHIN 1 HOUR ON s.order_id - 100 = r.order_id;"
        ),
    );
    assert!(
        said.contains("must include the join expressions O.ID"),
        "{said}"
    );
}

/// Beyond ksqlDB: streams joined on several columns at once.
#[test]
fn streams_join_on_several_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, lines, err) = run_file(
        &dir.path().join("data"),
        "SET 'auto.offset.reset'='earliest';
CREATE STREAM a (id INT KEY, x INT, y STRING, v STRING) WITH (KAFKA_TOPIC='a', PARTITIONS=1, VALUE_FORMAT='JSON');
CREATE STREAM b (id INT KEY, x INT, y STRING, w STRING) WITH (KAFKA_TOPIC='b', PARTITIONS=1, VALUE_FORMAT='JSON');
INSERT INTO a (ROWTIME, id, x, y, v) VALUES (1, 1, 1, 'p', 'a1');
INSERT INTO a (ROWTIME, id, x, y, v) VALUES (2, 2, 1, 'q', 'a2');
INSERT INTO b (ROWTIME, id, x, y, w) VALUES (3, 3, 1, 'p', 'b1');
INSERT INTO b (ROWTIME, id, x, y, w) VALUES (4, 4, 2, 'p', 'b2');
CREATE STREAM ab AS SELECT a.x AS x, a.y AS y, v, w
  FROM a LEFT JOIN b WITHIN 1 MINUTE GRACE PERIOD 0 SECONDS ON a.x = b.x AND a.y = b.y;
SELECT * FROM ab EMIT CHANGES LIMIT 2;",
    );
    assert!(ok, "{err}");
    let shown: Vec<String> = rows(&lines).iter().map(|r| r.to_string()).collect();
    // a2 matches b1 on x but not on y: unmatched (emitted when the run ends).
    assert_eq!(shown, vec![r#"[1,"p","a1","b1"]"#, r#"[1,"q","a2",null]"#]);
    // The same condition twice is a mistake, not a join on two columns.
    let (ok, lines, err) = run_file(
        &dir.path().join("data"),
        "CREATE STREAM bad AS SELECT a.x AS x, v, w FROM a JOIN b WITHIN 1 MINUTE ON a.x = b.x AND a.x = b.x;",
    );
    assert!(!ok);
    let said = format!("{err}{lines:?}");
    assert!(said.contains("appears more than once"), "{said}");
}
