//! Execution: continuous queries as tokio tasks over the log. Each batch of records is decoded
//! into Arrow, filtered and projected with compiled expressions, encoded and appended.

pub mod accumulator;
pub mod aggregate;
pub mod align;
pub mod decode;
mod dedup;
pub(crate) mod eval;
pub mod join;
pub mod operator;
pub mod persistent;
pub mod print;
pub mod processing_log;
pub mod push;
mod recovery;
mod unnest;
pub mod windows;

use crate::catalog::{ColumnKind, Source, PSEUDO_COLUMNS};
use crate::error::Result;
use crate::log::{BatchBuilder, Origin};
use crate::plan::{QueryPlan, StreamPlan};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{Field, Int32Type, Int64Type, Schema};
use processing_log::ProcessingLog;
use std::sync::Arc;

/// What a query does with each decoded batch: its plan's [`operator::Operator`].
pub(crate) struct Processor(Box<dyn operator::Operator>);

impl Processor {
    pub fn new(plan: &QueryPlan) -> Result<Self> {
        Ok(Processor(operator::build(plan)?))
    }

    /// The output of a batch of the query's input number `input` (a join's left source is 0,
    /// its right 1): output columns, then the pseudocolumns (see [`evaluate`]).
    pub fn process(
        &mut self,
        input: usize,
        batch: &RecordBatch,
        plog: &ProcessingLog,
        query_id: &str,
    ) -> Result<Option<RecordBatch>> {
        let whole = align::Slice::whole(0, batch.clone());
        self.process_many(&[(input, whole)], plog, query_id)
    }

    /// Processes batches of the query's inputs in order (see [`process`](Self::process)): a
    /// join joins them all before the query over its rows runs once.
    pub fn process_many(
        &mut self,
        batches: &[(usize, align::Slice)],
        plog: &ProcessingLog,
        query_id: &str,
    ) -> Result<Option<RecordBatch>> {
        let failures = eval::Failures::new(plog, query_id);
        self.0.process(batches, true, &failures)
    }

    /// The operator's state, for a checkpoint (none for stateless queries).
    pub fn checkpoint(&self) -> Result<Option<Vec<u8>>> {
        self.0.checkpoint()
    }

    /// See [`operator::Operator::set_partition_bases`].
    pub fn set_partition_bases(&mut self, bases: &[i32]) {
        self.0.set_partition_bases(bases)
    }

    /// Replaces the state with a [`checkpoint`](Self::checkpoint).
    pub fn restore(&mut self, data: &[u8]) -> Result<()> {
        self.0.restore(data)
    }

    /// Rebuilds state from input whose outputs were written before: nothing is emitted.
    pub fn replay(&mut self, batches: &[(usize, align::Slice)]) -> Result<()> {
        self.0
            .process(batches, false, &eval::Failures::silent())
            .map(|_| ())
    }

    /// The operator's [`operator::Counters`].
    pub fn counters(&self) -> operator::Counters {
        self.0.counters()
    }

    /// Records dropped because their windows had closed.
    pub fn late_records(&self) -> u64 {
        self.0.counters().late_records
    }

    /// Whether the query keeps state (and so has checkpoints and flushes).
    pub fn stateful(&self) -> bool {
        self.0.stateful()
    }

    /// The end of a bounded input: open windows close (EMIT FINAL gives their results).
    /// A join emits its rows still waiting for their windows to close.
    pub fn flush(&mut self, plog: &ProcessingLog, query_id: &str) -> Result<Option<RecordBatch>> {
        self.0.flush(&eval::Failures::new(plog, query_id))
    }
}

/// Filtering, re-keying and projecting (a query without aggregation or join): stateless.
pub(crate) struct Project {
    plan: StreamPlan,
    /// Rows in and out (see [`operator::Counters`]).
    rows_in: u64,
    rows_out: u64,
}

impl Project {
    pub fn new(plan: StreamPlan) -> Self {
        Project {
            plan,
            rows_in: 0,
            rows_out: 0,
        }
    }
}

