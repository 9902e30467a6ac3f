//! The QTT conformance ratchet: every case listed in `tests/qtt-passing.txt` must pass.
//! Cases that pass but are not listed yet are reported so the list can grow; it never shrinks.

use brooklet::qtt::{self, Status};
use std::path::PathBuf;
use std::time::Duration;

fn qtt_dir() -> PathBuf {
    match std::env::var_os("BROOKLET_QTT_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/qtt"),
    }
}

#[test]
fn listed_qtt_cases_pass() {
    let dir = qtt_dir();
    assert!(
        dir.is_dir(),
        "the QTT directory {} is missing (set BROOKLET_QTT_DIR)",
        dir.display()
    );
    let listed: Vec<String> = include_str!("qtt-passing.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    assert!(listed.len() > 250, "the ratchet list is unexpectedly short");
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
            "{} cases pass that tests/qtt-passing.txt does not list yet:",
            newly.len()
        );
        for n in &newly {
            eprintln!("  {n}");
        }
    }
    eprintln!("QTT: {}", qtt::summary(&results));
    assert!(
        broken.is_empty(),
        "{} listed QTT cases no longer pass:\n{}",
        broken.len(),
        broken.join("\n")
    );
}
