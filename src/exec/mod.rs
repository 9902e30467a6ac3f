//! Execution: continuous queries as tokio tasks over the log. Each batch of records is decoded
//! into Arrow, filtered and projected with compiled expressions, encoded and appended.

pub mod accumulator;
pub mod aggregate;
pub mod align;
pub mod decode;
pub(crate) mod eval;
pub mod join;
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

/// What a query does with each decoded batch.
pub(crate) enum Processor {
    Stream(StreamPlan),
    Aggregate(Box<aggregate::Aggregator>),
    /// A join, then the query over its joined rows.
    Join(Box<join::Joiner>, Box<Processor>),
}

impl Processor {
    pub fn new(plan: &QueryPlan) -> Result<Self> {
        Ok(match plan {
            QueryPlan::Stream(p) => Processor::Stream(p.clone()),
            QueryPlan::Aggregate(p) => {
                Processor::Aggregate(Box::new(aggregate::Aggregator::new(p.clone())?))
            }
            QueryPlan::Join(j) => Processor::Join(
                Box::new(join::Joiner::new(j.join.clone())?),
                Box::new(Processor::new(&j.then)?),
            ),
        })
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
        match self {
            Processor::Stream(plan) => Ok(evaluate(plan, batch, plog, query_id)),
            Processor::Aggregate(agg) => {
                agg.process(batch, true, &eval::Failures::new(plog, query_id))
            }
            Processor::Join(..) => self.process_many(
                &[(input, align::Slice::whole(0, batch.clone()))],
                plog,
                query_id,
            ),
        }
    }

    /// Processes batches of the query's inputs in order (see [`process`](Self::process)): a
    /// join joins them all before the query over its rows runs once.
    pub fn process_many(
        &mut self,
        batches: &[(usize, align::Slice)],
        plog: &ProcessingLog,
        query_id: &str,
    ) -> Result<Option<RecordBatch>> {
        match self {
            Processor::Join(join, then) => {
                let joined = join.process(batches, &eval::Failures::new(plog, query_id))?;
                if joined.num_rows() == 0 {
                    return Ok(None);
                }
                then.process(0, &joined, plog, query_id)
            }
            _ => {
                let mut outs = Vec::new();
                for (input, slice) in batches {
                    outs.extend(self.process(*input, &slice.rows(), plog, query_id)?);
                }
                concat(outs)
            }
        }
    }

    /// The operator's state, for a checkpoint (none for stateless queries).
    pub fn checkpoint(&self) -> Result<Option<Vec<u8>>> {
        match self {
            Processor::Stream(_) => Ok(None),
            Processor::Aggregate(agg) => agg.checkpoint().map(Some),
            // The join's state, then the state of the query over its rows.
            Processor::Join(join, then) => {
                let mut out = Vec::new();
                let state = join.checkpoint();
                out.extend_from_slice(&(state.len() as u64).to_le_bytes());
                out.extend_from_slice(&state);
                out.extend(then.checkpoint()?.unwrap_or_default());
                Ok(Some(out))
            }
        }
    }

    /// Numbers the inputs' partitions for output origins: input `i`'s partition `p` is
    /// `bases[i] + p` (a join reads several inputs, each numbering its partitions from 0).
    pub fn set_partition_bases(&mut self, bases: &[i32]) {
        if let Processor::Join(join, _) = self {
            join.set_partition_bases(bases);
        }
    }

    /// Replaces the state with a [`checkpoint`](Self::checkpoint).
    pub fn restore(&mut self, data: &[u8]) -> Result<()> {
        match self {
            Processor::Stream(_) => Ok(()),
            Processor::Aggregate(agg) => agg.restore(data),
            Processor::Join(join, then) => {
                let malformed = || crate::error::Error::generic("malformed join checkpoint");
                let (len, rest) = data.split_first_chunk::<8>().ok_or_else(malformed)?;
                let len = u64::from_le_bytes(*len) as usize;
                if rest.len() < len {
                    return Err(malformed());
                }
                join.restore(&rest[..len])?;
                then.restore(&rest[len..])
            }
        }
    }

