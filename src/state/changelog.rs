//! Checkpoints backed up to a query's changelog topic on Kafka, so that a task moving to
//! another server of the service restores its state from there (plus a replay of its input
//! after the checkpoint) instead of replaying its whole input partition.
//!
//! The topic is named as ksqlDB names a query's store changelog
//! (`_confluent-ksql-<service id>query_<query id>-Aggregate-Aggregate-Materialize-changelog`
//! for an aggregation, `...-Join-changelog` for a join), compacted, with a partition per input
//! partition: task `k` writes partition `k` (a query run whole, partition 0). It holds
//! Brooklet's checkpoints, not ksqlDB's rows per key: a checkpoint (framed with its length and
//! CRC, as on disk) is cut into chunks of at most [`CHUNK`] bytes, keyed `<task>/<chunk>` (so
//! compaction keeps each chunk of the latest checkpoint), each value the checkpoint's id, the
//! chunk's number and the count, then the bytes. Once all are written, the first chunk's
//! offset and the id are committed (group `_brooklet_changelog_<task>`), which is what a load
//! starts from. Every checkpoint is also kept in the local store with its id: a load that
//! finds the committed id there reads nothing from the cluster.

use super::{frame, unframe, StateStore};
use crate::error::Result;
use crate::log::{Record, SharedLog};
use std::sync::Arc;

/// The most bytes of a checkpoint in one record (Kafka's default limit is 1 MiB).
pub const CHUNK: usize = 512 * 1024;

pub struct ChangelogStore {
    log: SharedLog,
    topic: String,
    /// The query: task names are `<query>` or `<query>_task_<k>`.
    query: String,
    local: Arc<dyn StateStore>,
}

/// A query's changelog topic (see the module's comment); `join` for a join's state.
pub fn topic_name(query_group: &str, join: bool) -> String {
    if join {
        format!("{query_group}-Join-changelog")
    } else {
        format!("{query_group}-Aggregate-Aggregate-Materialize-changelog")
    }
}

/// The group whose commit says where a task's last checkpoint is.
pub fn index_group(name: &str) -> String {
    format!("_brooklet_changelog_{name}")
}

const INDEX: &str = "checkpoint";
const ID: &str = "id";

impl ChangelogStore {
    pub fn new(log: SharedLog, topic: String, query: String, local: Arc<dyn StateStore>) -> Self {
        ChangelogStore {
            log,
            topic,
            query,
            local,
        }
    }

    /// The partition a task's checkpoints go to.
    fn partition(&self, name: &str) -> u32 {
        name.strip_prefix(&self.query)
            .and_then(|t| t.strip_prefix("_task_"))
            .and_then(|k| k.parse().ok())
            .unwrap_or(0)
    }

    /// The committed checkpoint of a task: (first chunk's offset, id).
    fn committed(&self, name: &str) -> Result<Option<(u64, u64)>> {
        let c = self.log.committed(&index_group(name))?;
        let find = |t: &str| c.iter().find(|(n, _, _)| n == t).map(|e| e.2);
        Ok(find(INDEX).zip(find(ID)))
    }

    /// Reads the chunks of checkpoint `id` from `first`: its framed bytes, if all are there.
    fn read(&self, name: &str, p: u32, first: u64, id: u64) -> Result<Option<Vec<u8>>> {
        let mut body = Vec::new();
        let (mut at, mut want) = (first, None::<u32>);
        let mut next_chunk = 0u32;
        while want.is_none_or(|n| next_chunk < n) {
            let recs = self.log.read(&self.topic, p, at, 16)?;
            let Some(last) = recs.last() else {
                return Ok(None);
            };
            at = last.offset + 1;
            for r in &recs {
                let Some(v) = r.record.value.as_deref().filter(|v| v.len() >= 16) else {
                    continue;
                };
                let of = |i: usize| u32::from_le_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
                let rid = u64::from_le_bytes(v[..8].try_into().unwrap_or_default());
                if rid != id || of(8) != next_chunk {
                    continue;
                }
                want = Some(of(12));
                body.extend_from_slice(&v[16..]);
                next_chunk += 1;
            }
        }
        match unframe(&body) {
            Some(b) => Ok(Some(b.to_vec())),
            None => {
                tracing::warn!(
                    task = name,
                    "ignoring a damaged checkpoint in {}",
                    self.topic
                );
                Ok(None)
            }
        }
    }
}

