//! Pull-query benchmark: key lookups on a table of 1 million keys.
//!
//! `cargo bench --bench pull_lookup [-- KEYS LOOKUPS]` loads KEYS rows (default 1,000,000) into
//! a table's topic in the embedded log (a temporary data directory), materializes the table with
//! a first pull query (timed, with the process's resident memory before and after), then runs
//! LOOKUPS (default 100,000) pull queries `SELECT * FROM users WHERE id = k` for random keys, each
//! from its text to its last row, and prints the median, p99 and max latency.

use brooklet::log::{FsyncPolicy, Record};
use brooklet::{Engine, EngineConfig, Output, Session};
use std::time::Instant;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// xorshift64*: deterministic keys without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

async fn rows(out: Output) -> usize {
    let Output::Push(mut q) = out else {
        panic!("not a query")
    };
    let mut n = 0;
    while let Some(ev) = q.next().await {
        match ev {
            brooklet::exec::push::PushEvent::Rows(b) => n += b.num_rows(),
            brooklet::exec::push::PushEvent::End(_) => break,
            brooklet::exec::push::PushEvent::Error(e) => panic!("{e}"),
        }
    }
    n
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let keys = args.first().copied().unwrap_or(1_000_000);
    let lookups = args.get(1).copied().unwrap_or(100_000) as usize;
    let dir = std::env::temp_dir().join(format!("brooklet-pull-bench-{}", std::process::id()));
    let engine = Engine::open(&dir, FsyncPolicy::Never, EngineConfig::default()).unwrap();
    let mut session = Session::default();
    engine
        .execute(
            "CREATE TABLE users (id BIGINT PRIMARY KEY, name STRING, city STRING, score DOUBLE) \
             WITH (kafka_topic='users', partitions=4, value_format='JSON');",
            &mut session,
        )
        .unwrap();
    let log = engine.log().clone();
    let load = Instant::now();
    let mut batches: Vec<Vec<Record>> = vec![Vec::new(); 4];
    for id in 0..keys {
        let key = (id as i64).to_be_bytes().to_vec();
        let p = brooklet::exec::partition_for(Some(&key), 4, 0) as usize;
        let value = format!(
            r#"{{"NAME":"user-{id}","CITY":"city-{}","SCORE":{}.5}}"#,
            id % 1000,
            id % 97
        );
        batches[p].push(Record {
            key: Some(key),
            value: Some(value.into_bytes()),
            timestamp: id as i64,
            ..Default::default()
        });
        if batches[p].len() == 8192 {
            log.append("users", p as u32, &batches[p]).unwrap();
            batches[p].clear();
        }
    }
    for (p, b) in batches.iter().enumerate() {
        if !b.is_empty() {
            log.append("users", p as u32, b).unwrap();
        }
    }
    println!("loaded {keys} rows into the log in {:.2?}", load.elapsed());

    let before = rss_kb();
    let first = Instant::now();
    let q = engine
        .execute("SELECT * FROM users WHERE id = 0;", &mut session)
        .unwrap();
    assert_eq!(rows(q.into_iter().next().unwrap()).await, 1);
    let after = rss_kb();
    println!(
        "materialized {keys} keys in {:.2?}; resident memory +{} MB, {} bytes per key",
        first.elapsed(),
        (after.saturating_sub(before)) / 1024,
        after.saturating_sub(before) * 1024 / keys.max(1)
    );

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut times = Vec::with_capacity(lookups);
    let all = Instant::now();
    for _ in 0..lookups {
        let k = rng.next() % keys;
        let sql = format!("SELECT * FROM users WHERE id = {k};");
        let t = Instant::now();
        let out = engine.execute(&sql, &mut session).unwrap();
        let n = rows(out.into_iter().next().unwrap()).await;
        times.push(t.elapsed());
        assert_eq!(n, 1, "key {k}");
    }
    let total = all.elapsed();
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "{lookups} key lookups: median {:.1?}, p99 {:.1?}, max {:.1?}; {:.0} lookups/s on one thread",
        pct(0.5),
        pct(0.99),
        times[times.len() - 1],
        lookups as f64 / total.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
