//! Reading a query's input: a batch of one input partition from a position, decoded into
//! Arrow on any thread; offsets the log skipped (damaged on disk) reported to the processing log.

use super::{decode, ProcessingLog, Result, SharedLog, Source, BATCH};
use crate::exec::align::Fetched;
use std::sync::Arc;

/// Reads and decodes batches of the input (on any thread).
#[derive(Clone)]
pub(in crate::exec) struct Fetcher {
    pub(super) log: SharedLog,
    /// The sources, with the value columns the query reads of each.
    pub(super) inputs: Arc<Vec<(Arc<Source>, Vec<bool>)>>,
    /// The input partitions (see [`input_partitions`]).
    pub(in crate::exec) parts: Arc<Vec<(usize, String, u32)>>,
    pub(in crate::exec) plog: ProcessingLog,
    pub(super) query_id: String,
    pub(super) fail_on_bad_timestamp: bool,
}

impl Fetcher {
    /// The same fetcher, logging no processing errors (for input read again).
    pub(in crate::exec) fn muted(&self) -> Fetcher {
        Fetcher {
            plog: self.plog.muted(),
            ..self.clone()
        }
    }

    pub(super) fn fetch(&self, g: usize, pos: u64) -> Result<Fetched> {
        self.fetch_max(g, pos, BATCH)
    }

    /// Reports offsets `from..to` of a partition as unreadable, if there are any.
    fn damaged(&self, topic: &str, p: u32, from: u64, to: u64) {
        if to <= from {
            return;
        }
        // Records before the partition's start were deleted by retention, not damaged.
        let from = match self.log.start_offset(topic, p) {
            Ok(start) => from.max(start),
            _ => from,
        };
        if to > from {
            let msg = format!(
                "records {from}..{to} of {topic} partition {p} failed their checksum on disk \
                 and were skipped"
            );
            self.plog
                .deserialization_error(&self.query_id, topic, "log", &msg, None);
        }
    }

    /// Up to `max` records of input partition `g` from `pos`, decoded.
    pub(in crate::exec) fn fetch_max(&self, g: usize, pos: u64, max: usize) -> Result<Fetched> {
        let (input, topic, p) = &self.parts[g];
        let fetch = self.log.fetch(topic, *p, pos, max)?;
        let recs: Vec<_> = fetch.records().collect();
        // Offsets the log skipped were damaged on disk (see `log::damage`). The fetch says
        // where it ended: asking the log for its end afterwards would take records appended
        // in between for damage and skip them.
        let mut at = pos;
        for r in recs.iter().filter(|_| !fetch.sparse()) {
            self.damaged(topic, *p, at, r.offset);
            at = r.offset + 1;
        }
        let next = fetch.next_offset();
        if !fetch.sparse() {
            self.damaged(topic, *p, at, next);
        }
        if recs.is_empty() {
            return Ok((next > pos).then_some((next, None)));
        }
        let (source, needed) = &self.inputs[*input];
        let batch = decode::decode_checked(
            source,
            &recs,
            &self.plog,
            &self.query_id,
            needed,
            self.fail_on_bad_timestamp,
        )
        .map_err(crate::error::Error::runtime)?;
        Ok(Some((next, batch)))
    }
}