impl StateStore for ChangelogStore {
    fn save(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let id = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let framed = frame(bytes);
        let chunks: Vec<&[u8]> = framed.chunks(CHUNK).collect();
        let records: Vec<Record> = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut v = Vec::with_capacity(16 + c.len());
                v.extend_from_slice(&id.to_le_bytes());
                v.extend_from_slice(&(i as u32).to_le_bytes());
                v.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
                v.extend_from_slice(c);
                Record {
                    key: Some(format!("{name}/{i}").into_bytes()),
                    value: Some(v),
                    ..Record::default()
                }
            })
            .collect();
        let p = self.partition(name);
        let first = self.log.append(&self.topic, p, &records)?;
        let mut local = id.to_le_bytes().to_vec();
        local.extend_from_slice(bytes);
        self.local.save(name, &local)?;
        let index = [(INDEX.to_string(), p, first), (ID.to_string(), p, id)];
        self.log.commit(&index_group(name), &index)?;
        Ok(())
    }

    fn load(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let local = self.local.load(name)?.filter(|l| l.len() >= 8);
        let local_id = local
            .as_ref()
            .map(|l| u64::from_le_bytes(l[..8].try_into().unwrap_or_default()));
        let Some((first, id)) = self.committed(name)? else {
            return Ok(local.map(|l| l[8..].to_vec()));
        };
        if local_id == Some(id) {
            tracing::info!(
                task = name,
                "state from the local copy of its last checkpoint"
            );
            return Ok(local.map(|l| l[8..].to_vec()));
        }
        let loaded = self.read(name, self.partition(name), first, id);
        // Read once: its consumers need not read on (nor outlive the topic's deletion).
        self.log.forget_topic(&self.topic);
        let loaded = loaded?;
        if loaded.is_some() {
            tracing::info!(task = name, topic = %self.topic, "state from the changelog topic");
        }
        Ok(loaded)
    }

    fn remove(&self, name: &str) -> Result<()> {
        self.log.delete_group(&index_group(name))?;
        self.local.remove(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::EmbeddedLog;
    use crate::state::MemoryStore;

    fn store(log: &SharedLog, local: Arc<dyn StateStore>) -> ChangelogStore {
        ChangelogStore::new(log.clone(), "cl".into(), "Q".into(), local)
    }

    #[test]
    fn a_checkpoint_larger_than_a_chunk_comes_back_on_another_server() {
        let log: SharedLog = Arc::new(EmbeddedLog::in_memory());
        log.create_topic("cl", 3).unwrap();
        let first = store(&log, Arc::new(MemoryStore::default()));
        let big: Vec<u8> = (0..CHUNK * 2 + 77).map(|i| (i % 251) as u8).collect();
        first.save("Q_task_2", b"old").unwrap();
        first.save("Q_task_2", &big).unwrap();
        assert_eq!(log.end_offset("cl", 2).unwrap(), 4, "1 chunk, then 3");
        assert_eq!(log.end_offset("cl", 0).unwrap(), 0);
        // Another server: nothing local, the changelog has it.
        let second = store(&log, Arc::new(MemoryStore::default()));
        assert_eq!(second.load("Q_task_2").unwrap().as_deref(), Some(&big[..]));
        assert_eq!(second.load("Q_task_1").unwrap(), None);
        second.remove("Q_task_2").unwrap();
        assert_eq!(second.load("Q_task_2").unwrap(), None);
    }

    #[test]
    fn the_local_copy_is_used_only_when_it_is_the_committed_checkpoint() {
        let log: SharedLog = Arc::new(EmbeddedLog::in_memory());
        log.create_topic("cl", 1).unwrap();
        let local: Arc<dyn StateStore> = Arc::new(MemoryStore::default());
        let one = store(&log, local.clone());
        one.save("Q", b"first").unwrap();
        // Another server saves a later checkpoint: this one's local copy is stale now.
        let other = store(&log, Arc::new(MemoryStore::default()));
        other.save("Q", b"second").unwrap();
        assert_eq!(one.load("Q").unwrap().as_deref(), Some(&b"second"[..]));
        // A commit whose checkpoint is not in the changelog is none (the task replays).
        let gone = store(&log, Arc::new(MemoryStore::default()));
        log.commit(
            "_brooklet_changelog_Q",
            &[(INDEX.into(), 0, 0), (ID.into(), 0, 7)],
        )
        .unwrap();
        assert_eq!(gone.load("Q").unwrap(), None);
    }
}
