//! [`EmbeddedLog`]: the default [`Log`], on disk under a data directory or in memory.

use super::frame;
use super::group_commit::{Durable, GroupCommit, Syncable};
use super::partition::Partition;
use super::{BatchBuilder, Fetch, GroupOffsets, Log, LogError, LogResult, TopicInfo};
use hashbrown::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// When appended data is forced to disk. A process crash never loses written data (the page
/// cache survives it); fsync protects against power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    Always,
    Interval(Duration),
    Never,
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Ok(FsyncPolicy::Always),
            "never" => Ok(FsyncPolicy::Never),
            other => other
                .strip_suffix("ms")
                .and_then(|n| n.parse().ok())
                .map(|ms| FsyncPolicy::Interval(Duration::from_millis(ms)))
                .ok_or_else(|| format!("fsync policy must be always, never or <n>ms, not '{s}'")),
        }
    }
}

struct PartitionSlot {
    data: RwLock<Partition>,
    notify: watch::Sender<u64>,
    durable: Durable,
}

impl Syncable for PartitionSlot {
    fn sync_now(&self) {
        if !self.durable.take_dirty() {
            return;
        }
        let (handles, end) = {
            let data = self.data.read().unwrap_or_else(|e| e.into_inner());
            (data.sync_handles(), data.next_offset())
        };
        match handles {
            Ok(handles) => {
                for (file, path) in handles {
                    super::durability::fsync(&file, &path);
                }
                self.durable.synced_to(end);
            }
            Err(e) => {
                tracing::error!("log: cannot open a segment to sync it: {e}");
                self.durable.mark_dirty();
            }
        }
    }
}

struct Topic {
    partitions: Vec<Arc<PartitionSlot>>,
}

/// The embedded log. Topic metadata lives in `<dir>/topics/<name>/meta`, partitions in
/// `<dir>/topics/<name>/<p>/`, consumer group offsets in `<dir>/groups/<group>`.
/// The size at which a segment rolls over unless `brooklet.log.segment.bytes` says otherwise.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;

pub struct EmbeddedLog {
    dir: Option<PathBuf>,
    fsync: FsyncPolicy,
    segment_bytes: u64,
    topics: RwLock<HashMap<String, Topic>>,
    groups: Mutex<HashMap<String, GroupOffsets>>,
    /// Syncs partitions in the background under `FsyncPolicy::Interval`.
    group_commit: Option<Arc<GroupCommit>>,
}

fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl EmbeddedLog {
    /// A partition's slot, given to the group commit if there is one.
    fn slot(&self, p: Partition) -> Arc<PartitionSlot> {
        let (notify, _) = watch::channel(p.next_offset());
        let durable = Durable::default();
        durable.synced_to(p.next_offset());
        let slot = Arc::new(PartitionSlot {
            data: RwLock::new(p),
            notify,
            durable,
        });
        if let Some(gc) = &self.group_commit {
            let member: Arc<dyn Syncable> = slot.clone();
            gc.add(Arc::downgrade(&member));
        }
        slot
    }

    /// A log that lives only in memory (tests, QTT).
    pub fn in_memory() -> Self {
        EmbeddedLog {
            dir: None,
            fsync: FsyncPolicy::Never,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            topics: RwLock::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
            group_commit: None,
        }
    }

    /// Opens the log under `dir`, recovering every partition.
    pub fn open(dir: &Path, fsync: FsyncPolicy) -> LogResult<Self> {
        Self::open_with(dir, fsync, DEFAULT_SEGMENT_BYTES)
    }

    /// [`open`](Self::open), rolling segments over at `segment_bytes`.
    pub fn open_with(dir: &Path, fsync: FsyncPolicy, segment_bytes: u64) -> LogResult<Self> {
        let log = EmbeddedLog {
            dir: Some(dir.to_path_buf()),
            fsync,
            segment_bytes: segment_bytes.max(1),
            topics: RwLock::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
            group_commit: match fsync {
                FsyncPolicy::Interval(d) => Some(GroupCommit::start(d)),
                _ => None,
            },
        };
        check_writable(dir)?;
        check_format(dir)?;
        let topics_dir = dir.join("topics");
        std::fs::create_dir_all(&topics_dir)?;
        std::fs::create_dir_all(dir.join("groups"))?;
        let mut topics = HashMap::new();
        for entry in std::fs::read_dir(&topics_dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let Ok(meta) = std::fs::read_to_string(entry.path().join("meta")) else {
                continue;
            };
            let Ok(count) = meta.trim().parse::<u32>() else {
                continue;
            };
            let mut partitions = Vec::new();
            for p in 0..count {
                partitions.push(log.slot(Partition::open(
                    &entry.path().join(p.to_string()),
                    log.segment_bytes,
                )?));
            }
            topics.insert(name, Topic { partitions });
        }
        *log.topics.write().unwrap_or_else(|e| e.into_inner()) = topics;
        let mut groups = HashMap::new();
        for entry in std::fs::read_dir(dir.join("groups"))? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.ends_with(".tmp") {
                continue;
            }
            let text = std::fs::read_to_string(entry.path())?;
            let offsets = text
                .lines()
                .filter_map(|l| {
                    let mut it = l.rsplitn(3, ' ');
                    let off = it.next()?.parse().ok()?;
                    let part = it.next()?.parse().ok()?;
                    Some((it.next()?.to_string(), part, off))
                })
                .collect();
            groups.insert(decode_group(&name), offsets);
        }
        *log.groups.lock().unwrap_or_else(|e| e.into_inner()) = groups;
        Ok(log)
    }

    /// The offset before which a partition's records are known to be on disk (forced by
    /// `--fsync always` at each append, by the group commit under `--fsync <n>ms`).
    pub fn synced_offset(&self, topic: &str, partition: u32) -> LogResult<u64> {
        Ok(self.partition(topic, partition)?.durable.synced())
    }

    /// The offset ranges of a partition found damaged on disk so far (see `log::damage`).
    pub fn damaged(&self, topic: &str, partition: u32) -> LogResult<Vec<(u64, u64)>> {
        let slot = self.partition(topic, partition)?;
        let data = slot.data.read().unwrap_or_else(|e| e.into_inner());
        Ok(data.damaged())
    }

    fn partition(&self, topic: &str, partition: u32) -> LogResult<Arc<PartitionSlot>> {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        let t = topics
            .get(topic)
            .ok_or_else(|| LogError::UnknownTopic(topic.to_string()))?;
        t.partitions
            .get(partition as usize)
            .cloned()
            .ok_or_else(|| LogError::UnknownPartition(topic.to_string(), partition))
    }
}

