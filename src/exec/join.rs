//! The join operator: each side's rows are kept by join key (encoded with Arrow's row format),
//! and each input row is matched against the other side's, giving batches of joined rows
//! (pseudocolumns, join key, left columns, right columns) for the query over the join.
//!
//! - Stream-table: the table side is the latest row per key; only stream rows emit.
//! - Table-table: both sides are tables; every change emits the joined row for its key, or a
//!   tombstone when the joined row stops existing.
//! - Stream-stream: rows are buffered for `before + after + grace` of stream time; a row joins
//!   the other side's rows within its window. Unmatched rows of an outer side are emitted when
//!   their window closes (with `GRACE PERIOD`), or at once (ksqlDB's legacy behaviour).

use super::eval::{column, Failures};
use super::operator::{Counters, Operator};
use crate::catalog::PSEUDO_COLUMNS;
use crate::error::Result;
use crate::exec::align::Slice;
use crate::plan::join::{JoinPlan, JoinShape};
use crate::sql::ast::JoinKind;
use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BooleanArray, Int32Array, Int64Array, RecordBatch,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type, SchemaRef};
use datafusion::arrow::row::{OwnedRow, Row, RowConverter, RowParser, Rows, SortField};
use hashbrown::HashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

mod checkpoint;
mod foreign;

type Key = Box<[u8]>;

struct TableRow {
    ts: i64,
    row: OwnedRow,
}

struct Buffered {
    ts: i64,
    seq: u64,
    row: OwnedRow,
    /// Unmatched so far, waiting in `pending` for its window to close.
    waiting: bool,
}

struct SideState {
    /// The side's columns kept (see [`JoinPlan::keep`]), and the types of all of them.
    keep: Vec<usize>,
    types: Vec<datafusion::arrow::datatypes::DataType>,
    conv: RowConverter,
    /// A row of NULLs: the missing side of an outer join's row.
    nulls: OwnedRow,
    table: HashMap<Key, TableRow>,
    /// Stream rows by key, in (timestamp, arrival) order.
    buffer: HashMap<Key, Vec<Buffered>>,
    /// Whether this side's unmatched rows are emitted.
    outer: bool,
    oldest: i64,
    /// The latest timestamp of this side's rows: its rows are kept for the join window and
    /// grace period after it.
    time: i64,
}

/// Joined rows being collected for one output batch.
struct Out {
    ts: Vec<i64>,
    part: Vec<i32>,
    off: Vec<i64>,
    tomb: Vec<bool>,
    key: Rows,
    left: Rows,
    right: Rows,
}

pub struct Joiner {
    plan: JoinPlan,
    schema: SchemaRef,
    key_conv: RowConverter,
    key_parser: RowParser,
    /// Foreign-key joins: join keys (the right table's key type) apart from result keys.
    lookup_conv: Option<RowConverter>,
    /// The types of the join key and of the other conditions' keys.
    lookup_types: Vec<DataType>,
    /// Foreign-key joins: each left row's foreign key, and the left rows by foreign key.
    foreign: HashMap<Key, Key>,
    referrers: HashMap<Key, Vec<Key>>,
    sides: [SideState; 2],
    stream_time: i64,
    seq: u64,
    late: u64,
    /// Unmatched stream rows of outer sides waiting for their window to close:
    /// (timestamp, arrival) -> (side, key).
    pending: BTreeMap<(i64, u64), (usize, Key)>,
    /// The input position of the last row processed (a flush's outputs come from it).
    last_origin: (i32, i64),
    /// The steps before (N-way joins): their joined rows are this step's left side.
    before: Option<Box<Joiner>>,
    /// Per input, the number of its first partition among the query's input partitions
    /// (outputs record it as their origin; each input's rows number their partitions from 0).
    part_base: Vec<i32>,
}

fn exists(kind: JoinKind, left: bool, right: bool) -> bool {
    match kind {
        JoinKind::Inner => left && right,
        JoinKind::Left => left,
        JoinKind::Right => right,
        JoinKind::Full => left || right,
    }
}

