//! A fetch: records of one partition as the batches that hold them, in the buffers they were
//! read into. Records are handed out as [`RecordRef`]s borrowing those buffers, so reading N
//! records allocates a few buffers, not N keys and values.

use super::frame::{self, RecordRef};
use super::StoredRecord;
use std::ops::Range;

/// Records read from one partition, in offset order.
#[derive(Debug, Default)]
pub struct Fetch {
    partition: u32,
    /// Where the next fetch goes on: after the last record, or after damage that ends the read.
    next: u64,
    chunks: Vec<Vec<u8>>,
    slices: Vec<Slice>,
    /// Whether offsets may be missing between records in the normal course (a Kafka topic:
    /// compaction, transaction markers), rather than only where the disk was damaged.
    sparse: bool,
}

/// The records `from..to` of the batch frame at `frame` in chunk `chunk`.
#[derive(Debug)]
struct Slice {
    chunk: usize,
    frame: Range<usize>,
    from: u64,
    to: u64,
}

impl Fetch {
    /// An empty fetch of `partition` from `offset`.
    pub fn new(partition: u32, offset: u64) -> Self {
        Fetch {
            partition,
            next: offset,
            ..Fetch::default()
        }
    }

    /// The offset to fetch from next. It is past [`last_offset`](Self::last_offset) when the
    /// read passed damaged records after the last one returned; it was decided with the
    /// records, so a record appended since is never skipped.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    pub(super) fn set_next(&mut self, next: u64) {
        self.next = self.next.max(next);
    }

    /// Whether offsets missing between records are normal (see the field); the embedded
    /// log's fetches are dense, so a gap in them is damage.
    pub fn sparse(&self) -> bool {
        self.sparse
    }

    pub(super) fn set_sparse(&mut self) {
        self.sparse = true;
    }

    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// Adds read buffers; returns the index the first one gets.
    pub(super) fn add_chunks(&mut self, chunks: Vec<Vec<u8>>) -> usize {
        let first = self.chunks.len();
        self.chunks.extend(chunks);
        first
    }

    /// Adds records `from..to` of the (valid) batch frame at `frame` of chunk `chunk`.
    pub(super) fn add(&mut self, chunk: usize, frame: Range<usize>, from: u64, to: u64) {
        if from < to {
            self.set_next(to);
            self.slices.push(Slice {
                chunk,
                frame,
                from,
                to,
            });
        }
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.slices.iter().map(|s| (s.to - s.from) as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.slices.is_empty()
    }

    /// The offset of the last record.
    pub fn last_offset(&self) -> Option<u64> {
        self.slices.last().map(|s| s.to - 1)
    }

    /// The records in offset order.
    pub fn records(&self) -> impl Iterator<Item = RecordRef<'_>> + '_ {
        let partition = self.partition;
        self.slices.iter().flat_map(move |s| {
            let bytes = self
                .chunks
                .get(s.chunk)
                .and_then(|c| c.get(s.frame.clone()))
                .unwrap_or_default();
            frame::view(bytes)
                .into_iter()
                .flat_map(|b| b.records())
                .filter(move |r| r.offset >= s.from && r.offset < s.to)
                .map(move |r| RecordRef { partition, ..r })
        })
    }

    /// The records, owned.
    pub fn to_stored(&self) -> Vec<StoredRecord> {
        self.records()
            .map(|r| StoredRecord {
                partition: r.partition,
                offset: r.offset,
                record: r.to_record(),
            })
            .collect()
    }
}
