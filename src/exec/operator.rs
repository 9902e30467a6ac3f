//! The operator contract: what every stage of a continuous query does, so that the runner
//! (`exec::persistent`), push queries (`exec::push`) and recovery (`exec::recovery`) drive any
//! of them alike. A query's plan becomes one operator ([`build`]): a projection
//! (`exec::Project`: filter, re-key, project), an aggregation (`exec::aggregate::Aggregator`)
//! or a join followed by the operator over its joined rows (`exec::join::JoinThen`).
//!
//! To add an operator: implement [`Operator`] in its own file, with unit tests beside it that
//! feed it small batches (`tests` below has the helpers), and give it a plan variant that
//! [`build`] turns into it.
//!
//! Batches in and out are Arrow `RecordBatch`es. An input batch has the source's row schema
//! (ROWTIME, ROWPARTITION, ROWOFFSET, the tombstone flag, then keys, values and headers, see
//! `plan::QueryPlan`); an output batch has the query's output columns, then (windowed results)
//! WINDOWSTART and WINDOWEND, then ROWTIME, ROWPARTITION, ROWOFFSET and the tombstone flag,
//! which `exec::encode` reads to write the sink's records.

use super::align::Slice;
use super::eval::Failures;
use crate::error::Result;
use crate::plan::QueryPlan;
use datafusion::arrow::array::RecordBatch;

/// Figures an operator keeps about itself, for DESCRIBE EXTENDED, metrics and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Rows of state held (groups, windows, sessions, table rows, buffered stream rows): a
    /// measure of its memory.
    pub state_rows: usize,
    /// Records dropped because their window (or join window) had closed.
    pub late_records: u64,
    /// Rows that reached the query (after a join: the joined rows), not counting a replay.
    pub rows_in: u64,
    /// Of those, the rows its WHERE clause kept.
    pub rows_kept: u64,
    /// Of those, the rows DEDUPLICATE BY let through.
    pub unique: u64,
    /// Rows it emitted.
    pub rows_out: u64,
    /// A join's rows in (both sides) and rows joined, and the part of `state_rows` it holds.
    pub join_in: u64,
    pub joined: u64,
    pub join_state: usize,
}

impl std::ops::Add for Counters {
    type Output = Counters;
    fn add(self, o: Counters) -> Counters {
        Counters {
            state_rows: self.state_rows + o.state_rows,
            late_records: self.late_records + o.late_records,
            rows_in: self.rows_in + o.rows_in,
            rows_kept: self.rows_kept + o.rows_kept,
            unique: self.unique + o.unique,
            rows_out: self.rows_out + o.rows_out,
            join_in: self.join_in + o.join_in,
            joined: self.joined + o.joined,
            join_state: self.join_state + o.join_state,
        }
    }
}

/// A stage of a continuous query: batches in, batches out, state that survives restarts.
///
/// Results must not depend on how the input is batched: processing rows `a` then rows `b`
/// gives the rows of processing `a ++ b` at once, in the same order (windows close at the
/// record that moves stream time past them, wherever it falls in a batch).
pub trait Operator: Send + Sync {
    /// Processes slices of batches of the query's inputs, in the order given (input 0 is the
    /// query's source, or a join's left source; 1 a join's right source), and returns the
    /// output rows they cause, or `None` when there are none.
    ///
    /// With `emit` false the operator is replaying input whose outputs were written before a
    /// restart: it updates its state exactly as with `emit` true and returns nothing.
    ///
    /// A row an expression fails on is not an error: it is logged through `failures` and the
    /// operator goes on (ksqlDB's rule). An error stops the query.
    fn process(
        &mut self,
        batches: &[(usize, Slice)],
        emit: bool,
        failures: &Failures,
    ) -> Result<Option<RecordBatch>>;

    /// The end of a bounded input: open windows close (EMIT FINAL results come out) and rows
    /// waiting for their join windows are emitted. Called once, after the last `process`.
    fn flush(&mut self, failures: &Failures) -> Result<Option<RecordBatch>>;