impl Joiner {
    pub fn new(plan: JoinPlan) -> Result<Self> {
        let schema = plan.schema();
        let key_type = schema.field(PSEUDO_COLUMNS).data_type().clone();
        // The join key, then the join's other conditions' keys (rows match on all of them).
        let left_schema = plan.left.source.row_schema();
        let mut more_types = Vec::new();
        for e in &plan.left.more_keys {
            more_types.push(e.data_type(&left_schema)?);
        }
        let key_conv = RowConverter::new(
            std::iter::once(&key_type)
                .chain(&more_types)
                .map(|t| SortField::new(t.clone()))
                .collect(),
        )?;
        // The types join keys are cast to: a foreign-key join's are the right key's.
        let mut lookup_types = vec![key_type.clone()];
        let lookup_conv = match plan.shape {
            JoinShape::ForeignKey => {
                let ty = plan.right.key.data_type(&plan.right.source.row_schema())?;
                lookup_types[0] = ty.clone();
                Some(RowConverter::new(vec![SortField::new(ty)])?)
            }
            _ => None,
        };
        lookup_types.extend(more_types);
        let side =
            |s: &crate::plan::join::JoinSide, keep: &[usize], outer: bool| -> Result<SideState> {
                // The side's joined columns (a source's ROWTIME and columns, or the joined
                // columns of the steps before); of these, the kept ones are joined.
                let schema = s.source.row_schema();
                let types: Vec<_> = s
                    .columns
                    .iter()
                    .map(|c| schema.field(*c).data_type().clone())
                    .collect();
                let conv = RowConverter::new(
                    keep.iter()
                        .map(|k| SortField::new(types[*k].clone()))
                        .collect(),
                )?;
                let nulls: Vec<ArrayRef> =
                    keep.iter().map(|k| new_null_array(&types[*k], 1)).collect();
                let nulls = conv.convert_columns(&nulls)?.row(0).owned();
                Ok(SideState {
                    keep: keep.to_vec(),
                    types,
                    conv,
                    nulls,
                    table: HashMap::new(),
                    buffer: HashMap::new(),
                    outer,
                    oldest: i64::MAX,
                    time: i64::MIN,
                })
            };
        let kind = plan.kind;
        let before = match &plan.before {
            Some(b) => Some(Box::new(Joiner::new((**b).clone())?)),
            None => None,
        };
        let sides = [
            side(
                &plan.left,
                &plan.keep[0],
                matches!(kind, JoinKind::Left | JoinKind::Full),
            )?,
            side(
                &plan.right,
                &plan.keep[1],
                matches!(kind, JoinKind::Right | JoinKind::Full),
            )?,
        ];
        Ok(Joiner {
            plan,
            schema,
            key_parser: key_conv.parser(),
            key_conv,
            lookup_conv,
            lookup_types,
            foreign: HashMap::new(),
            referrers: HashMap::new(),
            sides,
            stream_time: i64::MIN,
            seq: 0,
            late: 0,
            pending: BTreeMap::new(),
            last_origin: (0, 0),
            before,
            part_base: Vec::new(),
        })
    }

    /// The end of a bounded input: every row waiting for its window to close is emitted.
    pub fn flush(&mut self, failures: &Failures) -> Result<RecordBatch> {
        let mut out = self.out();
        if let Some(before) = self.before.as_mut() {
            let rows = before.flush(failures)?;
            if rows.num_rows() > 0 {
                let p = self.prepare(0, &rows, failures)?;
                self.process_rows(0, &p, 0..rows.num_rows(), &mut out);
            }
        }
        self.emit_closed(self.last_origin, true, &mut out);
        self.finish(out)
    }

    fn out(&self) -> Out {
        Out {
            ts: Vec::new(),
            part: Vec::new(),
            off: Vec::new(),
            tomb: Vec::new(),
            key: self.key_conv.empty_rows(0, 0),
            left: self.sides[0].conv.empty_rows(0, 0),
            right: self.sides[1].conv.empty_rows(0, 0),
        }
    }

    /// See [`Joiner::part_base`].
    /// How many rows of state the join holds: table rows and buffered stream rows.
    pub fn state_rows(&self) -> usize {
        self.sides
            .iter()
            .map(|s| s.table.len() + s.buffer.values().map(Vec::len).sum::<usize>())
            .sum()
    }

    pub fn set_partition_bases(&mut self, bases: &[i32]) {
        self.part_base = bases.to_vec();
        if let Some(b) = self.before.as_mut() {
            b.set_partition_bases(bases);
        }
    }

    /// Records dropped because they arrived after their join window closed.
    pub fn late_records(&self) -> u64 {
        self.late + self.before.as_ref().map_or(0, |b| b.late_records())
    }

