//! The short version of the crash trials (`bench/crash_trials.py`): a few trials of every
//! workload on a small Nexmark input, with the debug binary. Each kills the process at random
//! moments, restarts it, and compares every sink and pull query with an uncrashed run. The
//! long version (100 trials on 1 M bids) runs on demand; see docs/RELIABILITY.md.

mod common;

#[test]
fn crash_trials_match_the_uncrashed_runs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .arg(root.join("bench/crash_trials.py"))
        .args([
            "--bin",
            common::bin(),
            "--bids",
            "20000",
            "--trials",
            "10",
            "--seed",
            "18",
        ])
        .arg("--round-robin")
        .output()
        .expect("python3 runs the crash trials");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("10 trials,") && stdout.contains(" 0 failed"),
        "{stdout}"
    );
    // Every workload ran.
    for w in ["stateless", "windows", "tables", "joins", "inserts"] {
        assert!(
            stdout.contains(&format!(" {w} ")),
            "{w} never ran:\n{stdout}"
        );
    }
}