fn encode_group(g: &str) -> String {
    g.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_group(s: &str) -> String {
    let bytes: Vec<u8> = (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Refuses a data directory the process cannot write (read-only, full of inodes, not ours)
/// at once, with what is wrong, rather than at the first append.
fn check_writable(dir: &Path) -> LogResult<()> {
    let probe = dir.join(".brooklet-write-check");
    let result = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b"ok"))
        .and_then(|()| std::fs::remove_file(&probe));
    result.map_err(|e| {
        LogError::Io(std::io::Error::new(
            e.kind(),
            format!("the data directory {} is not writable: {e}", dir.display()),
        ))
    })
}

/// Where a data directory records the log format it holds.
const FORMAT_FILE: &str = "FORMAT";

/// Refuses a data directory written in another log format (a clear message, never a misread
/// record); marks a new one with this format.
fn check_format(dir: &Path) -> LogResult<()> {
    let path = dir.join(FORMAT_FILE);
    let found = match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .strip_prefix("brooklet-log ")
            .and_then(|v| v.parse::<u32>().ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !holds_records(&dir.join("topics")) {
                let marker = format!("brooklet-log {}\n", frame::FORMAT_VERSION);
                write_atomically(&path, marker.as_bytes(), true)?;
                return Ok(());
            }
            Some(1)
        }
        Err(e) => return Err(e.into()),
    };
    if found == Some(frame::FORMAT_VERSION) {
        return Ok(());
    }
    let what = found.map_or_else(
        || "an unknown log format".to_string(),
        |v| format!("log format {v}"),
    );
    Err(LogError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "the data directory {} holds {what}; this Brooklet reads log format {} (one frame \
             per batch of records). Start it with a new --data-dir, or read this one with the \
             Brooklet that wrote it (`brooklet topic-dump`) and load the records again",
            dir.display(),
            frame::FORMAT_VERSION
        ),
    )))
}

/// Whether any partition under `topics` holds a non-empty segment.
fn holds_records(topics: &Path) -> bool {
    let entries = |dir: &Path| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
    };
    entries(topics)
        .flat_map(|topic| entries(&topic).collect::<Vec<_>>())
        .flat_map(|part| entries(&part).collect::<Vec<_>>())
        .any(|seg| {
            seg.extension().is_some_and(|e| e == "log") && seg.metadata().is_ok_and(|m| m.len() > 0)
        })
}