    /// Joins slices of batches of either side (0 left, 1 right), in order; the joined rows.
    /// Each batch is prepared (join keys evaluated, rows encoded) once for all its slices.
    pub fn process(
        &mut self,
        slices: &[(usize, Slice)],
        failures: &Failures,
    ) -> Result<RecordBatch> {
        let mut out = self.out();
        let mut prepared: Vec<(u64, Prepared)> = Vec::new();
        for (input, slice) in slices {
            if *input < self.plan.left_inputs {
                if let Some(before) = self.before.as_mut() {
                    // The steps before join first; their rows are this step's left side.
                    let rows = before.process(&[(*input, slice.clone())], failures)?;
                    if rows.num_rows() > 0 {
                        let p = self.prepare(0, &rows, failures)?;
                        self.process_rows(0, &p, 0..rows.num_rows(), &mut out);
                    }
                    continue;
                }
            }
            let side = usize::from(*input >= self.plan.left_inputs);
            let at = match prepared.iter().position(|(id, _)| *id == slice.id) {
                Some(at) if slice.id != u64::MAX => at,
                _ => {
                    let mut p = self.prepare(side, &slice.batch, failures)?;
                    p.base = self.part_base.get(*input).copied().unwrap_or(0);
                    prepared.push((slice.id, p));
                    prepared.len() - 1
                }
            };
            let p = &prepared[at].1;
            self.process_rows(side, p, slice.start..slice.start + slice.len, &mut out);
        }
        self.evict();
        self.finish(out)
    }

    fn prepare(&self, side: usize, batch: &RecordBatch, failures: &Failures) -> Result<Prepared> {
        let plan_side = if side == 0 {
            &self.plan.left
        } else {
            &self.plan.right
        };
        let mut keys = column(&plan_side.key, None, batch, failures)?;
        // A foreign-key join's result key (the left key) is not its join key.
        let (conv, result_keys) = match (&self.lookup_conv, &self.plan.left_key) {
            (Some(conv), Some(left_key)) => {
                let result_keys = if side == 0 {
                    let k = column(left_key, None, batch, failures)?;
                    Some((self.key_conv.convert_columns(std::slice::from_ref(&k))?, k))
                } else {
                    None
                };
                (conv, result_keys)
            }
            _ => (&self.key_conv, None),
        };
        if keys.data_type() != &self.lookup_types[0] {
            keys = cast(&keys, &self.lookup_types[0])?;
        }
        let mut key_columns = vec![keys.clone()];
        let mut more = Vec::new();
        for (e, ty) in plan_side.more_keys.iter().zip(&self.lookup_types[1..]) {
            let mut a = column(e, None, batch, failures)?;
            if a.data_type() != ty {
                a = cast(&a, ty)?;
            }
            more.push(a.clone());
            key_columns.push(a);
        }
        let key_rows = conv.convert_columns(&key_columns)?;
        let columns: Vec<ArrayRef> = self.sides[side]
            .keep
            .iter()
            .map(|&k| batch.column(plan_side.columns[k]).clone())
            .collect();
        let rows = self.sides[side].conv.convert_columns(&columns)?;
        Ok(Prepared {
            base: 0,
            keys,
            more,
            key_rows,
            rows,
            result_keys,
            batch: batch.clone(),
        })
    }

    fn process_rows(
        &mut self,
        side: usize,
        p: &Prepared,
        range: std::ops::Range<usize>,
        out: &mut Out,
    ) {
        let (keys, key_rows, rows) = (&p.keys, &p.key_rows, &p.rows);
        let ts = p.batch.column(0).as_primitive::<Int64Type>();
        let part = p.batch.column(1).as_primitive::<Int32Type>();
        let off = p.batch.column(2).as_primitive::<Int64Type>();
        let tomb = p.batch.column(3).as_boolean();
        for i in range {
            // ksqlDB ignores records with a NULL join key (a foreign-key join's left rows
            // with a NULL foreign key still count: they are keyed by the left key).
            let null_key = keys.is_null(i) || p.more.iter().any(|a| a.is_null(i));
            if null_key && !(self.plan.shape == JoinShape::ForeignKey && side == 0) {
                continue;
            }
            let origin = (part.value(i) + p.base, off.value(i));
            self.last_origin = origin;
            let input = Input {
                side,
                ts: ts.value(i),
                origin,
                key: key_rows.row(i),
                row: rows.row(i),
                tombstone: tomb.value(i),
            };
            match self.plan.shape {
                JoinShape::StreamTable => self.stream_table(&input, out),
                JoinShape::TableTable => self.table_table(&input, out),
                JoinShape::StreamStream => self.stream_stream(&input, out),
                JoinShape::ForeignKey if side == 0 => {
                    self.left_change(&input, p, i, !null_key, out)
                }
                JoinShape::ForeignKey => self.right_change(&input, out),
            }
        }
    }

