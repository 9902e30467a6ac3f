//! `brooklet --server URL`: the shell on a running server shows what the embedded shell shows.

mod common;

use std::process::{Command, Stdio};

const SCRIPT: &str = "SET 'auto.offset.reset'='earliest';
CREATE STREAM s (id INT KEY, v STRING) WITH (kafka_topic='s', partitions=1, value_format='JSON');
INSERT INTO s (ROWTIME, id, v) VALUES (1000, 1, 'a');
INSERT INTO s (ROWTIME, id, v) VALUES (2000, 2, 'b');
SHOW STREAMS;
DESCRIBE s;
CREATE TABLE t AS SELECT id, COUNT(*) AS n FROM s GROUP BY id EMIT CHANGES;
SELECT * FROM s EMIT CHANGES LIMIT 2;
SELECT v FROM s WHERE id = 2;
PRINT 's' FROM BEGINNING LIMIT 2;
SELECT * FROM nope EMIT CHANGES;
DEFINE x = 'hello';
SELECT '${x}' AS greeting, id FROM s WHERE id = 1;
SHOW QUERIES;
";

fn shell(args: &[&str], input: &str) -> (String, String) {
    let (ok, out, err) = common::shell(args, input);
    assert!(ok, "{err}");
    (out, err)
}

/// Everything but the banner's first line (it names the data directory or the server).
fn body(out: &str) -> String {
    out.lines().skip(1).collect::<Vec<_>>().join("\n")
}

#[test]
fn the_remote_shell_shows_what_the_embedded_one_shows() {
    let dir = tempfile::tempdir().unwrap();
    let embedded_dir = dir.path().join("embedded");
    let (embedded, embedded_err) = shell(&["--data-dir", embedded_dir.to_str().unwrap()], SCRIPT);
    let server = common::http::start(&dir.path().join("server"));
    let url = format!("http://{}", server.addr);
    let (remote, remote_err) = shell(&["--server", &url], SCRIPT);
    assert!(remote.lines().next().unwrap().contains(&url), "{remote}");
    assert_eq!(body(&embedded), body(&remote));
    assert_eq!(embedded_err, remote_err);
    // What they show: a listing, rows, PRINT's records, an error, a variable.
    for expected in [
        " S                   | s ",
        "|2                                                         |b ",
        "rowtime: 1970/01/01 00:00:02.000 Z",
        "|hello",
        " CTAS_T_0 | PERSISTENT |",
    ] {
        assert!(remote.contains(expected), "{expected} in {remote}");
    }
    assert!(remote_err.contains("NOPE does not exist."), "{remote_err}");
    // The statements ran on the server.
    let (_, e) = common::http::ksql(&server.addr, "SHOW TABLES;");
    assert_eq!(e[0]["tables"][0]["name"], "T");
}

#[test]
fn a_server_that_does_not_answer_is_reported() {
    let out = Command::new(common::bin())
        .args(["--server", "http://127.0.0.1:1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Cannot reach the server at 127.0.0.1:1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
