//! `DEDUPLICATE BY keys WITHIN bound` (beyond ksqlDB): the first row per key within a bound
//! of event time, then the query's projection over the rows kept.
//!
//! The rule, row by row in input order (so results do not depend on batching):
//! - stream time is the largest ROWTIME seen; a row older than stream time minus the bound
//!   is late: dropped and counted, as a windowed aggregation drops records past its grace;
//! - a row whose keys were kept at a time less than the bound away from its own (before or
//!   after it: an earlier copy may arrive second) is a duplicate, dropped;
//! - any other row is kept, and its keys remembered at its time;
//! - a row with a NULL key is kept and not remembered (it identifies nothing).
//!
//! State is one entry per key kept within the bound of stream time, in a hash map keyed by
//! the keys' row encoding; entries that fall out of the bound are swept as stream time moves
//! on, so the state never holds more than the keys of one bound of input.

use super::align::Slice;
use super::eval::{self, Failures};
use super::operator::{self, Counters, Operator};
use super::Project;
use crate::error::{Error, Result};
use crate::plan::{DedupPlan, StreamPlan};
use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::row::{RowConverter, SortField};
use hashbrown::HashMap;

pub(crate) struct Dedup {
    plan: DedupPlan,
    filter: Option<crate::plan::expr::PhysExpr>,
    converter: RowConverter,
    /// Each key kept, with the event time of the row kept.
    seen: HashMap<Box<[u8]>, i64>,
    stream_time: i64,
    /// Stream time at the last sweep of entries out of the bound.
    swept: i64,
    late: u64,
    rows_in: u64,
    rows_kept: u64,
    unique: u64,
    /// The projection over the rows kept (the plan without its filter and this stage).
    then: Project,
}

impl Dedup {
    pub fn new(plan: &StreamPlan) -> Result<Dedup> {
        let dedup = plan
            .dedup
            .clone()
            .ok_or_else(|| Error::generic("a DEDUPLICATE BY stage without its plan"))?;
        let fields = dedup
            .keys
            .iter()
            .map(|k| Ok(SortField::new(k.data_type(&plan.input_schema)?)))
            .collect::<Result<Vec<_>>>()?;
        let then = StreamPlan {
            filter: None,
            dedup: None,
            ..plan.clone()
        };
        Ok(Dedup {
            plan: dedup,
            filter: plan.filter.clone(),
            converter: RowConverter::new(fields)?,
            seen: HashMap::new(),
            stream_time: i64::MIN,
            swept: i64::MIN,
            late: 0,
            rows_in: 0,
            rows_kept: 0,
            unique: 0,
            then: Project::new(then),
        })
    }

    /// The rows of `batch` the WHERE clause keeps (as a stream query's filter keeps them).
    fn filtered(&self, batch: &RecordBatch, failures: &Failures) -> Result<RecordBatch> {
        match &self.filter {
            Some(f) => super::stream_rows_matching(f, batch, failures),
            None => Ok(batch.clone()),
        }
    }

    /// Which rows of `batch` are kept (see the module's rule); updates the state.
    fn first_seen(&mut self, batch: &RecordBatch, failures: &Failures) -> Result<BooleanArray> {
        let keys = self
            .plan
            .keys
            .iter()
            .map(|k| eval::column(k, None, batch, failures))
            .collect::<Result<Vec<_>>>()?;
        let rows = self.converter.convert_columns(&keys)?;
        let times = batch.column(0).as_primitive::<Int64Type>();
        let bound = self.plan.within_ms;
        let mut keep = Vec::with_capacity(batch.num_rows());
        for i in 0..batch.num_rows() {
            let t = times.value(i);
            self.stream_time = self.stream_time.max(t);
            if t < self.stream_time.saturating_sub(bound) {
                self.late += 1;
                keep.push(false);
                continue;
            }
            if keys.iter().any(|k| k.is_null(i)) {
                keep.push(true);
                continue;
            }
            let row = rows.row(i);
            let kept = match self.seen.get_mut(row.as_ref()) {
                Some(at) if t.abs_diff(*at) < bound as u64 => false,
                Some(at) => {
                    *at = t;
                    true
                }
                None => {
                    self.seen.insert(row.as_ref().into(), t);
                    true
                }
            };
            keep.push(kept);
        }
        self.sweep();
        Ok(BooleanArray::from(keep))
    }