    fn stream_table(&mut self, r: &Input, out: &mut Out) {
        if r.side == 1 {
            let table = &mut self.sides[1].table;
            if r.tombstone {
                table.remove(r.key.as_ref());
            } else {
                upsert(table, r.key.as_ref(), r.ts, r.row);
            }
            return;
        }
        if r.tombstone {
            return;
        }
        let right = self.sides[1].table.get(r.key.as_ref());
        match right {
            Some(t) => push(out, r.ts, r.origin, false, r.key, r.row, t.row.row()),
            None if self.plan.kind == JoinKind::Left => push(
                out,
                r.ts,
                r.origin,
                false,
                r.key,
                r.row,
                self.sides[1].nulls.row(),
            ),
            None => {}
        }
    }

    fn table_table(&mut self, r: &Input, out: &mut Out) {
        let kind = self.plan.kind;
        let present = |s: &Self| {
            (
                s.sides[0].table.contains_key(r.key.as_ref()),
                s.sides[1].table.contains_key(r.key.as_ref()),
            )
        };
        let (l, rt) = present(self);
        let before = exists(kind, l, rt);
        let table = &mut self.sides[r.side].table;
        if r.tombstone {
            if table.remove(r.key.as_ref()).is_none() {
                return;
            }
        } else {
            upsert(table, r.key.as_ref(), r.ts, r.row);
        }
        let (l, rt) = present(self);
        if exists(kind, l, rt) {
            let lrow = self.sides[0].table.get(r.key.as_ref());
            let rrow = self.sides[1].table.get(r.key.as_ref());
            let ts = lrow
                .map(|x| x.ts)
                .into_iter()
                .chain(rrow.map(|x| x.ts))
                .max()
                .unwrap_or(r.ts);
            push(
                out,
                ts,
                r.origin,
                false,
                r.key,
                lrow.map_or(self.sides[0].nulls.row(), |x| x.row.row()),
                rrow.map_or(self.sides[1].nulls.row(), |x| x.row.row()),
            );
        } else if before {
            self.push_gone(out, r.ts, r.origin, r.key);
        }
    }

    /// A tombstone for `key`: its joined row no longer exists.
    fn push_gone(&self, out: &mut Out, ts: i64, origin: (i32, i64), key: Row<'_>) {
        let (l, r) = (self.sides[0].nulls.row(), self.sides[1].nulls.row());
        push(out, ts, origin, true, key, l, r);
    }

    /// How far before and after a row of `side` the other side's rows join it.
    fn window(&self, side: usize) -> (i64, i64) {
        if side == 0 {
            (self.plan.before_ms, self.plan.after_ms)
        } else {
            (self.plan.after_ms, self.plan.before_ms)
        }
    }

