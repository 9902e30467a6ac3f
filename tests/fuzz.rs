//! The short fuzz pass CI runs: for each target of `brooklet::fuzz`, a fixed number of mutations
//! (bit flips, byte changes, insertions of syntax characters, deletions, duplications, splices)
//! of a seed corpus drawn from `grammar-tests/`, ksqlDB's QTT files and hand-written cases, with
//! a fixed seed so that a finding reproduces. The coverage-guided fuzzers (`fuzz/run.sh`) go much
//! further; every input either finds that breaks a target becomes a case of `REGRESSIONS`.
//! Environment: BROOKLET_FUZZ_ITERATIONS multiplies the iterations (default 1).

use brooklet::fuzz;
use std::path::Path;

/// A small, fast, seeded generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to the parsers under test.
const INTERESTING: &[u8] = b"\"'{}[](),:;.\\-+*/%<>=!`|&$\n\t 0123456789eE\x00\xff\xc3";

/// One to four mutations of a corpus item.
fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut data = corpus[rng.below(corpus.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next() as u8;
            }
            2 => {
                let b = INTERESTING[rng.below(INTERESTING.len())];
                data.insert(rng.below(len + 1), b);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(16));
                data.drain(at..at + n);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                let piece = data[at..at + n].to_vec();
                let to = rng.below(len + 1);
                data.splice(to..to, piece);
            }
            5 => {
                let other = &corpus[rng.below(corpus.len())];
                let from = rng.below(other.len() + 1);
                let at = rng.below(len + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            6 if len > 0 => data.truncate(rng.below(len)),
            _ => {
                // A number at its edge.
                let edge = [
                    "-2147483649",
                    "9223372036854775808",
                    "1e309",
                    "-0",
                    "NaN",
                    "0.000",
                ];
                let at = rng.below(len + 1);
                data.splice(at..at, edge[rng.below(edge.len())].bytes());
            }
        }
    }
    data
}

fn iterations(n: usize) -> usize {
    let factor: usize = std::env::var("BROOKLET_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    n * factor
}

/// Runs `target` on the corpus, then on `n` mutations of it.
fn run(name: &str, seed: u64, corpus: &[Vec<u8>], n: usize, mut target: impl FnMut(&[u8])) {
    assert!(!corpus.is_empty(), "{name}: no seed corpus");
    for c in corpus {
        target(c);
    }
    let mut rng = Rng(seed);
    let n = iterations(n);
    for _ in 0..n {
        let input = mutate(&mut rng, corpus);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(&input)));
        assert!(
            result.is_ok(),
            "{name} failed on {:?} (bytes {input:?}): add it to REGRESSIONS",
            String::from_utf8_lossy(&input)
        );
    }
    eprintln!("{name}: {} seeds, {n} mutations", corpus.len());
}

fn shared() -> std::path::PathBuf {
    std::env::var("BROOKLET_QTT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/qtt"))
}

/// Statements of the grammar corpus and of some QTT files.
fn statements() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("grammar-tests");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sql") {
            let text = std::fs::read_to_string(path).unwrap();
            out.extend(text.split("\n-- ").map(|case| {
                case.split_once('\n')
                    .map_or(case, |c| c.1)
                    .as_bytes()
                    .to_vec()
            }));
        }
    }
    out
}

/// Small QTT files, whole.
fn qtt_files() -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(shared())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .filter(|b| b.len() < 20_000)
        .take(8)
        .collect()
}