    /// Whether the operator keeps state between batches (and so has checkpoints).
    fn stateful(&self) -> bool;

    /// The operator's whole state as bytes (`None` when it keeps none), taken between two
    /// calls of `process`. [`restore`](Self::restore) on a new operator of the same plan
    /// gives back an operator that behaves as this one from here on.
    fn checkpoint(&self) -> Result<Option<Vec<u8>>>;

    /// Replaces the operator's state with a [`checkpoint`](Self::checkpoint). A malformed
    /// checkpoint is an error, and leaves the operator to be rebuilt from scratch.
    fn restore(&mut self, data: &[u8]) -> Result<()>;

    /// The operator's [`Counters`].
    fn counters(&self) -> Counters;

    /// Numbers the inputs' partitions for output origins: input `i`'s partition `p` is
    /// `bases[i] + p` (a join reads several inputs, each numbering its partitions from 0).
    fn set_partition_bases(&mut self, _bases: &[i32]) {}
}

/// The operator that runs a query's plan.
pub fn build(plan: &QueryPlan) -> Result<Box<dyn Operator>> {
    Ok(match plan {
        QueryPlan::Stream(p) if p.dedup.is_some() => Box::new(super::dedup::Dedup::new(p)?),
        QueryPlan::Stream(p) => Box::new(super::Project::new(p.clone())),
        QueryPlan::Aggregate(p) => Box::new(super::aggregate::Aggregator::new(p.clone())?),
        QueryPlan::Join(j) => Box::new(super::join::JoinThen::new(j)?),
    })
}