    fn stream_stream(&mut self, r: &Input, out: &mut Out) {
        if r.tombstone {
            return;
        }
        let (before, after) = self.window(r.side);
        // A row older than its side keeps rows for still joins what the other side holds,
        // but is not kept itself (as Kafka Streams' window stores drop expired puts).
        let retention = self.plan.before_ms + self.plan.after_ms + self.plan.grace_ms;
        let side_time = &mut self.sides[r.side].time;
        *side_time = (*side_time).max(r.ts);
        let expired = r.ts < side_time.saturating_sub(retention);
        if expired {
            self.late += 1;
        }
        self.stream_time = self.stream_time.max(r.ts);
        if r.ts == self.stream_time && self.plan.explicit_grace {
            self.emit_closed(r.origin, false, out);
        }
        let (lo, hi) = (r.ts.saturating_sub(before), r.ts.saturating_add(after));
        let other = 1 - r.side;
        let mut matched = false;
        if let Some(rows) = self.sides[other].buffer.get_mut(r.key.as_ref()) {
            for b in rows.iter_mut().filter(|b| b.ts >= lo && b.ts <= hi) {
                matched = true;
                if b.waiting {
                    b.waiting = false;
                    self.pending.remove(&(b.ts, b.seq));
                }
                let (l, rr) = if r.side == 0 {
                    (r.row, b.row.row())
                } else {
                    (b.row.row(), r.row)
                };
                push(out, r.ts.max(b.ts), r.origin, false, r.key, l, rr);
            }
        }
        self.seq += 1;
        let seq = self.seq;
        let mut waiting = false;
        if !matched && self.sides[r.side].outer {
            if !self.plan.explicit_grace || hi < self.stream_time {
                self.push_unmatched(r.side, r.ts, r.origin, r.key, r.row, out);
            } else {
                waiting = true;
                self.pending
                    .insert((r.ts, seq), (r.side, r.key.as_ref().into()));
            }
        }
        if expired {
            return;
        }
        let state = &mut self.sides[r.side];
        state.oldest = state.oldest.min(r.ts);
        // The key is copied only for a key not buffered yet.
        let key: &[u8] = r.key.as_ref();
        if !state.buffer.contains_key(key) {
            state.buffer.insert(key.into(), Vec::new());
        }
        let Some(rows) = state.buffer.get_mut(key) else {
            return;
        };
        let at = rows.partition_point(|b| b.ts <= r.ts);
        rows.insert(
            at,
            Buffered {
                ts: r.ts,
                seq,
                row: r.row.owned(),
                waiting,
            },
        );
    }

    fn push_unmatched(
        &self,
        side: usize,
        ts: i64,
        origin: (i32, i64),
        key: Row<'_>,
        row: Row<'_>,
        out: &mut Out,
    ) {
        let (l, r) = if side == 0 {
            (row, self.sides[1].nulls.row())
        } else {
            (self.sides[0].nulls.row(), row)
        };
        push(out, ts, origin, false, key, l, r);
    }

    /// Emits the unmatched rows whose windows have closed (or `all`), oldest first.
    fn emit_closed(&mut self, origin: (i32, i64), all: bool, out: &mut Out) {
        let grace = self.plan.grace_ms;
        while let Some((&(ts, _), (side, _))) = self.pending.first_key_value() {
            let lookback = self.window(*side).1;
            if !all && ts.saturating_add(lookback).saturating_add(grace) >= self.stream_time {
                break;
            }
            let Some(((ts, seq), (side, key))) = self.pending.pop_first() else {
                break;
            };
            let Some(rows) = self.sides[side].buffer.get_mut(&key) else {
                continue;
            };
            let Some(i) = rows.iter().position(|b| b.seq == seq) else {
                continue;
            };
            rows[i].waiting = false;
            let b = &self.sides[side].buffer[&key][i];
            let key_row = self.key_parser.parse(&key);
            self.push_unmatched(side, ts, origin, key_row, b.row.row(), out);
        }
    }

    /// Drops buffered stream rows no later row can join.
    fn evict(&mut self) {
        if self.plan.shape != JoinShape::StreamStream {
            return;
        }
        let retention = self.plan.before_ms + self.plan.after_ms + self.plan.grace_ms;
        for s in &mut self.sides {
            let horizon = s.time.saturating_sub(retention);
            // A scan of the buffer once a quarter of the retention has expired, not each
            // time the horizon moves (state is bounded by 1.25 times the retention).
            if s.oldest >= horizon.saturating_sub(retention / 4) {
                continue;
            }
            let mut oldest = i64::MAX;
            s.buffer.retain(|_, rows| {
                rows.retain(|b| b.ts >= horizon || b.waiting);
                if let Some(b) = rows.first() {
                    oldest = oldest.min(b.ts);
                }
                !rows.is_empty()
            });
            s.oldest = oldest;
        }
    }