/// Replaces a file so that a crash leaves the old or the new contents (the rename is atomic);
/// with `durable`, the new contents are on disk before the rename.
fn write_atomically(path: &Path, contents: &[u8], durable: bool) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents)?;
    if durable {
        super::durability::fsync(&std::fs::File::open(&tmp)?, &tmp);
    }
    std::fs::rename(&tmp, path)?;
    if durable {
        if let Some(dir) = path.parent() {
            super::durability::fsync_path(dir);
        }
    }
    Ok(())
}

impl Log for EmbeddedLog {
    fn create_topic(&self, name: &str, partitions: u32) -> LogResult<()> {
        if !valid_topic_name(name) {
            return Err(LogError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("Invalid topic name '{name}': use letters, digits, '.', '_' and '-'"),
            )));
        }
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        if topics.contains_key(name) {
            return Err(LogError::TopicExists(name.to_string()));
        }
        let partitions = partitions.max(1);
        let mut slots = Vec::new();
        match &self.dir {
            Some(dir) => {
                let tdir = dir.join("topics").join(name);
                std::fs::create_dir_all(&tdir)?;
                for p in 0..partitions {
                    slots.push(self.slot(Partition::open(
                        &tdir.join(p.to_string()),
                        self.segment_bytes,
                    )?));
                }
                write_atomically(&tdir.join("meta"), partitions.to_string().as_bytes(), true)?;
            }
            None => slots
                .extend((0..partitions).map(|_| self.slot(Partition::memory(self.segment_bytes)))),
        }
        topics.insert(name.to_string(), Topic { partitions: slots });
        Ok(())
    }

    fn delete_topic(&self, name: &str) -> LogResult<()> {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        let t = topics
            .remove(name)
            .ok_or_else(|| LogError::UnknownTopic(name.to_string()))?;
        if let Some(dir) = &self.dir {
            for p in &t.partitions {
                p.data
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .delete_files()?;
            }
            std::fs::remove_dir_all(dir.join("topics").join(name))?;
        }
        Ok(())
    }

    fn topic(&self, name: &str) -> Option<TopicInfo> {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        topics.get(name).map(|t| TopicInfo {
            name: name.to_string(),
            partitions: t.partitions.len() as u32,
        })
    }

    fn topics(&self) -> Vec<TopicInfo> {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = topics
            .iter()
            .map(|(n, t)| TopicInfo {
                name: n.clone(),
                partitions: t.partitions.len() as u32,
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    fn append_batch(
        &self,
        topic: &str,
        partition: u32,
        batch: &mut BatchBuilder,
    ) -> LogResult<u64> {
        let slot = self.partition(topic, partition)?;
        let mut data = slot.data.write().unwrap_or_else(|e| e.into_inner());
        let first = data.append(batch)?;
        let end = data.next_offset();
        match self.fsync {
            FsyncPolicy::Always => {
                data.sync()?;
                slot.durable.synced_to(end);
            }
            // The group commit syncs it (never the appender: `group_commit`).
            FsyncPolicy::Interval(_) => slot.durable.mark_dirty(),
            FsyncPolicy::Never => {}
        }
        drop(data);
        slot.notify.send_replace(end);
        Ok(first)
    }

    fn set_retention_bytes(&self, topic: &str, bytes: u64) -> LogResult<()> {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        let t = topics
            .get(topic)
            .ok_or_else(|| LogError::UnknownTopic(topic.to_string()))?;
        for slot in &t.partitions {
            let mut data = slot.data.write().unwrap_or_else(|e| e.into_inner());
            data.set_retention_bytes(bytes);
            data.enforce_retention()?;
        }
        Ok(())
    }

    fn start_offset(&self, topic: &str, partition: u32) -> LogResult<u64> {
        let slot = self.partition(topic, partition)?;
        let data = slot.data.read().unwrap_or_else(|e| e.into_inner());
        Ok(data.start_offset())
    }

    fn fetch(&self, topic: &str, partition: u32, offset: u64, max: usize) -> LogResult<Fetch> {
        let slot = self.partition(topic, partition)?;
        let data = slot.data.read().unwrap_or_else(|e| e.into_inner());
        data.fetch(partition, offset, max)
    }

    fn end_offset(&self, topic: &str, partition: u32) -> LogResult<u64> {
        let slot = self.partition(topic, partition)?;
        let end = slot
            .data
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .next_offset();
        Ok(end)
    }

    fn subscribe(&self, topic: &str, partition: u32) -> LogResult<watch::Receiver<u64>> {
        Ok(self.partition(topic, partition)?.notify.subscribe())
    }

    fn commit(&self, group: &str, offsets: &[(String, u32, u64)]) -> LogResult<()> {
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        let entry = groups.entry(group.to_string()).or_default();
        for (t, p, o) in offsets {
            match entry.iter_mut().find(|(et, ep, _)| et == t && ep == p) {
                Some(e) => e.2 = *o,
                None => entry.push((t.clone(), *p, *o)),
            }
        }
        if let Some(dir) = &self.dir {
            let text: String = entry
                .iter()
                .map(|(t, p, o)| format!("{t} {p} {o}\n"))
                .collect();
            // Offsets are made durable with the data: at every commit only when every append
            // is (`--fsync always`); a process crash keeps them either way.
            write_atomically(
                &dir.join("groups").join(encode_group(group)),
                text.as_bytes(),
                self.fsync == FsyncPolicy::Always,
            )?;
        }
        Ok(())
    }

    fn committed(&self, group: &str) -> LogResult<GroupOffsets> {
        let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        Ok(groups.get(group).cloned().unwrap_or_default())
    }

    fn delete_group(&self, group: &str) -> LogResult<()> {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(group);
        if let Some(dir) = &self.dir {
            let path = dir.join("groups").join(encode_group(group));
            if path.exists() {
                std::fs::remove_file(path)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Record;
    use std::io::Write;

    fn rec(i: i64) -> Record {
        Record {
            key: Some(i.to_string().into_bytes()),
            value: Some(vec![b'v'; 100]),
            timestamp: i,
            ..Default::default()
        }
    }

    #[test]
    fn appends_and_reads_back_across_segments_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = EmbeddedLog::open(dir.path(), FsyncPolicy::Never).unwrap();
            log.segment_bytes = 10_000;
            log.create_topic("t", 2).unwrap();
            for i in 0..500 {
                log.append("t", (i % 2) as u32, &[rec(i)]).unwrap();
            }
            assert_eq!(log.end_offset("t", 0).unwrap(), 250);
            let got = log.read("t", 1, 100, 10).unwrap();
            assert_eq!(got.len(), 10);
            assert_eq!(got[0].offset, 100);
            assert_eq!(got[0].record.timestamp, 201);
            log.commit("g", &[("t".into(), 0, 17)]).unwrap();
        }
        let log = EmbeddedLog::open(dir.path(), FsyncPolicy::Never).unwrap();
        assert_eq!(log.end_offset("t", 1).unwrap(), 250);
        let all = log.read("t", 0, 0, 1000).unwrap();
        assert_eq!(all.len(), 250);
        assert!(all
            .iter()
            .enumerate()
            .all(|(i, r)| r.offset == i as u64 && r.record.timestamp == 2 * i as i64));
        assert_eq!(log.committed("g").unwrap(), vec![("t".to_string(), 0, 17)]);
    }

    #[test]
    fn fetches_start_and_stop_inside_batches() {
        let log = EmbeddedLog::in_memory();
        log.create_topic("t", 1).unwrap();
        for b in 0..3 {
            log.append("t", 0, &(b * 10..b * 10 + 10).map(rec).collect::<Vec<_>>())
                .unwrap();
        }
        let offsets = |from, max| {
            let f = log.fetch("t", 0, from, max).unwrap();
            let got: Vec<u64> = f.records().map(|r| r.offset).collect();
            assert_eq!(f.len(), got.len());
            assert_eq!(f.last_offset(), got.last().copied());
            assert!(f.records().all(|r| r.timestamp == r.offset as i64));
            got
        };
        assert_eq!(offsets(5, 12), (5..17).collect::<Vec<_>>());
        assert_eq!(offsets(25, 100), (25..30).collect::<Vec<_>>());
        assert_eq!(offsets(10, 10), (10..20).collect::<Vec<_>>());
        assert!(offsets(30, 10).is_empty());
        assert!(offsets(0, 0).is_empty());
    }

    #[test]
    fn torn_tail_is_truncated_to_last_valid_batch() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(dir.path(), FsyncPolicy::Always).unwrap();
            log.create_topic("t", 1).unwrap();
            log.append("t", 0, &(0..9).map(rec).collect::<Vec<_>>())
                .unwrap();
            log.append("t", 0, &[rec(9)]).unwrap();
        }
        let seg = dir.path().join("topics/t/0").join(format!("{:020}.log", 0));
        let len = std::fs::metadata(&seg).unwrap().len();
        // Tear the last batch in half and add garbage after it.
        let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
        f.set_len(len - 30).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(b"garbage").unwrap();
        drop(f);
        let log = EmbeddedLog::open(dir.path(), FsyncPolicy::Always).unwrap();
        assert_eq!(log.end_offset("t", 0).unwrap(), 9);
        log.append("t", 0, &[rec(99)]).unwrap();
        let all = log.read("t", 0, 0, 100).unwrap();
        assert_eq!(all.len(), 10);
        assert_eq!(all[9].record.timestamp, 99);
        assert_eq!(all[9].offset, 9);
    }

    #[test]
    fn corrupt_byte_in_tail_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(dir.path(), FsyncPolicy::Never).unwrap();
            log.create_topic("t", 1).unwrap();
            log.append("t", 0, &(0..4).map(rec).collect::<Vec<_>>())
                .unwrap();
            log.append("t", 0, &[rec(4)]).unwrap();
        }
        let seg = dir.path().join("topics/t/0").join(format!("{:020}.log", 0));
        let mut bytes = std::fs::read(&seg).unwrap();
        let n = bytes.len();
        bytes[n - 10] ^= 0x55;
        std::fs::write(&seg, bytes).unwrap();
        let log = EmbeddedLog::open(dir.path(), FsyncPolicy::Never).unwrap();
        assert_eq!(log.end_offset("t", 0).unwrap(), 4);
    }

    #[test]
    fn a_data_directory_of_another_log_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = EmbeddedLog::open(dir.path(), FsyncPolicy::Never).unwrap();
            log.create_topic("t", 1).unwrap();
            log.append("t", 0, &[rec(1)]).unwrap();
        }
        let marker = dir.path().join(FORMAT_FILE);
        assert_eq!(
            std::fs::read_to_string(&marker).unwrap(),
            "brooklet-log 2\n"
        );
        // A directory with records and no marker was written before batch frames (format 1).
        std::fs::remove_file(&marker).unwrap();
        let err = EmbeddedLog::open(dir.path(), FsyncPolicy::Never)
            .err()
            .unwrap();
        let msg = err.to_string();
        assert!(
            msg.contains("holds log format 1") && msg.contains("new --data-dir"),
            "{msg}"
        );
        std::fs::write(&marker, "brooklet-log 3\n").unwrap();
        let msg = EmbeddedLog::open(dir.path(), FsyncPolicy::Never)
            .err()
            .unwrap()
            .to_string();
        assert!(msg.contains("holds log format 3"), "{msg}");
        // An empty directory is new: it gets the marker.
        let fresh = tempfile::tempdir().unwrap();
        EmbeddedLog::open(fresh.path(), FsyncPolicy::Never).unwrap();
        assert!(fresh.path().join(FORMAT_FILE).exists());
    }

    #[test]
    fn appends_never_wait_for_the_disk_under_an_interval_policy() {
        let dir = tempfile::tempdir().unwrap();
        let hour = FsyncPolicy::Interval(Duration::from_secs(3600));
        let log = EmbeddedLog::open(dir.path(), hour).unwrap();
        log.create_topic("t", 1).unwrap();
        log.append("t", 0, &(0..100).map(rec).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(log.synced_offset("t", 0).unwrap(), 0, "the append synced");
        drop(log);
        // With a short interval, the group commit makes them durable soon after.
        let ms = FsyncPolicy::Interval(Duration::from_millis(5));
        let log = EmbeddedLog::open(dir.path(), ms).unwrap();
        assert_eq!(
            log.synced_offset("t", 0).unwrap(),
            100,
            "recovered data is on disk"
        );
        log.append("t", 0, &(100..150).map(rec).collect::<Vec<_>>())
            .unwrap();
        let start = std::time::Instant::now();
        while log.synced_offset("t", 0).unwrap() < 150 {
            assert!(start.elapsed() < Duration::from_secs(30), "never synced");
            std::thread::sleep(Duration::from_millis(5));
        }
        let always = EmbeddedLog::open(dir.path(), FsyncPolicy::Always).unwrap();
        always.append("t", 0, &[rec(150)]).unwrap();
        assert_eq!(always.synced_offset("t", 0).unwrap(), 151);
    }

    #[test]
    fn memory_log_notifies_readers() {
        let log = EmbeddedLog::in_memory();
        log.create_topic("t", 1).unwrap();
        let mut rx = log.subscribe("t", 0).unwrap();
        assert!(!rx.has_changed().unwrap());
        log.append("t", 0, &[rec(1)]).unwrap();
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), 1);
        assert!(log.create_topic("bad/name", 1).is_err());
        assert!(matches!(
            log.create_topic("t", 1),
            Err(LogError::TopicExists(_))
        ));
    }
}