/// The batches as one (none for none).
pub(crate) fn concat(outs: Vec<RecordBatch>) -> Result<Option<RecordBatch>> {
    match outs.first() {
        None => Ok(None),
        Some(first) => Ok(Some(datafusion::arrow::compute::concat_batches(
            &first.schema(),
            &outs,
        )?)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Helpers for operators' unit tests: a plan from SQL text, input batches from columns,
    //! and outputs as text rows.
    use super::*;
    use crate::catalog::{ROWOFFSET, ROWPARTITION, TOMBSTONE};
    use crate::engine::{Engine, EngineConfig, Session};
    use datafusion::arrow::array::{
        new_null_array, ArrayRef, BooleanArray, Int32Array, Int64Array,
    };
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    use std::sync::Arc;

    /// The plan of `query` (a CREATE ... AS SELECT) after the statements of `ddl`.
    pub fn plan(ddl: &str, query: &str) -> QueryPlan {
        let engine = Engine::in_memory(EngineConfig::default()).unwrap();
        let mut session = Session::default();
        engine.execute(ddl, &mut session).unwrap();
        engine.plan_for_test(query, &session).unwrap()
    }

    /// A batch of the plan's input number `i`: ROWTIME `times`, partition 0, offsets from
    /// 0, no tombstones, the named columns given and NULL for the rest.
    pub fn input(
        plan: &QueryPlan,
        i: usize,
        times: &[i64],
        columns: &[(&str, ArrayRef)],
    ) -> RecordBatch {
        let schema = plan.inputs()[i].0.row_schema();
        let n = times.len();
        let arrays = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| -> ArrayRef {
                match i {
                    0 => Arc::new(Int64Array::from(times.to_vec())),
                    1 => Arc::new(Int32Array::from(vec![0; n])),
                    2 => Arc::new(Int64Array::from_iter_values(0..n as i64)),
                    3 => Arc::new(BooleanArray::from(vec![false; n])),
                    _ => columns
                        .iter()
                        .find(|(name, _)| *name == f.name())
                        .map(|(_, a)| a.clone())
                        .unwrap_or_else(|| new_null_array(f.data_type(), n)),
                }
            })
            .collect();
        RecordBatch::try_new(schema, arrays).unwrap()
    }

    /// Processes `batches` (input number, batch) one call each and returns the output rows
    /// as text, `flush` included when asked.
    pub fn run(
        op: &mut dyn Operator,
        batches: &[(usize, RecordBatch)],
        flush: bool,
    ) -> Vec<String> {
        let failures = Failures::silent();
        let mut rows = Vec::new();
        for (input, b) in batches {
            let slice = Slice::whole(0, b.clone());
            rows.extend(text(
                op.process(&[(*input, slice)], true, &failures).unwrap(),
            ));
        }
        if flush {
            rows.extend(text(op.flush(&failures).unwrap()));
        }
        rows
    }

    /// Rows as `name=value` lists (NULL for nulls), ROWPARTITION, ROWOFFSET and the
    /// tombstone flag left out.
    pub fn text(batch: Option<RecordBatch>) -> Vec<String> {
        let Some(b) = batch else {
            return Vec::new();
        };
        let options = FormatOptions::default().with_null("NULL");
        let schema = b.schema();
        let shown: Vec<(usize, ArrayFormatter)> = (0..b.num_columns())
            .filter(|&i| {
                let name = schema.field(i).name();
                ![ROWPARTITION, ROWOFFSET, TOMBSTONE].contains(&name.as_str())
            })
            .map(|i| {
                (
                    i,
                    ArrayFormatter::try_new(b.column(i).as_ref(), &options).unwrap(),
                )
            })
            .collect();
        (0..b.num_rows())
            .map(|r| {
                shown
                    .iter()
                    .map(|(i, f)| {
                        // Hidden columns (`\u{1}WINDOW_START`) as their pseudocolumns.
                        let name = schema.field(*i).name();
                        let name = match name.strip_prefix('\u{1}') {
                            Some(hidden) => hidden.replace('_', ""),
                            None => name.clone(),
                        };
                        format!("{name}={}", f.value(r))
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// The batch's rows one batch each.
    pub fn one_by_one(input: usize, b: &RecordBatch) -> Vec<(usize, RecordBatch)> {
        (0..b.num_rows()).map(|r| (input, b.slice(r, 1))).collect()
    }

    /// BIGINT values.
    pub fn ints(v: &[Option<i64>]) -> ArrayRef {
        Arc::new(Int64Array::from(v.to_vec()))
    }

    #[test]
    fn counters_add_up() {
        let a = Counters {
            state_rows: 2,
            late_records: 1,
            rows_in: 3,
            rows_kept: 4,
            unique: 9,
            rows_out: 5,
            join_in: 6,
            joined: 7,
            join_state: 8,
        };
        assert_eq!(
            a + a,
            Counters {
                state_rows: 4,
                late_records: 2,
                rows_in: 6,
                rows_kept: 8,
                unique: 18,
                rows_out: 10,
                join_in: 12,
                joined: 14,
                join_state: 16,
            }
        );
    }

    /// What an operator counts: rows in (not in a replay), kept by WHERE, out.
    #[test]
    fn operators_count_rows_in_kept_and_out() {
        let ddl = "CREATE STREAM s (id BIGINT KEY, price BIGINT) \
                   WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);";
        let failures = Failures::silent();
        for (query, out) in [
            ("CREATE STREAM o AS SELECT * FROM s WHERE price > 10;", 2),
            (
                "CREATE TABLE o AS SELECT id, COUNT(*) FROM s WHERE price > 10 GROUP BY id;",
                2,
            ),
        ] {
            let p = plan(ddl, query);
            let mut op = build(&p).unwrap();
            let b = input(
                &p,
                0,
                &[1, 2, 3],
                &[
                    ("ID", ints(&[Some(1), Some(1), Some(2)])),
                    ("PRICE", ints(&[Some(5), Some(50), Some(60)])),
                ],
            );
            op.process(&[(0, Slice::whole(0, b.clone()))], false, &failures)
                .unwrap();
            assert_eq!(op.counters().rows_in, 0, "{query}: a replay is not counted");
            op.process(&[(0, Slice::whole(0, b))], true, &failures)
                .unwrap();
            let c = op.counters();
            assert_eq!((c.rows_in, c.rows_kept, c.rows_out), (3, 2, out), "{query}");
        }
    }
}
