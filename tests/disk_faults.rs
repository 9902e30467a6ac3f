//! Faults the disk really produces: a bit flipped in the middle of a segment, a full disk while
//! a query appends, a read-only data directory, a failed fsync. The full and read-only disks are
//! real: a small tmpfs mounted for the test (this needs root, as CI has; without it the tests
//! fail and say so, they are not skipped).

mod common;

use brooklet::log::{EmbeddedLog, FsyncPolicy, Log, Record};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn write_input(data: &Path, n: usize) {
    let log = EmbeddedLog::open(data, FsyncPolicy::Never).unwrap();
    log.create_topic("input", 1).unwrap();
    let recs: Vec<Record> = (0..n)
        .map(|i| Record {
            key: Some(format!("k{}", i % 10).into_bytes()),
            value: Some(format!(r#"{{"N": {i}, "PAD": "{}"}}"#, "p".repeat(40)).into_bytes()),
            timestamp: i as i64,
            ..Default::default()
        })
        .collect();
    // One batch frame per 100 records.
    for chunk in recs.chunks(100) {
        log.append("input", 0, chunk).unwrap();
    }
}

const QUERY: &str = "SET 'auto.offset.reset'='earliest';
CREATE STREAM input (k STRING KEY, n BIGINT, pad STRING) WITH (KAFKA_TOPIC='input', VALUE_FORMAT='JSON');
CREATE STREAM output AS SELECT k, n, pad FROM input;
";

/// The N of every record of OUTPUT, in order.
fn output_ns(data: &Path) -> Vec<u64> {
    let log = EmbeddedLog::open(data, FsyncPolicy::Never).unwrap();
    log.read("OUTPUT", 0, 0, usize::MAX)
        .unwrap()
        .iter()
        .map(|r| {
            let v: serde_json::Value =
                serde_json::from_slice(r.record.value.as_ref().unwrap()).unwrap();
            v["N"].as_u64().unwrap()
        })
        .collect()
}

#[test]
fn a_bit_flipped_mid_segment_skips_its_batch_with_a_processing_log_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_input(&data, 5000);
    let seg = data.join("topics/input/0").join(format!("{:020}.log", 0));
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes
        .windows(12)
        .position(|w| w == br#"{"N": 2500, "#)
        .unwrap();
    bytes[at + 7] ^= 0x01; // "2500" becomes "2400": only the checksum can tell
    std::fs::write(&seg, bytes).unwrap();

    let (ok, _, err) = common::run_file(&data, QUERY);
    assert!(ok, "{err}");
    let ns = output_ns(&data);
    // The batch of records 2500..2600 fails its checksum; every other record comes through.
    assert_eq!(
        ns,
        (0..5000)
            .filter(|n| !(2500..2600).contains(n))
            .collect::<Vec<u64>>()
    );
    assert!(err.contains("offsets 2500..2600"), "not reported: {err}");
    let log = EmbeddedLog::open(&data, FsyncPolicy::Never).unwrap();
    let entries = log
        .read(brooklet::exec::processing_log::TOPIC, 0, 0, 100)
        .unwrap();
    let texts: Vec<String> = entries
        .iter()
        .map(|r| String::from_utf8_lossy(r.record.value.as_deref().unwrap()).into_owned())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("records 2500..2600 of input partition 0 failed their checksum")),
        "{texts:?}"
    );
}

/// A tmpfs of `mb` MiB mounted at `dir/mnt`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, mb: u32) -> Tmpfs {
        let mnt = dir.join("mnt");
        std::fs::create_dir_all(&mnt).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(&mnt)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "this test mounts a tmpfs to fill a real disk: run it as root"
        );
        Tmpfs(mnt)
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `path` up to `leave` bytes free; the filler file.
fn fill(path: &Path, leave: u64) -> PathBuf {
    use std::io::Write;
    let filler = path.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    drop(f);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap();
    f.set_len(written.saturating_sub(leave)).unwrap();
    filler
}

fn committed(data: &Path, query: &str) -> u64 {
    let hex: String = brooklet::exec::persistent::consumer_group(query)
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::read_to_string(data.join("groups").join(hex))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("input "))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_full_disk_pauses_the_query_which_resumes_losing_nothing() {
    const N: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(dir.path(), 8);
    let data = fs.0.join("data");
    write_input(&data, N);
    let filler = fill(&fs.0, 256 * 1024);
    let file = dir.path().join("query.sql");
    std::fs::write(&file, QUERY).unwrap();
    let log_file = dir.path().join("stderr");
    let mut child = Command::new(common::bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["--fsync", "always", "run", "--follow"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_file).unwrap())
        .spawn()
        .unwrap();
    let stderr = || std::fs::read_to_string(&log_file).unwrap_or_default();
    wait_for("the query to pause", Duration::from_secs(60), || {
        stderr().contains("paused")
    });
    let stalled = committed(&data, "CSAS_OUTPUT_0");
    assert!(stalled < N as u64, "the disk never filled up");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        committed(&data, "CSAS_OUTPUT_0"),
        stalled,
        "went on without room"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process stopped: {}",
        stderr()
    );
    std::fs::remove_file(filler).unwrap();
    wait_for("the query to resume", Duration::from_secs(60), || {
        committed(&data, "CSAS_OUTPUT_0") == N as u64
    });
    assert!(stderr().contains("resuming"), "{}", stderr());
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(output_ns(&data), (0..N as u64).collect::<Vec<u64>>());
}

#[test]
fn a_read_only_data_directory_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(dir.path(), 4);
    let data = fs.0.join("data");
    write_input(&data, 10);
    fs.remount("ro");
    let file = dir.path().join("show.sql");
    std::fs::write(&file, "SHOW STREAMS;").unwrap();
    let out = Command::new(common::bin())
        .arg("--data-dir")
        .arg(&data)
        .arg("run")
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("is not writable") && err.contains("Read-only file system"),
        "{err}"
    );
}

#[test]
fn a_failed_fsync_stops_the_process_instead_of_going_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("inserts.sql");
    let inserts: String = (0..50)
        .map(|i| format!("INSERT INTO s (k, v) VALUES ({i}, {i});\n"))
        .collect();
    std::fs::write(
        &file,
        format!("CREATE STREAM s (k INT KEY, v INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');\n{inserts}"),
    )
    .unwrap();
    let out = Command::new(common::bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["--fsync", "always", "run"])
        .arg(&file)
        .env("BROOKLET_FAULT_FSYNC_AFTER", "20")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(70), "{err}");
    assert!(err.contains("fsync of") && err.contains("failed"), "{err}");
    // What was appended before is there after a restart; the run stopped at the failure.
    let log = EmbeddedLog::open(&data, FsyncPolicy::Never).unwrap();
    let written = log.end_offset("s", 0).unwrap();
    assert!(written > 0 && written < 50, "{written} records");
}
