//! ksqlDB's Python client (`ksql-python-ng`) against `brooklet server`: the black-box probe in
//! `../shared/clients` must pass over HTTP/1.1 and over cleartext HTTP/2.
//!
//! The client lives in a virtual environment: `BROOKLET_PROBE_PYTHON` names its interpreter
//! (`.ci/run` installs it and sets this); otherwise the test uses, and creates when missing,
//! one under the system's temporary directory.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/clients")
}

fn has_client(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import ksql, httpx"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The interpreter of a virtual environment holding the client.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("BROOKLET_PROBE_PYTHON") {
        let p = PathBuf::from(p);
        assert!(has_client(&p), "{} cannot import ksql", p.display());
        return p;
    }
    let venv = std::env::temp_dir().join("brooklet-probe-venv");
    let python = venv.join("bin/python");
    if !has_client(&python) {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "-r"])
                .arg(clients_dir().join("requirements.txt"))
                .status()
                .is_ok_and(|s| s.success());
        assert!(ok, "cannot install ksql-python-ng into {}", venv.display());
    }
    python
}

/// A server on a free port of a fresh data directory, and its URL.
fn server(dir: &Path) -> (std::process::Child, String) {
    let mut server = Command::new(common::bin())
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(["server", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://"), "{line}");
    (server, url)
}

#[test]
fn the_python_client_probe_passes_over_http1_and_http2() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = server(dir.path());
    let mut failures = Vec::new();
    for extra in [None, Some("--http2")] {
        let out = Command::new(&python)
            .arg(clients_dir().join("ksql_client_probe.py"))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // Every check ran and none failed (the summary line is the probe's own).
        if !out.status.success() || !text.contains(" 0 failed") || text.contains("[FAIL]") {
            failures.push(format!(
                "probe {extra:?}:\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        assert!(text.contains("[PASS] POST /query pull query"), "{text}");
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The client's helpers read the source descriptions: `ksql.utils.drop_all_streams` finds the
/// queries that read and write each stream (`readQueries[].id`, `writeQueries[].id`),
/// terminates them and drops the streams.
#[test]
fn the_python_clients_utils_drop_streams_with_their_queries() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = server(dir.path());
    let script = r#"
import sys
from ksql import KSQLAPI, utils
client = KSQLAPI(sys.argv[1])
client.ksql("CREATE STREAM p_orders (id INT KEY, amount DOUBLE) WITH (KAFKA_TOPIC='p_orders', PARTITIONS=1, VALUE_FORMAT='JSON');")
client.ksql("CREATE STREAM p_big AS SELECT * FROM p_orders WHERE amount > 10;")
reads, writes = utils.get_dependent_queries(client, "P_BIG")
assert reads == [] and writes == ["CSAS_P_BIG_0"], (reads, writes)
reads, writes = utils.get_dependent_queries(client, "P_ORDERS")
assert reads == ["CSAS_P_BIG_0"] and writes == [], (reads, writes)
utils.drop_all_streams(client, prefix="p_")
assert utils.get_all_streams(client, prefix="p_") == [], utils.get_all_streams(client)
assert client.ksql("SHOW QUERIES;")[0]["queries"] == []
print("dropped")
"#;
    let out = Command::new(&python)
        .args(["-c", script, &url])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("dropped"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
