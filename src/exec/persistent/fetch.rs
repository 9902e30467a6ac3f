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
        self.fetch_until(g, pos, BATCH, u64::MAX)
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

    /// Up to `max` records of input partition `g` from `pos` and before offset `until`,
    /// decoded. (A partition with gaps, as transaction markers leave, holds fewer records than
    /// offsets: `max` alone would read past `until`.)
    pub(in crate::exec) fn fetch_until(
        &self,
        g: usize,
        pos: u64,
        max: usize,
        until: u64,
    ) -> Result<Fetched> {
        let (input, topic, p) = &self.parts[g];
        let fetch = self.log.fetch(topic, *p, pos, max)?;
        let mut recs: Vec<_> = fetch.records().collect();
        recs.retain(|r| r.offset < until);
        // Offsets the log skipped were damaged on disk (see `log::damage`). The fetch says
        // where it ended: asking the log for its end afterwards would take records appended
        // in between for damage and skip them.
        let mut at = pos;
        for r in recs.iter().filter(|_| !fetch.sparse()) {
            self.damaged(topic, *p, at, r.offset);
            at = r.offset + 1;
        }
        let next = fetch.next_offset().min(until.max(pos));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, EngineConfig, Session};

    /// A replay up to a committed position reads nothing at or after it, however many records
    /// it may take in one fetch (a partition with gaps holds fewer records than offsets).
    #[test]
    fn a_fetch_until_an_offset_stops_before_it() {
        let engine = Engine::in_memory(EngineConfig::default()).unwrap();
        let sql = "CREATE STREAM s (v INT) WITH (KAFKA_TOPIC='t', PARTITIONS=1, \
                   VALUE_FORMAT='JSON'); INSERT INTO s (v) VALUES (1); \
                   INSERT INTO s (v) VALUES (2); INSERT INTO s (v) VALUES (3); \
                   INSERT INTO s (v) VALUES (4);";
        engine.execute(sql, &mut Session::default()).unwrap();
        let source = engine.source("S").unwrap();
        let fetcher = Fetcher {
            log: engine.log().clone(),
            inputs: Arc::new(vec![(source, vec![true])]),
            parts: Arc::new(vec![(0, "t".to_string(), 0)]),
            plog: engine.plog.clone(),
            query_id: "q".into(),
            fail_on_bad_timestamp: false,
        };
        let (next, batch) = fetcher.fetch_until(0, 1, 100, 3).unwrap().unwrap();
        assert_eq!((next, batch.map(|b| b.num_rows())), (3, Some(2)));
        // At the bound: nothing more.
        assert!(fetcher.fetch_until(0, 3, 100, 3).unwrap().is_none());
        // Without one: the rest.
        let (next, batch) = fetcher.fetch(0, 3).unwrap().unwrap();
        assert_eq!((next, batch.map(|b| b.num_rows())), (4, Some(1)));
    }
}