    fn finish(&self, out: Out) -> Result<RecordBatch> {
        let n = out.ts.len();
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(out.ts)),
            Arc::new(Int32Array::from(out.part)),
            Arc::new(Int64Array::from(out.off)),
            Arc::new(BooleanArray::from(out.tomb)),
        ];
        // The key column: the first condition's key (a windowed join's keys end with their
        // window's bounds, which the joined rows carry at their end).
        let keys = self.key_conv.convert_rows(&out.key)?;
        let bounds = self.window_bounds(&keys)?;
        let key = keys.into_iter().next();
        columns.push(
            key.unwrap_or_else(|| new_null_array(self.schema.field(PSEUDO_COLUMNS).data_type(), n)),
        );
        for (s, rows) in self.sides.iter().zip([&out.left, &out.right]) {
            // The kept columns, NULL for the others.
            let mut kept = s.conv.convert_rows(rows)?.into_iter();
            let mut next = s.keep.iter().peekable();
            for (k, ty) in s.types.iter().enumerate() {
                if next.peek() == Some(&&k) {
                    next.next();
                    columns.push(kept.next().unwrap_or_else(|| new_null_array(ty, n)));
                } else {
                    columns.push(new_null_array(ty, n));
                }
            }
        }
        columns.extend(bounds);
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }

    /// A windowed join's WINDOWSTART and WINDOWEND columns, from its keys' last components
    /// (session keys end with start and end, time-window keys with start).
    fn window_bounds(&self, keys: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
        let Some(w) = self.plan.joined.window else {
            return Ok(Vec::new());
        };
        let n = keys.len();
        let as_i64 = |a: &ArrayRef| -> Result<ArrayRef> { Ok(cast(a, &DataType::Int64)?) };
        if w.kind == crate::catalog::WindowType::Session && n >= 3 {
            return Ok(vec![as_i64(&keys[n - 2])?, as_i64(&keys[n - 1])?]);
        }
        let start = as_i64(&keys[n - 1])?;
        let size = w.size_ms.unwrap_or(0);
        let end: Int64Array = start
            .as_primitive::<Int64Type>()
            .iter()
            .map(|s| s.map(|s| s + size))
            .collect();
        Ok(vec![start, Arc::new(end)])
    }
}

/// A batch ready to join: its join keys, and its keys and rows in the row format.
struct Prepared {
    /// Added to the rows' partitions for their origin: the number of the input's first
    /// partition among the query's input partitions.
    base: i32,
    keys: ArrayRef,
    /// The other conditions' keys.
    more: Vec<ArrayRef>,
    key_rows: Rows,
    rows: Rows,
    /// A foreign-key join's left rows: their result keys (the left key), and as an array.
    result_keys: Option<(Rows, ArrayRef)>,
    batch: RecordBatch,
}

/// One input row.
struct Input<'a> {
    side: usize,
    ts: i64,
    origin: (i32, i64),
    key: Row<'a>,
    row: Row<'a>,
    tombstone: bool,
}

/// Sets a table row, copying its key only for a new key.
fn upsert(table: &mut HashMap<Key, TableRow>, key: &[u8], ts: i64, row: Row<'_>) {
    match table.get_mut(key) {
        Some(t) => {
            t.ts = ts;
            t.row = row.owned();
        }
        None => {
            table.insert(
                key.into(),
                TableRow {
                    ts,
                    row: row.owned(),
                },
            );
        }
    }
}

fn push(
    out: &mut Out,
    ts: i64,
    origin: (i32, i64),
    tombstone: bool,
    key: Row<'_>,
    left: Row<'_>,
    right: Row<'_>,
) {
    out.ts.push(ts);
    out.part.push(origin.0);
    out.off.push(origin.1);
    out.tomb.push(tombstone);
    out.key.push(key);
    out.left.push(left);
    out.right.push(right);
}

/// A join, then the operator of the query over its joined rows (an aggregation or a
/// projection): the operator a join query runs.
pub(crate) struct JoinThen {
    join: Joiner,
    then: Box<dyn Operator>,
    /// Rows in (both sides) and rows joined, outside a replay (see [`Counters`]).
    join_in: u64,
    joined: u64,
}

impl JoinThen {
    pub fn new(q: &crate::plan::join::JoinQuery) -> Result<Self> {
        Ok(JoinThen {
            join: Joiner::new(q.join.clone())?,
            then: super::operator::build(&q.then)?,
            join_in: 0,
            joined: 0,
        })
    }
}

impl Operator for JoinThen {
    /// Joins all the slices, then runs the query over the joined rows once.
    fn process(
        &mut self,
        batches: &[(usize, Slice)],
        emit: bool,
        failures: &Failures,
    ) -> Result<Option<RecordBatch>> {
        let joined = self.join.process(batches, failures)?;
        if emit {
            self.join_in += batches.iter().map(|(_, s)| s.len as u64).sum::<u64>();
            self.joined += joined.num_rows() as u64;
        }
        if joined.num_rows() == 0 {
            return Ok(None);
        }
        self.then
            .process(&[(0, Slice::whole(0, joined))], emit, failures)
    }

