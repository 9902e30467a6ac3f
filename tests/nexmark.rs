//! The built-in Nexmark generator writes exactly what ../shared/bench/gen_nexmark.py writes for
//! the same seed and parameters, and its connector fills the three topics.

mod common;

use brooklet::connect::nexmark::{events_for_bids, Generator, Params, Stream};
use std::process::Command;

fn shared_generator() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen_nexmark.py")
}

#[test]
fn generator_matches_gen_nexmark_py_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let bids = 56_000; // more than one 50,000-event chunk
    let status = Command::new("python3")
        .arg(shared_generator())
        .args([
            "--bids",
            &bids.to_string(),
            "--seed",
            "7",
            "--jobs",
            "1",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("python3 runs the shared generator");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let mut g = Generator::new(
        Params {
            seed: 7,
            rate: 10_000,
            ooo_prob: 0.1,
            ooo_max_ms: 500,
            events: events_for_bids(bids),
        },
        0,
    );
    let mut ours = [String::new(), String::new(), String::new()];
    let mut line = String::new();
    while let Some(s) = g.event(&mut line) {
        ours[s as usize].push_str(&line);
        ours[s as usize].push('\n');
        line.clear();
    }
    for (s, name) in [
        (Stream::Person, "person"),
        (Stream::Auction, "auction"),
        (Stream::Bid, "bid"),
    ] {
        let theirs = std::fs::read_to_string(dir.path().join(format!("{name}.jsonl"))).unwrap();
        let mine = &ours[s as usize];
        assert_eq!(mine.lines().count(), theirs.lines().count(), "{name} count");
        for (i, (a, b)) in mine.lines().zip(theirs.lines()).enumerate() {
            assert_eq!(a, b, "{name} line {i}");
        }
    }
}

#[test]
fn the_nexmark_connector_fills_its_topics() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sql =
        "CREATE SOURCE CONNECTOR gen WITH ('connector.class'='Nexmark', 'bids'='4600', 'seed'='1');
SET 'auto.offset.reset'='earliest';
CREATE STREAM bid (auction BIGINT, price BIGINT, date_time BIGINT)
  WITH (KAFKA_TOPIC='bid', VALUE_FORMAT='JSON', TIMESTAMP='date_time');
CREATE TABLE per_auction AS SELECT auction, COUNT(*) AS n FROM bid GROUP BY auction;";
    let (ok, _, err) = common::run_file(&data, sql);
    assert!(ok, "{err}");
    let stat = |topic: &str| {
        let out = Command::new(common::bin())
            .args(["--data-dir", data.to_str().unwrap(), "topic-stats", topic])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["records"].as_u64().unwrap()
    };
    assert_eq!(
        (stat("person"), stat("auction"), stat("bid")),
        (100, 300, 4600)
    );
    assert_eq!(stat("PER_AUCTION"), 4600);
    // SHOW CONNECTORS tells how far a source is (here, after a restart, all of it or nearly).
    let (ok, lines, err) = common::run_file(&data, "SHOW CONNECTORS;");
    assert!(ok, "{err}");
    let gen = &lines[0]["connectors"][0];
    assert_eq!(gen["name"], "GEN");
    let progress = gen["progress"].as_str().unwrap();
    let pct: u32 = progress.trim_end_matches('%').parse().unwrap();
    assert!(progress.ends_with('%') && pct <= 100, "{gen}");
}
