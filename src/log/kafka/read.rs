//! Reading a Kafka partition at any offset: a small pool of consumers per partition, each
//! assigned to it at a position, so a query reading on from where its last fetch ended keeps
//! using the consumer that has the next records prefetched, and a read elsewhere (a replay, a
//! pull query, PRINT) takes another. Messages become log frames in a [`Fetch`], one frame per
//! run of consecutive offsets (compaction and transaction markers leave gaps, which are normal
//! here: the fetch says so, and no one reports them as damage).

use super::{kafka_err, ORIGIN_HEADER};
use crate::log::{BatchBuilder, Fetch, Header, HeadersRef, LogError, LogResult, Origin};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Consumers kept per partition.
const POOL: usize = 4;
/// How long a fetch waits for its first record from a consumer already reading there (it has
/// been prefetching), and from one just moved there (its first fetch is a round trip).
const FIRST_WAIT: Duration = Duration::from_millis(20);
const FRESH_WAIT: Duration = Duration::from_millis(300);

/// A consumer assigned to one partition, and the offset its next message will have (or
/// follow, past a gap).
pub(super) struct Reader {
    consumer: BaseConsumer,
    next: Option<u64>,
}

/// The consumers of one partition.
#[derive(Default)]
pub(super) struct Pool {
    readers: Vec<Arc<Mutex<Reader>>>,
}

impl Pool {
    /// A reader for `offset`: the one already there, else an idle one (moved), else a new one
    /// while there are fewer than [`POOL`].
    pub(super) fn take(
        &mut self,
        offset: u64,
        make: impl FnOnce() -> LogResult<BaseConsumer>,
    ) -> LogResult<Arc<Mutex<Reader>>> {
        let at = |r: &Arc<Mutex<Reader>>| r.try_lock().is_ok_and(|g| g.next == Some(offset));
        if let Some(r) = self.readers.iter().find(|r| at(r)) {
            return Ok(r.clone());
        }
        if self.readers.len() < POOL {
            let r = Arc::new(Mutex::new(Reader {
                consumer: make()?,
                next: None,
            }));
            self.readers.push(r.clone());
            return Ok(r);
        }
        let idle = self.readers.iter().find(|r| r.try_lock().is_ok());
        Ok(idle.unwrap_or(&self.readers[0]).clone())
    }
}

/// A consumer for reads: no group, no commits, read committed, errors for an offset out of
/// range (the caller decides what that means).
pub(super) fn consumer(base: &ClientConfig) -> LogResult<BaseConsumer> {
    let mut c = base.clone();
    c.set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "error")
        .set("enable.partition.eof", "false")
        .set("isolation.level", "read_committed")
        .set("queued.max.messages.kbytes", "16384")
        // librdkafka pauses a partition's fetching this long once its queue is full (1 s by
        // default): a query taking batches from a full queue would wait for it.
        .set("fetch.queue.backoff.ms", "5")
        .set("fetch.wait.max.ms", "50")
        .set("group.id", "brooklet-reader");
    c.create().map_err(kafka_err)
}