    /// The rows still waiting for their join windows, through the query, then the query's
    /// own flush.
    fn flush(&mut self, failures: &Failures) -> Result<Option<RecordBatch>> {
        let joined = self.join.flush(failures)?;
        let mut outs = Vec::new();
        if joined.num_rows() > 0 {
            let whole = Slice::whole(0, joined);
            outs.extend(self.then.process(&[(0, whole)], true, failures)?);
        }
        outs.extend(self.then.flush(failures)?);
        super::operator::concat(outs)
    }

    fn stateful(&self) -> bool {
        true
    }

    /// The join's state (length-prefixed), then the state of the query over its rows.
    fn checkpoint(&self) -> Result<Option<Vec<u8>>> {
        let mut out = Vec::new();
        let state = self.join.checkpoint();
        out.extend_from_slice(&(state.len() as u64).to_le_bytes());
        out.extend_from_slice(&state);
        out.extend(self.then.checkpoint()?.unwrap_or_default());
        Ok(Some(out))
    }

    fn restore(&mut self, data: &[u8]) -> Result<()> {
        let malformed = || crate::error::Error::generic("malformed join checkpoint");
        let (len, rest) = data.split_first_chunk::<8>().ok_or_else(malformed)?;
        let len = u64::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(malformed());
        }
        self.join.restore(&rest[..len])?;
        self.then.restore(&rest[len..])
    }

    fn counters(&self) -> Counters {
        let join = Counters {
            state_rows: self.join.state_rows(),
            late_records: self.join.late_records(),
            join_in: self.join_in,
            joined: self.joined,
            join_state: self.join.state_rows(),
            ..Counters::default()
        };
        join + self.then.counters()
    }

    fn set_partition_bases(&mut self, bases: &[i32]) {
        self.join.set_partition_bases(bases);
    }
}

#[cfg(test)]
mod tests {
    use crate::exec::operator::build;
    use crate::exec::operator::tests::{input, ints, one_by_one, plan, run};
    use datafusion::arrow::array::{ArrayRef, StringArray};
    use std::sync::Arc;

    const DDL: &str = "CREATE STREAM s (id BIGINT KEY, v BIGINT) \
                       WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1); \
                       CREATE TABLE t (id BIGINT PRIMARY KEY, name STRING) \
                       WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON', PARTITIONS=1);";

    #[test]
    fn a_stream_joins_the_table_rows_before_it_and_state_survives_a_checkpoint() {
        let plan = plan(
            DDL,
            "CREATE STREAM j AS SELECT s.id AS id, v, name FROM s \
             LEFT JOIN t ON s.id = t.id EMIT CHANGES;",
        );
        let names: ArrayRef = Arc::new(StringArray::from(vec!["one", "two", "uno"]));
        let table = input(
            &plan,
            1,
            &[1, 2, 5],
            &[("ID", ints(&[Some(1), Some(2), Some(1)])), ("NAME", names)],
        );
        let stream = input(
            &plan,
            0,
            &[3, 4, 6],
            &[
                ("ID", ints(&[Some(1), Some(3), Some(1)])),
                ("V", ints(&[Some(10), Some(30), Some(11)])),
            ],
        );
        // In event-time order: two table rows, two stream rows, the table's update, a stream row.
        let rows = [
            (1, table.slice(0, 2)),
            (0, stream.slice(0, 2)),
            (1, table.slice(2, 1)),
            (0, stream.slice(2, 1)),
        ];
        let mut op = build(&plan).unwrap();
        let out = run(op.as_mut(), &rows, true);
        assert_eq!(
            out,
            [
                "ID=1 V=10 NAME=one ROWTIME=3",
                "ID=3 V=30 NAME=NULL ROWTIME=4",
                "ID=1 V=11 NAME=uno ROWTIME=6"
            ]
        );
        assert_eq!(op.counters().state_rows, 2, "the table's two keys");
        // The table side restored from a checkpoint joins the same.
        let mut first = build(&plan).unwrap();
        run(first.as_mut(), &one_by_one(1, &table), false);
        let state = first.checkpoint().unwrap().unwrap();
        let mut second = build(&plan).unwrap();
        second.restore(&state).unwrap();
        assert_eq!(
            run(second.as_mut(), &[(0, stream.slice(2, 1))], true),
            ["ID=1 V=11 NAME=uno ROWTIME=6"]
        );
        assert!(
            second.restore(&state[..4]).is_err(),
            "a truncated checkpoint"
        );
    }
}
