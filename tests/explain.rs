//! EXPLAIN: a query's operator tree with each operator's figures, from a query file, over
//! HTTP and from the shell on a server.

mod common;

use serde_json::Value;

/// Three JSON values and one record that is not JSON (written through a KAFKA-format stream
/// over the same topic), then an aggregation whose WHERE keeps two of the three.
const SETUP: &str = "SET 'auto.offset.reset'='earliest';
CREATE STREAM raw (v STRING) WITH (kafka_topic='s', partitions=1, value_format='KAFKA');
CREATE STREAM s (id INT KEY, v INT) WITH (kafka_topic='s', value_format='JSON');
INSERT INTO s (id, v) VALUES (1, 5);
INSERT INTO s (id, v) VALUES (1, 50);
INSERT INTO raw (v) VALUES ('not json');
INSERT INTO s (id, v) VALUES (2, 60);
CREATE TABLE t AS SELECT id, COUNT(*) AS n FROM s WHERE v > 10 GROUP BY id EMIT CHANGES;
";

/// The operators of a tree from the sink down, following first inputs.
fn chain(tree: &Value) -> Vec<&Value> {
    let mut out = vec![tree];
    let mut node = tree;
    while let Some(next) = node["inputs"].get(0) {
        out.push(next);
        node = next;
    }
    out
}

fn figures(node: &Value) -> (String, Value, Value) {
    (
        node["operator"].as_str().unwrap().to_string(),
        node["rowsIn"].clone(),
        node["rowsOut"].clone(),
    )
}

#[test]
fn a_query_file_explains_a_running_aggregation_with_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let sql = format!("{SETUP}EXPLAIN CTAS_T_0;\n");
    let (ok, lines, err) = common::run_file(&dir.path().join("d"), &sql);
    assert!(ok, "{err}");
    let d = &lines.last().unwrap()["queryDescription"];
    assert_eq!(d["id"], "CTAS_T_0");
    assert_eq!(d["state"], "RUNNING");
    assert_eq!(d["sources"], serde_json::json!(["S"]));
    assert_eq!(d["sinks"], serde_json::json!(["T"]));
    let ops: Vec<_> = chain(&d["operators"]).into_iter().map(figures).collect();
    let n = |v: u64| Value::from(v);
    assert_eq!(
        ops,
        vec![
            ("SINK".into(), n(2), Value::Null),
            ("PROJECT".into(), n(2), n(2)),
            ("AGGREGATE".into(), n(2), n(2)),
            ("FILTER".into(), n(3), n(2)),
            // The record that is not JSON went to the processing log.
            ("DECODE".into(), n(4), n(3)),
            ("SOURCE".into(), Value::Null, n(4)),
        ]
    );
    let aggregate = chain(&d["operators"])[2];
    assert_eq!(aggregate["stateRows"], 2, "{aggregate}");
    // The tree is also text, for the shell.
    let plan = d["executionPlan"].as_str().unwrap();
    assert!(
        plan.contains("      └─ FILTER WHERE v > 10  [in 3, out 2]"),
        "{plan}"
    );
}

#[test]
fn explaining_a_statement_plans_it_without_running_it() {
    let dir = tempfile::tempdir().unwrap();
    let sql = format!(
        "{SETUP}CREATE TABLE names (id INT PRIMARY KEY, name STRING) WITH (kafka_topic='names', partitions=1, value_format='JSON');
EXPLAIN SELECT s.id, name, v FROM s JOIN names ON s.id = names.id EMIT CHANGES;
EXPLAIN CREATE STREAM big AS SELECT v, id, v * 2 AS w FROM s WHERE v > 10 PARTITION BY v;
SHOW QUERIES;
"
    );
    let (ok, lines, err) = common::run_file(&dir.path().join("d"), &sql);
    assert!(ok, "{err}");
    let explains: Vec<&Value> = lines
        .iter()
        .filter_map(|l| l.get("queryDescription"))
        .collect();
    assert_eq!(explains.len(), 2, "{lines:?}");
    let join = &explains[0];
    assert_eq!(join["state"], "NOT RUNNING");
    assert_eq!(join["sources"], serde_json::json!(["S", "NAMES"]));
    let ops = chain(&join["operators"]);
    assert_eq!(ops[0]["operator"], "CLIENT");
    assert_eq!(ops[1]["operator"], "PROJECT");
    let j = ops[2];
    assert_eq!(j["operator"], "JOIN");
    let sides: Vec<String> = j["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["inputs"][0]["detail"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sides, ["STREAM S (topic s)", "TABLE NAMES (topic names)"]);
    // No figures for a query that does not run.
    assert_eq!(j["rowsIn"], Value::Null);
    let fields: Vec<&str> = join["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["S_ID", "NAME", "V"]);

    let csas = &explains[1];
    let names: Vec<&str> = chain(&csas["operators"])
        .iter()
        .map(|o| o["operator"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["SINK", "PROJECT", "RE-KEY", "FILTER", "DECODE", "SOURCE"]
    );
    // Nothing was created: the only query is the file's CTAS.
    let queries = lines.last().unwrap()["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 1, "{queries:?}");
}

#[test]
fn explain_over_http_and_from_the_shell_on_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start(&dir.path().join("d"));
    for statement in SETUP.lines().skip(1) {
        let body = serde_json::json!({"ksql": statement,
            "streamsProperties": {"auto.offset.reset": "earliest"}});
        let (status, text) =
            common::http::request(&server.addr, "POST", "/ksql", "", &body.to_string());
        assert_eq!(status, 200, "{statement}: {text}");
    }
    // Figures come once the query has read its input.
    let mut d = Value::Null;
    for _ in 0..100 {
        let (status, body) = common::http::ksql(&server.addr, "EXPLAIN CTAS_T_0;");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body[0]["@type"], "queryDescription", "{body}");
        d = body[0]["queryDescription"].clone();
        if chain(&d["operators"])[3]["rowsIn"] == 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let ops = chain(&d["operators"]);
    assert_eq!(
        figures(ops[3]),
        ("FILTER".into(), 3.into(), 2.into()),
        "{d}"
    );
    let (status, body) = common::http::ksql(&server.addr, "EXPLAIN CSAS_NOPE_0;");
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("does not exist"));

    let url = format!("http://{}", server.addr);
    let (ok, out, err) = common::shell(&["--server", &url], "EXPLAIN CTAS_T_0;\n");
    assert!(ok, "{err}");
    assert!(out.contains("Execution plan"), "{out}");
    assert!(
        out.contains("└─ AGGREGATE GROUP BY id  [in 2, out 2"),
        "{out}"
    );
}