impl operator::Operator for Project {
    fn process(
        &mut self,
        batches: &[(usize, align::Slice)],
        emit: bool,
        failures: &eval::Failures,
    ) -> Result<Option<RecordBatch>> {
        if !emit {
            return Ok(None);
        }
        let outs = batches
            .iter()
            .filter_map(|(_, s)| evaluate_with(&self.plan, &s.rows(), failures))
            .collect();
        let out = operator::concat(outs)?;
        self.rows_in += batches.iter().map(|(_, s)| s.len as u64).sum::<u64>();
        self.rows_out += out.as_ref().map_or(0, |b| b.num_rows() as u64);
        Ok(out)
    }

    fn flush(&mut self, _: &eval::Failures) -> Result<Option<RecordBatch>> {
        Ok(None)
    }

    fn stateful(&self) -> bool {
        false
    }

    fn checkpoint(&self) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    fn restore(&mut self, _: &[u8]) -> Result<()> {
        Ok(())
    }

    /// Rows kept by the filter are the rows out, but for EXPLODE (which makes more).
    fn counters(&self) -> operator::Counters {
        operator::Counters {
            rows_in: self.rows_in,
            rows_kept: if self.plan.explode.is_empty() {
                self.rows_out
            } else {
                0
            },
            rows_out: self.rows_out,
            ..operator::Counters::default()
        }
    }
}

/// Records read per partition per step.
pub const BATCH: usize = 8192;

/// Filters and projects a decoded batch. The result has the plan's output columns followed by
/// the input's pseudocolumns (ROWTIME, ROWPARTITION, ROWOFFSET, tombstone flag). An expression
/// that fails is NULL (a filter false) for the rows it fails on (`eval`); a batch that fails
/// otherwise (re-keying) is evaluated row by row, so that only the failing rows are skipped
/// (and logged).
pub fn evaluate(
    plan: &StreamPlan,
    batch: &RecordBatch,
    plog: &ProcessingLog,
    query_id: &str,
) -> Option<RecordBatch> {
    evaluate_with(plan, batch, &eval::Failures::new(plog, query_id))
}

/// [`evaluate`], failures reported to `failures`.
fn evaluate_with(
    plan: &StreamPlan,
    batch: &RecordBatch,
    failures: &eval::Failures,
) -> Option<RecordBatch> {
    match evaluate_batch(plan, batch, failures) {
        Ok(b) => Some(b),
        Err(_) if batch.num_rows() > 1 => {
            let parts: Vec<RecordBatch> = (0..batch.num_rows())
                .filter_map(|i| evaluate_with(plan, &batch.slice(i, 1), failures))
                .collect();
            let first = parts.first()?;
            datafusion::arrow::compute::concat_batches(&first.schema(), &parts).ok()
        }
        Err(e) => {
            failures.report(&e);
            None
        }
    }
}

/// The rows of a stream batch that `filter` keeps: a record with no value has nothing to
/// match, and ksqlDB's filter drops it.
pub(crate) fn stream_rows_matching(
    filter: &crate::plan::expr::PhysExpr,
    batch: &RecordBatch,
    failures: &eval::Failures,
) -> Result<RecordBatch> {
    let keep = datafusion::arrow::compute::and(
        &eval::mask(filter, batch, failures)?,
        &datafusion::arrow::compute::not(batch.column(3).as_boolean())?,
    )?;
    Ok(filter_record_batch(batch, &keep)?)
}

