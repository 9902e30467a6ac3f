//! Helpers for end-to-end tests that drive the `brooklet` binary.
#![allow(dead_code)]

pub mod http;
pub mod kafka;
pub mod webdriver;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_brooklet")
}

/// Runs `sql` as a file with `brooklet run --output json`; returns (success, JSON lines, stderr).
pub fn run_file(data_dir: &Path, sql: &str) -> (bool, Vec<serde_json::Value>, String) {
    let file = data_dir.with_extension("sql");
    std::fs::write(&file, sql).unwrap();
    let out = Command::new(bin())
        .args([
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--output",
            "json",
            "run",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    parse_output(out)
}

/// Runs `sql` as a file that must fail; what it said (standard error and output lines).
pub fn run_file_refused(data_dir: &Path, sql: &str) -> String {
    let (ok, lines, err) = run_file(data_dir, sql);
    assert!(!ok, "accepted: {sql}");
    format!("{err}{lines:?}")
}

pub fn parse_output(out: Output) -> (bool, Vec<serde_json::Value>, String) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    (
        out.status.success(),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `columns` of every row line.
pub fn rows(lines: &[serde_json::Value]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .filter_map(|l| l.get("row").map(|r| r["columns"].clone()))
        .collect()
}

/// Runs the interactive shell with `input` on stdin.
pub fn repl(data_dir: &Path, input: &str) -> (bool, String, String) {
    shell(&["--data-dir", data_dir.to_str().unwrap()], input)
}

/// Runs the binary with `args` and `input` on stdin: (success, stdout, stderr).
pub fn shell(args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Copies a data directory (a test's stand-in for a second machine).
#[allow(dead_code)]
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
