//! The embedded durable log: topics of partitions of framed records.
//!
//! The engine reaches the log only through [`Log`], so that another backend (Kafka) can stand in
//! for the embedded one. Records are stored in batches, one frame per batch with a length and a
//! CRC32 (see [`frame`]); a torn tail is truncated to the last valid batch when a partition is
//! opened. Reads hand out a [`Fetch`]: the batches in their read buffers, records borrowed.

mod batch;
mod damage;
pub mod durability;
mod fetch;
pub mod frame;
mod group_commit;
pub mod kafka;
mod partition;
mod store;

pub use batch::BatchBuilder;
pub use fetch::Fetch;
pub use frame::{HeadersRef, RecordRef};
pub use store::{EmbeddedLog, FsyncPolicy, DEFAULT_SEGMENT_BYTES};

use std::sync::Arc;

/// A record header: a key and optional bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// Where an output record came from: the producing query and the input position that caused it.
/// Used to make persistent queries idempotent across crashes (like Kafka's idempotent producer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub producer: u64,
    pub partition: u32,
    pub offset: u64,
}

/// A record to append.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    /// `None` is a tombstone.
    pub value: Option<Vec<u8>>,
    pub timestamp: i64,
    pub headers: Vec<Header>,
    pub origin: Option<Origin>,
}

/// A record read back, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub partition: u32,
    pub offset: u64,
    pub record: Record,
}

impl StoredRecord {
    /// The record, borrowed (as a [`Fetch`] hands records out).
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            partition: self.partition,
            offset: self.offset,
            timestamp: self.record.timestamp,
            key: self.record.key.as_deref(),
            value: self.record.value.as_deref(),
            headers: HeadersRef::Owned(&self.record.headers),
            origin: self.record.origin,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: u32,
}

/// Errors of the log.
#[derive(Debug)]
pub enum LogError {
    UnknownTopic(String),
    UnknownPartition(String, u32),
    TopicExists(String),
    Io(std::io::Error),
}

impl std::fmt::Display for LogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogError::UnknownTopic(t) => write!(f, "Topic '{t}' does not exist"),
            LogError::UnknownPartition(t, p) => write!(f, "Topic '{t}' has no partition {p}"),
            LogError::TopicExists(t) => write!(f, "Topic '{t}' already exists"),
            LogError::Io(e) => write!(f, "log I/O error: {e}"),
        }
    }
}

impl std::error::Error for LogError {}

impl LogError {
    /// Whether the disk (or a quota) is full: the same write can succeed later.
    pub fn is_full(&self) -> bool {
        matches!(self, LogError::Io(e) if durability::is_full(e))
    }
}

impl From<std::io::Error> for LogError {
    fn from(e: std::io::Error) -> Self {
        LogError::Io(e)
    }
}

pub type LogResult<T> = Result<T, LogError>;

/// How a topic is made beyond its partitions, as ksqlDB asks Kafka for its topics: replicas
/// (`REPLICAS`; `None` is the backend's default) and topic settings (`cleanup.policy`,
/// `retention.ms`). The embedded log keeps neither (one copy; retention by size only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicSpec {
    pub replicas: Option<u32>,
    pub settings: Vec<(String, String)>,
}

/// Committed positions of a consumer group: (topic, partition, next offset to read).
pub type GroupOffsets = Vec<(String, u32, u64)>;

