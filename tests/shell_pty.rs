//! The interactive shell in a pseudo-terminal, as a person uses it: Tab completes stream and
//! table names, columns, keywords and query ids from the catalog, a hint shows the signature
//! of the function being typed, and EXPLAIN draws a query's operators. On the embedded engine
//! and on a server (`brooklet --server`).

mod common;

use rexpect::session::{spawn_command, PtySession};
use std::process::Command;

fn shell(args: &[&str]) -> PtySession {
    let mut cmd = Command::new(common::bin());
    cmd.args(args)
        .env("TERM", "xterm")
        // The history file of a person's home is not touched.
        .env("HOME", std::env::temp_dir());
    let mut p = spawn_command(cmd, Some(30_000)).unwrap();
    p.exp_string("ksql> ").unwrap();
    p
}

/// Runs a statement and waits for the next prompt.
fn run(p: &mut PtySession, statement: &str, expect: &str) -> String {
    p.send_line(statement).unwrap();
    let seen = p.exp_string(expect).unwrap();
    p.exp_string("ksql> ").unwrap();
    seen
}

/// Types `text`, then Tab; returns what the terminal shows up to `expect`.
fn tab(p: &mut PtySession, text: &str, expect: &str) {
    p.send(text).unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string(expect)
        .unwrap_or_else(|e| panic!("after {text:?} + Tab, no {expect:?}: {e}"));
}

/// Clears the line being typed (Ctrl-C) and waits for a new prompt.
fn clear(p: &mut PtySession) {
    p.send_control('c').unwrap();
    p.exp_string("^C").unwrap();
    p.exp_string("ksql> ").unwrap();
}

/// What both shells must do, once `clicks` exists and `CTAS_CLICKS_PER_USER_0` runs.
fn complete_and_explain(p: &mut PtySession) {
    // Stream and table names after FROM: Tab completes what they share, a second Tab lists
    // them.
    tab(p, "SELECT * FROM cli", "FROM clicks");
    tab(p, "", "clicks_per_user");
    // The line is drawn again below the list before it takes more keys.
    p.exp_string("ksql> SELECT * FROM clicks").unwrap();
    // Then a column of the stream, on the statement's next line.
    p.send(" \r").unwrap();
    p.flush().unwrap();
    // The continuation prompt (`>` after the line is cleared): rustyline drops what is typed
    // before it is drawn.
    p.exp_regex("\\[K>").unwrap();
    tab(p, "WHERE pag", "WHERE page ");
    clear(p);
    // Keywords in context.
    tab(p, "SHOW QUER", "SHOW QUERIES ");
    clear(p);
    // A query id after EXPLAIN; EXPLAIN draws its operators.
    tab(p, "EXPLAIN CTAS_CL", "CTAS_CLICKS_PER_USER_0 ");
    p.send_line(";").unwrap();
    p.exp_string("Execution plan").unwrap();
    // (rexpect reads bytes as Latin-1: the tree's box-drawing characters do not match.)
    p.exp_string(" AGGREGATE GROUP BY user_id  [in 0, out 0")
        .unwrap();
    p.exp_string("ksql> ").unwrap();
    // Functions are listed with their signatures.
    tab(p, "SELECT SUBSTRI", "SELECT SUBSTRING");
    tab(p, "", "SUBSTRING(VARCHAR, INT) ");
    p.exp_string("(+3)").unwrap();
    clear(p);
    // The signature of the function being typed, as a hint.
    p.send("SELECT SUBSTRING(").unwrap();
    p.flush().unwrap();
    p.exp_string("-- SUBSTRING(VARCHAR, INT) ").unwrap();
    p.exp_string("SUBSTRING(VARCHAR, INT, INT) ").unwrap();
    clear(p);
    // Property names after SET.
    tab(p, "SET 'auto.off", "auto.offset.reset");
    clear(p);
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}

const CREATE: &str = "CREATE STREAM clicks (user_id STRING KEY, page STRING) WITH (kafka_topic='clicks', partitions=1, value_format='JSON');";
const CTAS: &str =
    "CREATE TABLE clicks_per_user AS SELECT user_id, COUNT(*) AS n FROM clicks GROUP BY user_id;";

#[test]
fn the_embedded_shell_completes_from_its_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let mut p = shell(&["--data-dir", data.to_str().unwrap()]);
    run(&mut p, CREATE, "Stream created");
    run(&mut p, CTAS, "Created query with ID CTAS_CLICKS_PER_USER_0");
    complete_and_explain(&mut p);
}

#[test]
fn the_shell_on_a_server_completes_from_the_servers_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start(&dir.path().join("d"));
    // Made over HTTP before the shell starts: the shell learns of them from the server.
    for statement in [CREATE, CTAS] {
        let (status, body) = common::http::ksql(&server.addr, statement);
        assert_eq!(status, 200, "{body}");
    }
    let url = format!("http://{}", server.addr);
    let mut p = shell(&["--server", &url]);
    complete_and_explain(&mut p);
}

/// A bounded `brooklet run` on a terminal shows a line per loading connector and catching-up
/// query, with records/s and the time left; piped, it shows none.
#[test]
fn a_run_on_a_terminal_shows_progress_and_a_piped_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("load.sql");
    // 20,000 bids at 5,000 a second: a four-second load.
    std::fs::write(
        &file,
        "SET 'auto.offset.reset' = 'earliest';
CREATE SOURCE CONNECTOR gen WITH ('connector.class' = 'Nexmark', 'bids' = '20000', 'throttle' = '5000');
CREATE STREAM bid (auction BIGINT, price BIGINT) WITH (KAFKA_TOPIC = 'bid', VALUE_FORMAT = 'JSON');
CREATE STREAM pricey AS SELECT auction, price FROM bid WHERE price > 100;
",
    )
    .unwrap();
    let data = dir.path().join("d");
    let args = [
        "--data-dir",
        data.to_str().unwrap(),
        "run",
        file.to_str().unwrap(),
    ];
    let mut cmd = Command::new(common::bin());
    cmd.args(args).env("TERM", "xterm");
    let mut p = spawn_command(cmd, Some(60_000)).unwrap();
    p.exp_regex(r"connector GEN loading: [0-9.]+%").unwrap();
    p.exp_regex(r"loading: [0-9.]+%, about [0-9]+ s left")
        .unwrap();
    p.exp_eof().unwrap();

    let piped = dir.path().join("d2");
    let (ok, _, err) = common::shell(
        &[
            "--data-dir",
            piped.to_str().unwrap(),
            "run",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(ok, "{err}");
    assert!(!err.contains("loading:"), "{err}");
}