    /// Rebuilds state from input whose outputs were written before: nothing is emitted.
    pub fn replay(&mut self, batches: &[(usize, align::Slice)]) -> Result<()> {
        match self {
            Processor::Stream(_) => Ok(()),
            Processor::Aggregate(agg) => {
                for (_, s) in batches {
                    agg.process(&s.rows(), false, &eval::Failures::silent())?;
                }
                Ok(())
            }
            Processor::Join(join, then) => {
                let joined = join.process(batches, &eval::Failures::silent())?;
                then.replay(&[(0, align::Slice::whole(0, joined))])
            }
        }
    }

    /// Records dropped because their windows had closed.
    /// How many rows of state the query holds (see `Aggregator::state_rows`).
    pub fn state_rows(&self) -> usize {
        match self {
            Processor::Stream(_) => 0,
            Processor::Aggregate(agg) => agg.state_rows(),
            Processor::Join(join, then) => join.state_rows() + then.state_rows(),
        }
    }

    pub fn late_records(&self) -> u64 {
        match self {
            Processor::Stream(_) => 0,
            Processor::Aggregate(agg) => agg.late_records(),
            Processor::Join(join, then) => join.late_records() + then.late_records(),
        }
    }

    /// The end of a bounded input: open windows close (EMIT FINAL gives their results).
    /// A join emits its rows still waiting for their windows to close.
    pub fn flush(&mut self, plog: &ProcessingLog, query_id: &str) -> Result<Option<RecordBatch>> {
        match self {
            Processor::Stream(_) => Ok(None),
            Processor::Aggregate(agg) => agg.flush(&eval::Failures::new(plog, query_id)),
            Processor::Join(join, then) => {
                let joined = join.flush(&eval::Failures::new(plog, query_id))?;
                let mut outs = Vec::new();
                if joined.num_rows() > 0 {
                    outs.extend(then.process(0, &joined, plog, query_id)?);
                }
                outs.extend(then.flush(plog, query_id)?);
                concat(outs)
            }
        }
    }
}

/// The batches as one (none for none).
fn concat(outs: Vec<RecordBatch>) -> Result<Option<RecordBatch>> {
    match outs.first() {
        None => Ok(None),
        Some(first) => Ok(Some(datafusion::arrow::compute::concat_batches(
            &first.schema(),
            &outs,
        )?)),
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
    let failures = eval::Failures::new(plog, query_id);
    match evaluate_batch(plan, batch, &failures) {
        Ok(b) => Some(b),
        Err(_) if batch.num_rows() > 1 => {
            let parts: Vec<RecordBatch> = (0..batch.num_rows())
                .filter_map(|i| evaluate(plan, &batch.slice(i, 1), plog, query_id))
                .collect();
            let first = parts.first()?;
            datafusion::arrow::compute::concat_batches(&first.schema(), &parts).ok()
        }
        Err(e) => {
            plog.processing_error(query_id, &e.to_string());
            None
        }
    }
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
        // A stream record with no value has nothing to match: ksqlDB's filter drops it.
        Some(f) => {
            let keep = datafusion::arrow::compute::and(
                &eval::mask(f, batch, failures)?,
                &datafusion::arrow::compute::not(batch.column(3).as_boolean())?,
            )?;
            filter_record_batch(batch, &keep)?
        }
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
    let ts_col = sink
        .timestamp
        .as_ref()
        .and_then(|(c, _)| out.column_by_name(c))
        .and_then(|a| cast(a, &datafusion::arrow::datatypes::DataType::Int64).ok());
    let mut enc = Encoded {
        bytes: Vec::with_capacity(out.num_rows() * 64),
        rows: Vec::with_capacity(out.num_rows()),
    };
    for row in 0..out.num_rows() {
        let timestamp = match &ts_col {
            // ksqlDB drops a record whose timestamp column is null or negative.
            Some(a) => match Some(row)
                .filter(|r| !a.is_null(*r))
                .map(|r| a.as_primitive::<Int64Type>().value(r))
                .filter(|t| *t >= 0)
            {
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