    /// Forgets keys kept before stream time minus the bound, once stream time has moved a
    /// quarter of the bound since the last sweep (so a sweep's cost is spread over the rows
    /// of a quarter bound).
    fn sweep(&mut self) {
        let bound = self.plan.within_ms;
        if self.stream_time.saturating_sub(self.swept) < (bound / 4).max(1) {
            return;
        }
        let oldest = self.stream_time.saturating_sub(bound);
        self.seen.retain(|_, at| *at >= oldest);
        self.swept = self.stream_time;
    }
}

impl Operator for Dedup {
    fn process(
        &mut self,
        batches: &[(usize, Slice)],
        emit: bool,
        failures: &Failures,
    ) -> Result<Option<RecordBatch>> {
        let mut outs = Vec::new();
        for (i, s) in batches {
            let rows = s.rows();
            let filtered = self.filtered(&rows, failures)?;
            let keep = self.first_seen(&filtered, failures)?;
            if !emit {
                continue;
            }
            self.rows_in += rows.num_rows() as u64;
            self.rows_kept += filtered.num_rows() as u64;
            let unique = filter_record_batch(&filtered, &keep)?;
            self.unique += unique.num_rows() as u64;
            if unique.num_rows() > 0 {
                let whole = Slice::whole(s.g, unique);
                outs.extend(self.then.process(&[(*i, whole)], true, failures)?);
            }
        }
        operator::concat(outs)
    }

    fn flush(&mut self, _: &Failures) -> Result<Option<RecordBatch>> {
        Ok(None)
    }

    fn stateful(&self) -> bool {
        true
    }

    /// Stream time, the sweep's mark, late records, then each key with its time.
    fn checkpoint(&self) -> Result<Option<Vec<u8>>> {
        let mut out = Vec::with_capacity(32 + self.seen.len() * 24);
        for v in [self.stream_time, self.swept, self.late as i64] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&(self.seen.len() as u64).to_le_bytes());
        for (key, at) in &self.seen {
            out.extend_from_slice(&(key.len() as u32).to_le_bytes());
            out.extend_from_slice(key);
            out.extend_from_slice(&at.to_le_bytes());
        }
        Ok(Some(out))
    }

    fn restore(&mut self, data: &[u8]) -> Result<()> {
        let mut r = Reader(data);
        let (stream_time, swept) = (r.int(8)?, r.int(8)?);
        let (late, n) = (r.int(8)? as u64, r.int(8)? as u64);
        let mut seen = HashMap::new();
        for _ in 0..n {
            let len = r.int(4)? as usize;
            let key: Box<[u8]> = r.bytes(len)?.into();
            seen.insert(key, r.int(8)?);
        }
        if !r.0.is_empty() {
            return Err(malformed());
        }
        (self.stream_time, self.swept, self.late, self.seen) = (stream_time, swept, late, seen);
        Ok(())
    }

    fn counters(&self) -> Counters {
        let then = self.then.counters();
        Counters {
            state_rows: self.seen.len(),
            late_records: self.late,
            rows_in: self.rows_in,
            rows_kept: self.rows_kept,
            unique: self.unique,
            rows_out: then.rows_out,
            ..Counters::default()
        }
    }
}

fn malformed() -> Error {
    Error::generic("malformed DEDUPLICATE BY checkpoint")
}

