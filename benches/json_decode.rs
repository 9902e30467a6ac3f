//! JSON decoding benchmark: the fast path (`format::json_fast::decode`, the scanner with serde
//! behind it) over the lines of a file, in batches of 8,192, as a query decodes its input.
//!
//! `cargo bench --bench json_decode -- FILE [LINES]` reads the first LINES lines (default
//! 1,000,000) of FILE (e.g. gen_nexmark.py's `bid.jsonl`), decodes them as the bid stream's seven
//! columns (all read, then only q1's five) and prints records/s and MB/s of each, best of 3.

use brooklet::catalog::types::SqlType;
use brooklet::format::json_fast::decode;
use std::io::BufRead;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(path) = args.first() else {
        eprintln!("usage: cargo bench --bench json_decode -- FILE [LINES]");
        return;
    };
    let max: usize = args
        .get(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("cannot open the file"));
    let lines: Vec<Vec<u8>> = file
        .split(b'\n')
        .take(max)
        .map(|l| l.expect("cannot read the file"))
        .collect();
    let bytes: usize = lines.iter().map(Vec::len).sum();
    let (big, text) = (SqlType::Bigint, SqlType::String);
    let cols = [
        ("AUCTION", &big),
        ("BIDDER", &big),
        ("PRICE", &big),
        ("CHANNEL", &text),
        ("URL", &text),
        ("DATE_TIME", &big),
        ("EXTRA", &text),
    ];
    for (what, needed) in [
        ("all 7 columns", [true; 7]),
        (
            "q1's 5 columns",
            [true, true, true, false, false, true, true],
        ),
    ] {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            for chunk in lines.chunks(8192) {
                let values = chunk.iter().map(|l| Some(l.as_slice()));
                let arrays = decode(values, chunk.len(), &cols, &needed);
                assert!(arrays.is_some(), "a batch left the fast path");
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        println!(
            "{what}: {} records in {best:.3} s: {:.2} M records/s, {:.0} MB/s",
            lines.len(),
            lines.len() as f64 / best / 1e6,
            bytes as f64 / best / 1e6
        );
    }
}