/// The small interface the engine uses. Implementations are cheap to share (`Arc<dyn Log>`).
pub trait Log: Send + Sync {
    /// Creates a topic; an existing topic with the same name is an error.
    fn create_topic(&self, name: &str, partitions: u32) -> LogResult<()>;
    /// [`create_topic`](Log::create_topic) with replicas and topic settings, where the backend
    /// has them.
    fn create_topic_with(&self, name: &str, partitions: u32, _spec: &TopicSpec) -> LogResult<()> {
        self.create_topic(name, partitions)
    }
    /// Deletes a topic and its data.
    fn delete_topic(&self, name: &str) -> LogResult<()>;
    /// This process will not read `name` for a while: let go of what reads it ahead (the Kafka
    /// backend's consumers), so nothing of this process fetches it if it is deleted.
    fn forget_topic(&self, _name: &str) {}
    /// Keeps at most about `bytes` of each partition of `topic` (whole segments of its oldest
    /// records are deleted; Kafka's `retention.bytes`). Not kept across restarts.
    fn set_retention_bytes(&self, _topic: &str, _bytes: u64) -> LogResult<()> {
        Ok(())
    }
    /// The first offset a partition still holds (records before it were deleted by retention).
    fn start_offset(&self, _topic: &str, _partition: u32) -> LogResult<u64> {
        Ok(0)
    }
    fn topic(&self, name: &str) -> Option<TopicInfo>;
    fn topics(&self) -> Vec<TopicInfo>;
    /// Appends a batch being built to one partition as one write, returning the offset of its
    /// first record. A failed append leaves nothing behind; the same builder can be appended
    /// again.
    fn append_batch(&self, topic: &str, partition: u32, batch: &mut BatchBuilder)
        -> LogResult<u64>;
    /// Appends records to one partition, returning the offset of the first one.
    fn append(&self, topic: &str, partition: u32, records: &[Record]) -> LogResult<u64> {
        let mut batch = BatchBuilder::new();
        for r in records {
            batch.push_record(r);
        }
        self.append_batch(topic, partition, &mut batch)
    }
    /// Reads up to `max` records starting at `offset` (an offset past the end gives none), in
    /// the batches that hold them. Offsets missing from the result were damaged on disk.
    fn fetch(&self, topic: &str, partition: u32, offset: u64, max: usize) -> LogResult<Fetch>;
    /// [`fetch`](Log::fetch), every record copied out (for callers off the hot path).
    fn read(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max: usize,
    ) -> LogResult<Vec<StoredRecord>> {
        Ok(self.fetch(topic, partition, offset, max)?.to_stored())
    }
    /// The offset the next appended record will get.
    fn end_offset(&self, topic: &str, partition: u32) -> LogResult<u64>;
    /// A receiver that changes whenever the partition grows (readers wait on it, never poll).
    fn subscribe(
        &self,
        topic: &str,
        partition: u32,
    ) -> LogResult<tokio::sync::watch::Receiver<u64>>;
    /// Stores a consumer group's positions (next offset to read) for a topic's partitions.
    fn commit(&self, group: &str, offsets: &[(String, u32, u64)]) -> LogResult<()>;
    /// A query whose outputs carry `producer` in their origins is starting: a backend with
    /// transactions makes it the only writer of them now (fencing an earlier owner), before its
    /// committed positions are read.
    fn begin_outputs(&self, _producer: u64) -> LogResult<()> {
        Ok(())
    }
    /// [`commit`](Log::commit) of a query whose outputs carry `producer`: a backend with
    /// transactions commits the outputs appended since the last commit together with the
    /// positions.
    fn commit_outputs(
        &self,
        group: &str,
        _producer: u64,
        offsets: &[(String, u32, u64)],
    ) -> LogResult<()> {
        self.commit(group, offsets)
    }
    /// The positions a consumer group committed last.
    fn committed(&self, group: &str) -> LogResult<GroupOffsets>;
    /// Forgets a consumer group.
    fn delete_group(&self, group: &str) -> LogResult<()>;
    /// Joins consumer group `group` over `topic`, whose partitions the group's members (servers
    /// of one service) share: `listener` hears which this process is given and which it gives
    /// up. `None` where the log has no groups of processes (the embedded log: one process owns
    /// every partition).
    fn join_group(
        &self,
        _group: &str,
        _topic: &str,
        _listener: Arc<dyn GroupListener>,
    ) -> LogResult<Option<GroupMember>> {
        Ok(None)
    }
    /// Waits until this process is the one of its service to run the service's connectors
    /// (the Kafka backend's lease); false if `stop` was set first. At once on the embedded log.
    fn wait_lease(&self, _stop: &std::sync::atomic::AtomicBool) -> bool {
        true
    }
    /// The process is stopping: give back what others wait for (the Kafka backend's lease).
    fn close(&self) {}
}

/// What a member of a consumer group hears (see [`Log::join_group`]), on the group's own
/// thread, in order.
pub trait GroupListener: Send + Sync {
    /// Partitions given to this member.
    fn assigned(&self, partitions: &[u32]);
    /// Partitions taken away: another member gets them once this returns, so whatever works
    /// on them must have stopped by then.
    fn revoked(&self, partitions: &[u32]);
}

/// Membership of a consumer group; leaving it (or dropping it) hands its partitions over.
pub struct GroupMember {
    leave: Option<Box<dyn FnOnce() + Send>>,
}

impl GroupMember {
    pub fn new(leave: impl FnOnce() + Send + 'static) -> GroupMember {
        GroupMember {
            leave: Some(Box::new(leave)),
        }
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        if let Some(leave) = self.leave.take() {
            leave();
        }
    }
}

pub type SharedLog = Arc<dyn Log>;

/// Reads a partition from `from` up to the end it has now, `max` records at a time, handing
/// each fetch to `f`: what replays and topic tools read. The end is the log's end offset when
/// the read starts (on Kafka, the one it finds by fetching there); a fetch that gets nowhere
/// before it (offsets holding no record: compaction, transaction markers) ends the read too.
pub fn read_to_end<E: From<LogError>>(
    log: &dyn Log,
    topic: &str,
    partition: u32,
    from: u64,
    max: usize,
    mut f: impl FnMut(&Fetch) -> Result<(), E>,
) -> Result<(), E> {
    let end = log.end_offset(topic, partition)?;
    let mut at = from;
    while at < end {
        let fetch = log.fetch(topic, partition, at, max)?;
        if fetch.next_offset() <= at {
            break;
        }
        at = fetch.next_offset();
        f(&fetch)?;
    }
    Ok(())
}
