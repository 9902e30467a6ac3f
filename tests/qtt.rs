//! The QTT conformance ratchets: every case listed in `tests/qtt-passing.txt` (ksqlDB's QTT
//! files in `../shared/qtt`) and in `tests/rest-qtt-passing.txt` (its REST files in
//! `../shared/rest-qtt`, run against an in-process server) must pass. Cases that pass but are
//! not listed yet are reported so the lists can grow; they never shrink.

use brooklet::qtt::{self, Status};
use std::path::PathBuf;
use std::time::Duration;

fn shared_dir(var: &str, name: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared")
            .join(name),
    }
}

/// Runs every case of `dir` and fails if a case of `list` (the ratchet file's text) does not
/// pass.
fn ratchet(dir: PathBuf, list: &str, list_name: &str, at_least: usize) {
    assert!(
        dir.is_dir(),
        "the QTT directory {} is missing",
        dir.display()
    );
    let listed: Vec<String> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    assert!(
        listed.len() >= at_least,
        "the ratchet list {list_name} is unexpectedly short"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let results = rt
        .block_on(qtt::run_paths(&[dir], None, Duration::from_secs(30)))
        .unwrap();
    let mut broken = Vec::new();
    for name in &listed {
        match results.iter().find(|r| r.name.trim() == name) {
            None => broken.push(format!("{name}: no such case")),
            Some(r) if r.status != Status::Pass => broken.push(format!("{name}: {:?}", r.status)),
            Some(_) => {}
        }
    }
    let newly: Vec<&str> = results
        .iter()
        .filter(|r| r.status == Status::Pass && !listed.iter().any(|l| l == r.name.trim()))
        .map(|r| r.name.as_str())
        .collect();
    if !newly.is_empty() {
        eprintln!(
            "{} cases pass that {list_name} does not list yet:",
            newly.len()
        );
        for n in &newly {
            eprintln!("  {n}");
        }
    }
    eprintln!("{list_name}: {}", qtt::summary(&results));
    assert!(
        broken.is_empty(),
        "{} listed cases of {list_name} no longer pass:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[test]
fn listed_qtt_cases_pass() {
    ratchet(
        shared_dir("BROOKLET_QTT_DIR", "qtt"),
        include_str!("qtt-passing.txt"),
        "tests/qtt-passing.txt",
        1835,
    );
}

#[test]
fn listed_rest_qtt_cases_pass() {
    ratchet(
        shared_dir("BROOKLET_REST_QTT_DIR", "rest-qtt"),
        include_str!("rest-qtt-passing.txt"),
        "tests/rest-qtt-passing.txt",
        148,
    );
}