/// Reads a checkpoint front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n).ok_or_else(malformed)?;
        self.0 = tail;
        Ok(head)
    }

    /// A little-endian integer of `n` (4 or 8) bytes.
    fn int(&mut self, n: usize) -> Result<i64> {
        let mut bytes = [0u8; 8];
        bytes[..n].copy_from_slice(self.bytes(n)?);
        Ok(i64::from_le_bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use crate::exec::eval::Failures;
    use crate::exec::operator::build;
    use crate::exec::operator::tests::{input, ints, one_by_one, plan, run};
    use crate::plan::QueryPlan;
    use datafusion::arrow::array::RecordBatch;

    const DDL: &str = "CREATE STREAM s (id BIGINT, price BIGINT) \
                       WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);";
    const QUERY: &str =
        "CREATE STREAM o AS SELECT id, price FROM s WHERE price > 0 DEDUPLICATE BY id WITHIN 10 SECONDS;";

    /// id 1 at 0 s, a copy at 5 s, id 2 at 6 s, id 1 again at 11 s (past the bound: new),
    /// id 3 at 0.5 s (late: stream time is 11 s), a NULL id twice, a filtered row.
    fn events(plan: &QueryPlan) -> RecordBatch {
        let ids = ints(&[
            Some(1),
            Some(1),
            Some(2),
            Some(1),
            Some(3),
            None,
            None,
            Some(4),
        ]);
        let prices = ints(&[
            Some(1),
            Some(2),
            Some(3),
            Some(4),
            Some(5),
            Some(6),
            Some(7),
            Some(-1),
        ]);
        let times = [0, 5_000, 6_000, 11_000, 500, 11_000, 11_000, 11_000];
        input(plan, 0, &times, &[("ID", ids), ("PRICE", prices)])
    }

    const KEPT: [&str; 5] = [
        "ID=1 PRICE=1 ROWTIME=0",
        "ID=2 PRICE=3 ROWTIME=6000",
        "ID=1 PRICE=4 ROWTIME=11000",
        "ID=NULL PRICE=6 ROWTIME=11000",
        "ID=NULL PRICE=7 ROWTIME=11000",
    ];

    #[test]
    fn keeps_the_first_row_per_key_within_the_bound_however_batched() {
        let p = plan(DDL, QUERY);
        let b = events(&p);
        let whole = run(build(&p).unwrap().as_mut(), &[(0, b.clone())], false);
        assert_eq!(whole, KEPT);
        let mut op = build(&p).unwrap();
        let single = run(op.as_mut(), &one_by_one(0, &b), false);
        assert_eq!(single, KEPT);
        let c = op.counters();
        assert_eq!((c.rows_in, c.rows_kept, c.unique, c.rows_out), (8, 7, 5, 5));
        assert_eq!(c.late_records, 1);
        // Keys 1 (kept at 11 s) and 2 (6 s) are within 10 s of stream time.
        assert_eq!(c.state_rows, 2);
    }

    #[test]
    fn state_holds_only_the_keys_of_one_bound() {
        let p = plan(DDL, QUERY);
        let mut op = build(&p).unwrap();
        // A new key every 100 ms for 100 s: the bound holds 100 of them.
        for chunk in 0..10 {
            let ids: Vec<Option<i64>> = (0..100).map(|i| Some(chunk * 100 + i)).collect();
            let times: Vec<i64> = (0..100).map(|i| (chunk * 100 + i) * 100).collect();
            let prices = ints(&vec![Some(1); 100]);
            let b = input(&p, 0, &times, &[("ID", ints(&ids)), ("PRICE", prices)]);
            assert_eq!(run(op.as_mut(), &[(0, b)], false).len(), 100);
            assert!(op.counters().state_rows <= 100 + 25, "{:?}", op.counters());
        }
    }

    #[test]
    fn a_restored_checkpoint_remembers_the_keys_and_a_replay_emits_nothing() {
        let p = plan(DDL, QUERY);
        let b = events(&p);
        let mut op = build(&p).unwrap();
        let (first, rest) = (b.slice(0, 3), b.slice(3, 5));
        let failures = Failures::silent();
        let slice = |b: &RecordBatch| crate::exec::align::Slice::whole(0, b.clone());
        // A replay updates the state and emits nothing.
        assert!(op
            .process(&[(0, slice(&first))], false, &failures)
            .unwrap()
            .is_none());
        let saved = op.checkpoint().unwrap().unwrap();
        let mut restored = build(&p).unwrap();
        restored.restore(&saved).unwrap();
        assert_eq!(restored.checkpoint().unwrap().unwrap().len(), saved.len());
        assert_eq!(run(restored.as_mut(), &[(0, rest)], false), KEPT[2..]);
        // A damaged checkpoint is refused, not half applied.
        assert!(build(&p)
            .unwrap()
            .restore(&saved[..saved.len() - 3])
            .is_err());
        assert!(build(&p).unwrap().restore(&[1, 2, 3]).is_err());
    }
}
