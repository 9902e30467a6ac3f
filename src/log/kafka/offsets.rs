//! Committed positions on Kafka: a compacted topic of one partition, one record per commit,
//! keyed by the consumer group, its value the group's positions as JSON
//! (`[["topic", partition, offset], ...]`; a null value forgets the group). A commit is one
//! record, so everything a query commits at once (input positions, sink ends, flushes) is
//! stored at once. Every commit made through this log is kept in memory; the topic is read
//! when the log connects, and read on from there before positions are looked up, so the
//! commits other servers of the service made (for the tasks they ran) are seen too.

use super::{lock, KafkaLog};
use crate::log::{read_to_end, GroupOffsets, Log, LogError, LogResult, Record};
use std::collections::HashMap;
use std::sync::Mutex;

pub(super) struct Offsets {
    topic: String,
    groups: Mutex<Groups>,
}

#[derive(Default)]
struct Groups {
    latest: HashMap<String, GroupOffsets>,
    /// The next offset of the topic to read.
    next: u64,
}

impl Offsets {
    pub(super) fn new(topic: String) -> Self {
        Offsets {
            topic,
            groups: Mutex::default(),
        }
    }

    pub(super) fn topic(&self) -> &str {
        &self.topic
    }

    /// A group's positions, as the topic has them now.
    pub(super) fn get(&self, log: &KafkaLog, group: &str) -> LogResult<GroupOffsets> {
        let mut groups = lock(&self.groups);
        self.read_on(log, &mut groups)?;
        Ok(groups.latest.get(group).cloned().unwrap_or_default())
    }

    /// Stores a group's positions (`None` forgets it) and waits until the cluster has them.
    pub(super) fn commit(
        &self,
        log: &KafkaLog,
        group: &str,
        offsets: Option<&[(String, u32, u64)]>,
    ) -> LogResult<()> {
        log.append(&self.topic, 0, &[Self::record(group, offsets)?])?;
        self.remember(group, offsets);
        Ok(())
    }

    /// The record of a commit.
    pub(super) fn record(group: &str, offsets: Option<&[(String, u32, u64)]>) -> LogResult<Record> {
        let value = offsets
            .map(|o| serde_json::to_vec(o).map_err(|e| LogError::Io(std::io::Error::other(e))))
            .transpose()?;
        Ok(Record {
            key: Some(group.as_bytes().to_vec()),
            value,
            timestamp: now_ms(),
            ..Record::default()
        })
    }

    /// Keeps a commit the cluster has.
    pub(super) fn remember(&self, group: &str, offsets: Option<&[(String, u32, u64)]>) {
        let mut groups = lock(&self.groups);
        match offsets {
            Some(o) => groups.latest.insert(group.to_string(), o.to_vec()),
            None => groups.latest.remove(group),
        };
    }

    /// Reads the topic from its start (see [`read_to_end`]).
    pub(super) fn load(&self, log: &KafkaLog) -> LogResult<()> {
        let mut groups = lock(&self.groups);
        *groups = Groups::default();
        self.read_on(log, &mut groups)
    }

    /// Reads the commits made since the topic was last read. (A commit of this process made
    /// meanwhile is remembered once this returns, so it is not undone by an older record.)
    fn read_on(&self, log: &KafkaLog, groups: &mut Groups) -> LogResult<()> {
        let from = groups.next;
        read_to_end(log, &self.topic, 0, from, 4096, |fetch| {
            for r in fetch.records() {
                groups.next = r.offset + 1;
                let Some(key) = r.key.and_then(|k| std::str::from_utf8(k).ok()) else {
                    continue;
                };
                match r.value.map(serde_json::from_slice::<GroupOffsets>) {
                    Some(Ok(o)) => {
                        groups.latest.insert(key.to_string(), o);
                    }
                    None => {
                        groups.latest.remove(key);
                    }
                    Some(Err(e)) => {
                        tracing::warn!(group = key, "unreadable commit in {}: {e}", self.topic);
                    }
                }
            }
            Ok::<_, LogError>(())
        })
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