fn evaluate_batch(
    plan: &StreamPlan,
    batch: &RecordBatch,
    failures: &eval::Failures,
) -> Result<RecordBatch> {
    let input = match &plan.filter {
        // Over a table, a row the filter rejects becomes its key's deletion.
        Some(f) if plan.retract_filtered => {
            let deleted = datafusion::arrow::compute::or(
                &datafusion::arrow::compute::not(&eval::mask(f, batch, failures)?)?,
                batch.column(3).as_boolean(),
            )?;
            let mut columns = batch.columns().to_vec();
            columns[3] = Arc::new(deleted);
            RecordBatch::try_new(batch.schema(), columns)?
        }
        // A table's deletions pass any filter: the row is gone whatever it held.
        Some(f) if plan.source.kind == crate::sql::ast::SourceKind::Table => {
            let keep = datafusion::arrow::compute::or(
                &eval::mask(f, batch, failures)?,
                batch.column(3).as_boolean(),
            )?;
            filter_record_batch(batch, &keep)?
        }
        Some(f) => stream_rows_matching(f, batch, failures)?,
        None => batch.clone(),
    };
    let input = match &plan.rekey {
        Some(r) => {
            let mut columns: Vec<ArrayRef> = input.columns()[..PSEUDO_COLUMNS].to_vec();
            // Over a record with no value, PARTITION BY keeps the source's key columns it
            // names and gives NULL for every other expression, as ksqlDB does.
            let tombstone = input.column(3).as_boolean();
            for (k, &from_source_key) in r.keys.iter().zip(&r.from_source_key) {
                // A key that fails to evaluate is NULL for that record (logged), as ksqlDB's.
                let key = eval::column(k, None, &input, failures)?;
                columns.push(if from_source_key {
                    key
                } else {
                    datafusion::arrow::compute::nullif(&key, tombstone)?
                });
            }
            for (i, &c) in r.carry.iter().enumerate() {
                let target = r
                    .schema
                    .field(PSEUDO_COLUMNS + r.keys.len() + i)
                    .data_type();
                let a = input.column(c).clone();
                columns.push(if a.data_type() == target {
                    a
                } else {
                    cast(&a, target)?
                });
            }
            for (i, a) in columns
                .iter_mut()
                .enumerate()
                .skip(PSEUDO_COLUMNS)
                .take(r.keys.len())
            {
                let target = r.schema.field(i).data_type();
                if a.data_type() != target {
                    *a = cast(a, target)?;
                }
            }
            RecordBatch::try_new(r.schema.clone(), columns)?
        }
        None => input,
    };
    let mut fields = Vec::with_capacity(plan.output.len() + PSEUDO_COLUMNS);
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(plan.output.len() + PSEUDO_COLUMNS);
    for (i, out) in plan.output.iter().enumerate() {
        if plan.explode.contains(&i) {
            // Lists, unnested below.
            let a = eval::column(&out.expr, None, &input, failures)?;
            fields.push(Field::new(&out.column.name, a.data_type().clone(), true));
            arrays.push(a);
            continue;
        }
        let target = out.column.ty.to_arrow();
        let a = eval::column(&out.expr, Some(&target), &input, failures)?;
        fields.push(Field::new(&out.column.name, target, true));
        arrays.push(a);
    }
    // A windowed input's records keep their windows.
    for (from, to) in [
        (crate::catalog::WINDOWSTART, crate::catalog::WINDOW_START),
        (crate::catalog::WINDOWEND, crate::catalog::WINDOW_END),
    ] {
        if let Some(a) = input.column_by_name(from) {
            fields.push(Field::new(to, a.data_type().clone(), true));
            arrays.push(a.clone());
        }
    }
    for i in 0..PSEUDO_COLUMNS {
        fields.push(input.schema().field(i).clone());
        arrays.push(input.column(i).clone());
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
    if plan.explode.is_empty() {
        return Ok(batch);
    }
    unnest::unnest(&batch, &plan.explode, &plan.output)
}

/// Kafka's default partitioner: murmur2 of the key bytes.
pub fn partition_for(key: Option<&[u8]>, partitions: u32, fallback: u32) -> u32 {
    match key {
        Some(k) if partitions > 1 => (murmur2(k) & 0x7fff_ffff) % partitions,
        _ => fallback % partitions.max(1),
    }
}

fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let chunks = data.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    match rest.len() {
        3 => {
            h ^= (rest[2] as u32) << 16;
            h ^= (rest[1] as u32) << 8;
            h ^= rest[0] as u32;
            h = h.wrapping_mul(M);
        }
        2 => {
            h ^= (rest[1] as u32) << 8;
            h ^= rest[0] as u32;
            h = h.wrapping_mul(M);
        }
        1 => {
            h ^= rest[0] as u32;
            h = h.wrapping_mul(M);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

/// The value of a row with no value columns: `{}` in JSON, empty bytes otherwise.
fn empty_value(sink: &Source) -> &'static [u8] {
    match sink.value_format.format {
        crate::format::Format::Json if sink.value_format.wrap_single => b"{}",
        _ => b"",
    }
}

/// The rows of an evaluated batch encoded for a sink: their keys and values side by side in
/// one buffer, so encoding a batch allocates nothing per row.
#[derive(Debug, Default)]
pub struct Encoded {
    bytes: Vec<u8>,
    rows: Vec<EncodedRow>,
}

/// One encoded row: its sink partition, where its key and value are in [`Encoded`], its
/// timestamp and origin.
#[derive(Debug, Clone, Copy)]
pub struct EncodedRow {
    pub partition: u32,
    key: Option<(usize, usize)>,
    value: Option<(usize, usize)>,
    pub timestamp: i64,
    pub origin: Option<Origin>,
}

impl Encoded {
    pub fn rows(&self) -> &[EncodedRow] {
        &self.rows
    }

    pub fn key(&self, row: &EncodedRow) -> Option<&[u8]> {
        row.key.map(|(a, b)| &self.bytes[a..b])
    }

    /// `None` is a tombstone.
    pub fn value(&self, row: &EncodedRow) -> Option<&[u8]> {
        row.value.map(|(a, b)| &self.bytes[a..b])
    }

    /// Adds a row to `batch` (its origin replaced by `origin` when given).
    pub fn push_to(&self, row: &EncodedRow, batch: &mut BatchBuilder, origin: Option<Origin>) {
        let headers = crate::log::HeadersRef::Owned(&[]);
        let (key, value) = (self.key(row), self.value(row));
        batch.push(row.timestamp, key, value, headers, origin.or(row.origin));
    }
}

/// Encodes an evaluated batch for `sink`: a partition, key and value per row. With
/// `keyless_null` (the query passes its input's key on, [`crate::plan::QueryPlan::passes_key`]),
/// a row whose key columns are all NULL is written with no key, as it was read.
pub fn encode(
    out: &RecordBatch,
    sink: &Source,
    partitions: u32,
    producer: Option<u64>,
    keyless_null: bool,
) -> Result<Encoded> {
    let cols = |kind: ColumnKind| -> Vec<(&str, &crate::catalog::types::SqlType, &ArrayRef)> {
        sink.columns
            .iter()
            .filter(|c| c.kind == kind)
            .filter_map(|c| Some((c.name.as_str(), &c.ty, out.column_by_name(&c.name)?)))
            .collect()
    };
    let (keys, values) = (cols(ColumnKind::Key), cols(ColumnKind::Value));
    crate::format::json::check_types(&keys)?;
    crate::format::json::check_types(&values)?;
    let n = out.num_columns() - PSEUDO_COLUMNS;
    let rowtime = out.column(n).as_primitive::<Int64Type>();
    let in_part = out.column(n + 1).as_primitive::<Int32Type>();
    let in_off = out.column(n + 2).as_primitive::<Int64Type>();
    let tombstone = out.column(n + 3).as_boolean();
    let window_bound = |name| {
        out.column_by_name(name)
            .map(|a| a.as_primitive::<Int64Type>().clone())
    };
    let window_start = window_bound(crate::catalog::WINDOW_START);
    // Session keys also carry the window end, before the start.
    let window_end = match sink.window {
        Some(w) if w.kind == crate::catalog::WindowType::Session => {
            window_bound(crate::catalog::WINDOW_END)
        }
        _ => None,
    };
    // The sink's timestamp column: BIGINT or TIMESTAMP, or a STRING in its TIMESTAMP_FORMAT.
    let ts_col = sink
        .timestamp
        .as_ref()
        .and_then(|(c, _)| out.column_by_name(c));
    let ts_pattern = match sink.timestamp.as_ref().and_then(|(_, f)| f.as_deref()) {
        Some(f) => Some(
            crate::functions::datetime::JavaPattern::new(f)
                .map_err(crate::error::Error::generic)?,
        ),
        None => None,
    };
    let mut enc = Encoded {
        bytes: Vec::with_capacity(out.num_rows() * 64),
        rows: Vec::with_capacity(out.num_rows()),
    };
    for row in 0..out.num_rows() {
        let timestamp = match &ts_col {
            // ksqlDB drops a record whose timestamp column is null or negative.
            Some(a) => match decode::event_time(a, row, ts_pattern.as_ref()) {
                Some(t) => t,
                None => {
                    tracing::warn!(sink = %sink.name, "dropped a record with an invalid timestamp");
                    continue;
                }
            },
            None => rowtime.value(row),
        };
        let bytes = &mut enc.bytes;
        let at = bytes.len();
        let has_key = !(keyless_null && keys.iter().all(|(_, _, a)| a.is_null(row)))
            && sink.key_format.encode_into(&keys, row, bytes)?;
        let partition = partition_for(
            has_key.then(|| &bytes[at..]),
            partitions,
            in_part.value(row) as u32,
        );
        // A time-windowed key is the key followed by the window start; a session key, by the
        // window end and start.
        let key = match &window_start {
            Some(ws) => {
                if let Some(we) = &window_end {
                    bytes.extend_from_slice(&we.value(row).to_be_bytes());
                }
                bytes.extend_from_slice(&ws.value(row).to_be_bytes());
                Some((at, bytes.len()))
            }
            None => has_key.then_some((at, bytes.len())),
        };
        let at = bytes.len();
        let value = if tombstone.value(row) {
            None
        } else {
            if !sink.value_format.encode_into(&values, row, bytes)? {
                bytes.extend_from_slice(empty_value(sink));
            }
            Some((at, bytes.len()))
        };
        let origin = producer.map(|producer| Origin {
            producer,
            partition: in_part.value(row) as u32,
            offset: in_off.value(row) as u64,
        });
        enc.rows.push(EncodedRow {
            partition,
            key,
            value,
            timestamp,
            origin,
        });
    }
    Ok(enc)
}

#[cfg(test)]
mod tests {
    use super::operator::tests::{input, ints, plan, run};
    use datafusion::arrow::array::{ArrayRef, StringArray};
    use std::sync::Arc;

    #[test]
    fn a_projection_filters_computes_and_keeps_no_state() {
        let plan = plan(
            "CREATE STREAM s (id BIGINT KEY, price BIGINT, name STRING) \
             WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);",
            "CREATE STREAM o AS SELECT id, price * 2 AS p, UCASE(name) AS n FROM s \
             WHERE price > 10 EMIT CHANGES;",
        );
        let names: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c", "d"]));
        let batch = input(
            &plan,
            0,
            &[10, 20, 30, 40],
            &[
                ("ID", ints(&[Some(1), Some(2), Some(3), Some(4)])),
                ("PRICE", ints(&[Some(5), Some(20), None, Some(11)])),
                ("NAME", names),
            ],
        );
        let mut op = super::operator::build(&plan).unwrap();
        let rows = run(op.as_mut(), &[(0, batch)], true);
        assert_eq!(
            rows,
            ["ID=2 P=40 N=B ROWTIME=20", "ID=4 P=22 N=D ROWTIME=40"],
            "NULL > 10 is not true, 5 > 10 is false"
        );
        assert!(!op.stateful());
        assert!(op.checkpoint().unwrap().is_none());
        assert_eq!(op.counters().state_rows, 0);
    }

    #[test]
    fn murmur2_matches_kafka() {
        // Values from Kafka's own partitioner tests (Utils.murmur2).
        assert_eq!(super::murmur2(b"21") as i32, -973932308);
        assert_eq!(super::murmur2(b"foobar") as i32, -790332482);
        assert_eq!(
            super::murmur2(b"a-little-bit-long-string") as i32,
            -985981536
        );
    }
}