/// Fixed cases: inputs at the edges of the targets (a segment that is only a frame header
/// claiming a 64 MiB payload, one of zeros, nesting beyond the limits, a window of i64::MAX
/// days). An input a fuzzer finds that breaks a target is added here: (target, input).
const REGRESSIONS: &[(&str, &[u8])] = &[
    ("log_segment", &[0, 0, 0, 4, 0, 0, 0, 0]),
    ("log_segment", &[0; 64]),
    (
        "decode",
        b"\x00[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    ),
    (
        "statement",
        b"SELECT * FROM s WINDOW SESSION (9223372036854775807 DAYS) GROUP BY k;",
    ),
];

#[test]
fn regressions_stay_fixed() {
    let decoders = fuzz::Decoders::new();
    for (target, input) in REGRESSIONS {
        match *target {
            "log_segment" => fuzz::log_segment(input),
            "decode" => decoders.decode(input),
            "statement" => fuzz::statement(input),
            other => panic!("unknown target {other}"),
        }
    }
}

#[test]
fn fuzz_statement_parser() {
    run("statement", 1, &statements(), 100_000, fuzz::statement);
}

#[test]
fn fuzz_decoders() {
    let decoders = fuzz::Decoders::new();
    let values: Vec<&[u8]> = vec![
        br#"{"A": 1, "B": 2, "C": 1.5, "D": "x", "E": true, "F": 12.34, "G": ["a"], "H": {"k": 1}, "I": {"X": 1, "Y": [1.0]}, "J": 1700000000000, "K": 19000, "L": 3600000, "M": "AAE="}"#,
        b"1,2,1.5,x,true,12.34,,,,1700000000000,19000,3600000,AAE=",
        b"1|2|1.5|x|true|12.34||||2023-01-01T00:00:00.000|2023-01-01|10:00:00|AAE=",
        br#"[1, 2, null]"#,
        br#"{"a": 1, "A": null, "G": [null, "\u00e9"], "H": {"": -1}}"#,
    ];
    assert_eq!(
        decoders.seeds.len(),
        3,
        "a record of each format with schemas"
    );
    let values: Vec<&[u8]> = values
        .into_iter()
        .chain(decoders.seeds.iter().map(Vec::as_slice))
        .collect();
    let corpus: Vec<Vec<u8>> = values
        .iter()
        .flat_map(|v| {
            [0u8, 1, 4].map(|k| {
                let mut out = vec![k];
                out.extend_from_slice(&b"\x00\x00\x00\x07"[..k as usize]);
                out.extend_from_slice(v);
                out
            })
        })
        .collect();
    run("decode", 2, &corpus, 20_000, |d| decoders.decode(d));
}

#[test]
fn fuzz_log_segments() {
    use brooklet::log::{EmbeddedLog, FsyncPolicy, Log, Record};
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), FsyncPolicy::Never).unwrap();
    log.create_topic("t", 1).unwrap();
    // Batches of several records, some with origins, some with one record.
    let records: Vec<Record> = (0..20)
        .map(|i| Record {
            key: (i % 3 != 0).then(|| format!("k{i}").into_bytes()),
            value: (i % 5 != 0).then(|| vec![b'v'; i * 7]),
            timestamp: i as i64,
            headers: vec![brooklet::log::Header {
                key: "h".into(),
                value: Some(vec![i as u8]),
            }],
            origin: (i >= 12).then_some(brooklet::log::Origin {
                producer: 5,
                partition: 0,
                offset: i as u64,
            }),
        })
        .collect();
    for chunk in records.chunks(6) {
        log.append("t", 0, chunk).unwrap();
    }
    let segment =
        std::fs::read(dir.path().join("topics/t/0").join(format!("{:020}.log", 0))).unwrap();
    run("log_segment", 3, &[segment], 4_000, fuzz::log_segment);
}

#[test]
fn fuzz_qtt_loader() {
    run("qtt", 4, &qtt_files(), 2_000, fuzz::qtt);
}

#[test]
fn fuzz_http_bodies() {
    let http = fuzz::Http::new();
    let bodies: Vec<&[u8]> = vec![
        br#"{"ksql": "SHOW STREAMS; DESCRIBE s;", "streamsProperties": {}}"#,
        br#"{"ksql": "SELECT * FROM t WHERE k = 1;", "streamsProperties": {"auto.offset.reset": "earliest"}}"#,
        br#"{"sql": "SELECT * FROM s EMIT CHANGES LIMIT 1;", "properties": {}}"#,
        b"{\"target\": \"S\"}\n{\"K\": 1, \"V\": \"x\"}\n{\"K\": 2}\n",
        br#"{"queryId": "none"}"#,
        br#"{"deleteTopicList": ["nothing.*"]}"#,
    ];
    let corpus: Vec<Vec<u8>> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut out = vec![[0u8, 1, 2, 3, 4, 5][i]];
            out.extend_from_slice(b);
            out
        })
        .collect();
    run("http", 5, &corpus, 2_000, |d| http.request(d));
}