impl Reader {
    /// Up to `max` records of `topic`/`partition` from `offset`. `Ok(None)` when `offset` is
    /// out of the partition's range.
    pub(super) fn read(
        &mut self,
        topic: &str,
        partition: u32,
        offset: u64,
        max: usize,
    ) -> LogResult<Option<Fetch>> {
        let mut wait = FIRST_WAIT;
        if self.next != Some(offset) {
            wait = FRESH_WAIT;
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(topic, partition as i32, Offset::Offset(offset as i64))
                .map_err(kafka_err)?;
            self.consumer.assign(&tpl).map_err(kafka_err)?;
            self.next = Some(offset);
        }
        let mut runs = Runs::new(partition, offset);
        while runs.count < max {
            let Some(polled) = self.consumer.poll(wait) else {
                break;
            };
            wait = Duration::ZERO;
            let m = match polled {
                Ok(m) => m,
                Err(KafkaError::MessageConsumption(RDKafkaErrorCode::OffsetOutOfRange)) => {
                    self.next = None;
                    return Ok(None);
                }
                Err(e) => {
                    self.next = None;
                    return Err(kafka_err(e));
                }
            };
            if m.topic() != topic || m.partition() != partition as i32 || m.offset() < 0 {
                continue;
            }
            let at = m.offset() as u64;
            if at < offset {
                continue;
            }
            let (headers, origin) = headers_of(&m);
            runs.push(
                at,
                m.timestamp().to_millis().unwrap_or(-1),
                m.key(),
                m.payload(),
                &headers,
                origin,
            );
            self.next = Some(at + 1);
        }
        let mut fetch = runs.finish();
        // Past the records, the consumer may have passed offsets that are no records
        // (transaction markers, compacted away): go on from there, or a reader at the end of a
        // transactional topic would never reach its end offset.
        if let Some(past) = self
            .position(topic, partition)
            .filter(|p| *p > fetch.next_offset())
        {
            fetch.set_next(past);
            self.next = Some(past);
        }
        Ok(Some(fetch))
    }
}

impl Reader {
    /// The consumer's position in the partition (the offset after what it returned).
    fn position(&self, topic: &str, partition: u32) -> Option<u64> {
        let tpl = self.consumer.position().ok()?;
        match tpl.find_partition(topic, partition as i32)?.offset() {
            Offset::Offset(o) if o >= 0 => Some(o as u64),
            _ => None,
        }
    }
}

/// The headers of a message, without Brooklet's origin header, and the origin it carried.
fn headers_of(m: &impl Message) -> (Vec<Header>, Option<Origin>) {
    let mut out = Vec::new();
    let mut origin = None;
    if let Some(hs) = m.headers() {
        for h in hs.iter() {
            if h.key == ORIGIN_HEADER {
                origin = h.value.and_then(super::write::decode_origin);
                continue;
            }
            out.push(Header {
                key: h.key.to_string(),
                value: h.value.map(<[u8]>::to_vec),
            });
        }
    }
    (out, origin)
}

/// Records being gathered into frames, a frame per run of consecutive offsets.
struct Runs {
    fetch: Fetch,
    builder: BatchBuilder,
    base: u64,
    last: Option<u64>,
    count: usize,
}

impl Runs {
    fn new(partition: u32, offset: u64) -> Self {
        let mut fetch = Fetch::new(partition, offset);
        fetch.set_sparse();
        Runs {
            fetch,
            builder: BatchBuilder::new(),
            base: offset,
            last: None,
            count: 0,
        }
    }

    fn push(
        &mut self,
        offset: u64,
        ts: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        origin: Option<Origin>,
    ) {
        if self.last.is_some_and(|l| l + 1 != offset) {
            self.close();
        }
        if self.builder.is_empty() {
            self.base = offset;
        }
        self.builder
            .push(ts, key, value, HeadersRef::Owned(headers), origin);
        self.last = Some(offset);
        self.count += 1;
    }

    /// Seals the current run into the fetch.
    fn close(&mut self) {
        if self.builder.is_empty() {
            return;
        }
        let mut b = std::mem::take(&mut self.builder);
        let placed = b.seal(self.base);
        let total = b.bytes().len();
        let end = self.base + b.len() as u64;
        let chunk = self.fetch.add_chunks(vec![b.bytes().to_vec()]);
        for (i, &(base, at)) in placed.iter().enumerate() {
            let (next_base, next_at) = placed.get(i + 1).copied().unwrap_or((end, total));
            self.fetch.add(chunk, at..next_at, base, next_base);
        }
    }

    fn finish(mut self) -> Fetch {
        self.close();
        if let Some(l) = self.last {
            self.fetch.set_next(l + 1);
        }
        self.fetch
    }
}

/// An error for a partition that is not there.
pub(super) fn unknown(topic: &str, partition: u32) -> LogError {
    LogError::UnknownPartition(topic.to_string(), partition)
}
