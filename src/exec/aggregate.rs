//! The aggregation operator: groups in hash maps keyed by the row-encoded group key (plus the
//! window start for time windows), each holding a slot of the accumulators (`groups`: state in
//! vectors indexed by slot, updated over a batch's argument columns in one call per aggregate,
//! the shape of DataFusion's `GroupsAccumulator`). A batch's group keys are row-encoded at once
//! and its rows walked to find each one's groups (and windows); the updates are queued and
//! applied before any state is read, so results are those of one record at a time. With EMIT CHANGES every
//! input record emits the new value of each group it changed (ksqlDB with the record cache
//! off); with EMIT FINAL each window emits once, when stream time passes its end plus grace.
//! Windows close (and their state goes) at the record that moves stream time past them, so
//! the output does not depend on how the input was batched.
//!
//! Over a table source each input row replaces the previous row of its key: the old row's
//! contribution is retracted from its group (undo) before the new one is added.

mod checkpoint;
mod groups;

use super::align::Slice;
use super::eval::{column, mask, Failures};
use super::operator::{Counters, Operator};
use super::windows::{Session, Windows};
use crate::catalog::types::SqlType;
use crate::catalog::ColumnKind;
use crate::error::Result;
use crate::plan::aggregate::AggregatePlan;
use crate::plan::expr::PhysExpr;
use crate::sql::ast::SourceKind;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int32Array, Int64Array, RecordBatch,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::{cast, filter_record_batch, not};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::ScalarValue;
use hashbrown::HashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

struct Group {
    /// The group's accumulators' slot in [`groups::Slots`].
    slot: u32,
    rowtime: i64,
    start: i64,
    end: i64,
    /// Whether the group's last output was a row (not a tombstone): a row HAVING rejects
    /// becomes a tombstone only if it was visible.
    visible: bool,
}

/// What one table row contributes: its group and argument values, retracted when the row
/// changes.
struct Contribution {
    group: Box<[u8]>,
    args: Vec<Vec<ScalarValue>>,
}

/// One row of a table source, as `Aggregator::table_row` takes it.
struct TableRow<'a> {
    source_key: &'a [u8],
    /// Its group, or none when the row is deleted, filtered out or excluded.
    group_key: Option<&'a [u8]>,
    /// Its index in the batch.
    row: usize,
    /// Its argument values per call.
    values: &'a [Vec<ScalarValue>],
}

/// Table sources: the current contribution of every source key.
struct TableInput {
    converter: RowConverter,
    columns: Vec<usize>,
    rows: HashMap<Box<[u8]>, Contribution>,
}

#[derive(Clone, Copy)]
enum RowState {
    /// The group's new value.
    Live,
    /// A closed window's final value (EMIT FINAL).
    Final,
    /// A session merged into another: a tombstone, shown if the session was visible.
    Removed { visible: bool },
}

/// Output rows collected while a batch is applied.
#[derive(Default)]
struct Emitted {
    key_bytes: Vec<u8>,
    key_ends: Vec<usize>,
    starts: Vec<i64>,
    ends: Vec<i64>,
    times: Vec<i64>,
    parts: Vec<i32>,
    offs: Vec<i64>,
    values: Vec<Vec<ScalarValue>>,
    states: Vec<RowState>,
}

impl Emitted {
    fn push(
        &mut self,
        key: &[u8],
        g: &Group,
        slots: &mut groups::Slots,
        origin: (i32, i64),
        state: RowState,
    ) -> Result<()> {
        self.key_bytes.extend_from_slice(key);
        self.key_ends.push(self.key_bytes.len());
        self.starts.push(g.start);
        self.ends.push(g.end);
        self.times.push(g.rowtime);
        self.parts.push(origin.0);
        self.offs.push(origin.1);
        self.values.resize_with(slots.calls(), Vec::new);
        for (j, values) in self.values.iter_mut().enumerate() {
            values.push(slots.value(j, g.slot)?);
        }
        self.states.push(state);
        Ok(())
    }

    fn key(&self, r: usize) -> &[u8] {
        let from = if r == 0 { 0 } else { self.key_ends[r - 1] };
        &self.key_bytes[from..self.key_ends[r]]
    }
}

pub struct Aggregator {
    plan: AggregatePlan,
    converter: RowConverter,
    slots: groups::Slots,
    table: Option<TableInput>,
    /// Unwindowed groups by key bytes.
    groups: HashMap<Box<[u8]>, Group>,
    /// Time-windowed groups: window start to the window's groups by key bytes. Windows close
    /// in start order, each as a whole.
    time_windows: BTreeMap<i64, HashMap<Box<[u8]>, Group>>,
    /// Session-windowed groups: key bytes to the key's sessions, by start.
    sessions: HashMap<Box<[u8]>, Vec<Group>>,
    windows: Option<Windows>,
    /// Close time to the keys whose sessions may close then.
    closing: BTreeMap<i64, Vec<Box<[u8]>>>,
    stream_time: i64,
    late_records: u64,
    /// Arrival order of records, for EARLIEST/LATEST_BY_OFFSET across merged sessions.
    seq: u64,
    last_origin: (i32, i64),
    /// Rows in, kept by WHERE and out, outside a replay (see [`Counters`]).
    rows_in: u64,
    rows_kept: u64,
    rows_out: u64,
}

fn eval(e: &PhysExpr, batch: &RecordBatch, ty: &SqlType, failures: &Failures) -> Result<ArrayRef> {
    column(e, Some(&ty.to_arrow()), batch, failures)
}

fn new_group(slots: &mut groups::Slots, start: i64, end: i64) -> Result<Group> {
    Ok(Group {
        slot: slots.alloc()?,
        rowtime: i64::MIN,
        start,
        end,
        visible: false,
    })
}

/// The rows dropped for their grouping: ksqlDB excludes a row when any of its GROUP BY
/// expressions is NULL (`GroupByParamsFactory`: "Group-by column with index N resolved to
/// null. The source row will be excluded from the table.").
fn null_groupings(keys: &[ArrayRef]) -> Option<NullBuffer> {
    keys.iter().fold(None, |acc, k| {
        NullBuffer::union(acc.as_ref(), k.logical_nulls().as_ref())
    })
}

impl Aggregator {
    pub fn new(plan: AggregatePlan) -> Result<Self> {
        let fields = plan
            .keys
            .iter()
            .map(|(_, _, t)| SortField::new(t.to_arrow()))
            .collect();
        let table = if plan.source.kind == SourceKind::Table {
            let keys: Vec<&crate::catalog::Column> = plan
                .source
                .columns
                .iter()
                .filter(|c| c.kind == ColumnKind::Key)
                .collect();
            let columns = keys
                .iter()
                .filter_map(|c| plan.input_schema.index_of(&c.name).ok())
                .collect();
            let fields = keys
                .iter()
                .map(|c| SortField::new(c.ty.to_arrow()))
                .collect();
            Some(TableInput {
                converter: RowConverter::new(fields)?,
                columns,
                rows: HashMap::new(),
            })
        } else {
            None
        };
        Ok(Aggregator {
            converter: RowConverter::new(fields)?,
            slots: groups::Slots::new(&plan.aggregates)?,
            windows: plan.window.as_ref().map(Windows::new),
            table,
            plan,
            groups: HashMap::new(),
            time_windows: BTreeMap::new(),
            sessions: HashMap::new(),
            closing: BTreeMap::new(),
            stream_time: i64::MIN,
            late_records: 0,
            seq: 0,
            last_origin: (0, -1),
            rows_in: 0,
            rows_kept: 0,
            rows_out: 0,
        })
    }

    /// Records dropped because their windows had closed.
    pub fn late_records(&self) -> u64 {
        self.late_records
    }

    /// Applies a decoded batch to the state; with `emit`, returns the output rows (without,
    /// it only updates the state, including which groups are visible): the output columns,
    /// then the hidden window bounds for windowed results, ROWTIME, ROWPARTITION, ROWOFFSET
    /// and the tombstone flag.
    pub fn process(
        &mut self,
        batch: &RecordBatch,
        emit: bool,
        failures: &Failures,
    ) -> Result<Option<RecordBatch>> {
        // Records with a null value do not aggregate; nor do rows the WHERE clause rejects.
        // Over a table they still retract the key's previous row.
        let mut keep = not(batch.column(3).as_boolean())?;
        if let Some(f) = &self.plan.filter {
            keep = datafusion::arrow::compute::and(&keep, &mask(f, batch, failures)?)?;
        }
        if emit {
            self.rows_in += batch.num_rows() as u64;
            self.rows_kept += keep.true_count() as u64;
        }
        let filtered;
        let (batch, keep) = if self.table.is_some() {
            (batch, Some(keep))
        } else {
            filtered = filter_record_batch(batch, &keep)?;
            (&filtered, None)
        };
        let n = batch.num_rows();
        let keys: Vec<ArrayRef> = self
            .plan
            .keys
            .iter()
            .map(|(_, e, t)| eval(e, batch, t, failures))
            .collect::<Result<_>>()?;
        let args: Vec<Vec<ArrayRef>> = self
            .plan
            .aggregates
            .iter()
            .map(|a| {
                a.args
                    .iter()
                    .map(|e| column(e, None, batch, failures))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        let rows = self.converter.convert_columns(&keys)?;
        let source_rows = match &self.table {
            Some(t) => {
                let cols: Vec<ArrayRef> =
                    t.columns.iter().map(|i| batch.column(*i).clone()).collect();
                Some(t.converter.convert_columns(&cols)?)
            }
            None => None,
        };
        let rowtime = batch.column(0).as_primitive::<Int64Type>();
        let part = batch.column(1).as_primitive::<Int32Type>();
        let off = batch.column(2).as_primitive::<Int64Type>();
        let null_keys = null_groupings(&keys);
        let excluded = |i: usize| null_keys.as_ref().is_some_and(|n| n.is_null(i));
        let mut out = Emitted::default();
        // A table row's argument values, kept to be retracted when the row changes.
        let mut values: Vec<Vec<ScalarValue>> = vec![Vec::new(); args.len()];
        self.slots.begin(args.clone(), self.seq + 1)?;
        let mut starts = Vec::new();
        for i in 0..n {
            self.seq += 1;
            let ts = rowtime.value(i);
            let origin = (part.value(i), off.value(i));
            self.last_origin = origin;
            if let (Some(keep), Some(source_rows)) = (&keep, &source_rows) {
                for (j, a) in args.iter().enumerate() {
                    values[j].clear();
                    for col in a {
                        values[j].push(ScalarValue::try_from_array(col, i)?);
                    }
                }
                let applies = keep.value(i) && !excluded(i);
                let key = rows.row(i);
                let source_key = source_rows.row(i);
                let row = TableRow {
                    source_key: source_key.as_ref(),
                    group_key: applies.then_some(key.as_ref()),
                    row: i,
                    values: &values,
                };
                self.table_row(row, ts, origin, &mut out)?;
                continue;
            }
            if excluded(i) {
                continue;
            }
            self.stream_time = self.stream_time.max(ts);
            let key = rows.row(i);
            match self.windows {
                None => self.stream_row(key.as_ref(), i, ts, origin, &mut out)?,
                Some(Windows::Time { size, advance, .. }) => {
                    Windows::starts(size, advance, ts, &mut starts);
                    for &start in &starts {
                        let end = start + size;
                        self.window_row(key.as_ref(), (start, end), i, ts, origin, &mut out)?;
                    }
                }
                Some(Windows::Session { .. }) => {
                    self.session_row(key.as_ref(), i, ts, origin, &mut out)?
                }
            }
            self.close_windows(origin, &mut out)?;
        }
        self.slots.end()?;
        let out = self.finish(out, failures)?;
        let out = out.filter(|b| emit && b.num_rows() > 0);
        self.rows_out += out.as_ref().map_or(0, |b| b.num_rows() as u64);
        Ok(out)
    }

    /// How many rows of state the operator holds: groups, windows, sessions and the table
    /// rows whose contributions it keeps (a measure of its memory, for tests and metrics).
    pub fn state_rows(&self) -> usize {
        self.groups.len()
            + self.time_windows.values().map(HashMap::len).sum::<usize>()
            + self.sessions.values().map(Vec::len).sum::<usize>()
            + self.table.as_ref().map_or(0, |t| t.rows.len())
    }

    /// Closes every open window (the end of a bounded input): with EMIT FINAL, their final
    /// values.
    ///
    /// Afterwards stream time stands at the latest close time of the windows it closed: a
    /// record of one of them is late (its result is out), a later window opens as usual (a
    /// file run, then a shell on the same data adding records).
    pub fn flush(&mut self, failures: &Failures) -> Result<Option<RecordBatch>> {
        let closed = self.last_close_time().unwrap_or(i64::MIN);
        let before = self.stream_time;
        self.stream_time = i64::MAX;
        let mut out = Emitted::default();
        self.close_windows(self.last_origin, &mut out)?;
        self.stream_time = before.max(closed);
        self.finish(out, failures)
    }

    /// When the last open window closes (none without windows, or none open).
    fn last_close_time(&self) -> Option<i64> {
        match self.windows? {
            w @ Windows::Time { size, .. } => {
                let start = *self.time_windows.last_key_value()?.0;
                Some(w.close_time(start.saturating_add(size)))
            }
            Windows::Session { .. } => self.closing.last_key_value().map(|(at, _)| *at),
        }
    }

    /// Adds the batch's row `row` to its group `key` (no window).
    fn stream_row(
        &mut self,
        key: &[u8],
        row: usize,
        ts: i64,
        origin: (i32, i64),
        out: &mut Emitted,
    ) -> Result<()> {
        let g = match self.groups.get_mut(key) {
            Some(g) => g,
            None => self
                .groups
                .entry(key.into())
                .or_insert(new_group(&mut self.slots, 0, 0)?),
        };
        self.slots.add(row, g.slot);
        g.rowtime = g.rowtime.max(ts);
        out.push(key, g, &mut self.slots, origin, RowState::Live)
    }

    /// Adds the batch's row `row` to its group `key` in the time window `(start, end)`.
    fn window_row(
        &mut self,
        key: &[u8],
        (start, end): (i64, i64),
        row: usize,
        ts: i64,
        origin: (i32, i64),
        out: &mut Emitted,
    ) -> Result<()> {
        let Some(w) = self.windows else {
            return Ok(());
        };
        // A window closes once stream time passes its end plus the grace period.
        let close = w.close_time(end);
        if close <= self.stream_time {
            self.late_records += 1;
            return Ok(());
        }
        let window = self.time_windows.entry(start).or_default();
        let g = match window.get_mut(key) {
            Some(g) => g,
            None => window
                .entry(key.into())
                .or_insert(new_group(&mut self.slots, start, end)?),
        };
        self.slots.add(row, g.slot);
        g.rowtime = g.rowtime.max(ts);
        if !self.plan.emit_final {
            out.push(key, g, &mut self.slots, origin, RowState::Live)?;
        }
        Ok(())
    }

    fn session_row(
        &mut self,
        key: &[u8],
        row: usize,
        ts: i64,
        origin: (i32, i64),
        out: &mut Emitted,
    ) -> Result<()> {
        let Some(w @ Windows::Session { gap, .. }) = self.windows else {
            return Ok(());
        };
        if !self.sessions.contains_key(key) {
            self.sessions.insert(key.into(), Vec::new());
        }
        let Some(sessions) = self.sessions.get_mut(key) else {
            return Ok(());
        };
        let mut merged = Session { start: ts, end: ts };
        for g in sessions.iter() {
            let s = Session {
                start: g.start,
                end: g.end,
            };
            if s.reaches(ts, gap) {
                merged.start = merged.start.min(s.start);
                merged.end = merged.end.max(s.end);
            }
        }
        // Kafka Streams drops a record whose merged session closed before stream time.
        if w.close_time(merged.end) < self.stream_time {
            self.late_records += 1;
            if sessions.is_empty() {
                self.sessions.remove(key);
            }
            return Ok(());
        }
        let mut g = new_group(&mut self.slots, merged.start, merged.end)?;
        let fresh = merged == Session { start: ts, end: ts };
        let mut i = 0;
        while i < sessions.len() {
            let s = Session {
                start: sessions[i].start,
                end: sessions[i].end,
            };
            if !s.reaches(ts, gap) {
                i += 1;
                continue;
            }
            let old = sessions.remove(i);
            if !fresh && !self.plan.emit_final {
                let visible = old.visible;
                let removed = RowState::Removed { visible };
                out.push(key, &old, &mut self.slots, origin, removed)?;
            }
            self.slots.merge(g.slot, old.slot)?;
        }
        self.slots.add(row, g.slot);
        g.rowtime = merged.end;
        if !self.plan.emit_final {
            out.push(key, &g, &mut self.slots, origin, RowState::Live)?;
        }
        let at = sessions.partition_point(|s| s.start < g.start);
        sessions.insert(at, g);
        self.closing
            .entry(w.close_time(merged.end))
            .or_default()
            .push(key.into());
        Ok(())
    }

    /// A table row for its source key replaces the key's previous row: the old contribution
    /// is retracted, the new one (if the row is not deleted or filtered out) added.
    fn table_row(
        &mut self,
        TableRow {
            source_key,
            group_key,
            row,
            values,
        }: TableRow,
        ts: i64,
        origin: (i32, i64),
        out: &mut Emitted,
    ) -> Result<()> {
        let Some(table) = &mut self.table else {
            return Ok(());
        };
        let old = table.rows.remove(source_key);
        if let Some(old) = old {
            if let Some(g) = self.groups.get_mut(&old.group) {
                self.slots.undo(g.slot, &old.args)?;
                g.rowtime = g.rowtime.max(ts);
                if group_key != Some(&old.group[..]) {
                    out.push(&old.group, g, &mut self.slots, origin, RowState::Live)?;
                }
            }
        }
        let Some(key) = group_key else {
            return Ok(());
        };
        self.stream_row(key, row, ts, origin, out)?;
        let Some(table) = &mut self.table else {
            return Ok(());
        };
        table.rows.insert(
            source_key.into(),
            Contribution {
                group: key.into(),
                args: values.to_vec(),
            },
        );
        Ok(())
    }

    /// Removes the windows stream time has closed, in close-time then key order; with EMIT
    /// FINAL their final values are emitted, caused by `origin`.
    fn close_windows(&mut self, origin: (i32, i64), out: &mut Emitted) -> Result<()> {
        let Some(w) = self.windows else {
            return Ok(());
        };
        if let Windows::Time { size, .. } = w {
            while let Some(entry) = self.time_windows.first_entry() {
                if w.close_time(*entry.key() + size) > self.stream_time {
                    break;
                }
                let mut groups: Vec<_> = entry.remove().into_iter().collect();
                if self.plan.emit_final {
                    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                    for (key, g) in &groups {
                        out.push(key, g, &mut self.slots, origin, RowState::Final)?;
                    }
                }
                for (_, g) in &groups {
                    self.slots.release(g.slot)?;
                }
            }
            return Ok(());
        }
        // Sessions close strictly after their close time (a record at it still joins).
        while let Some(entry) = self.closing.first_entry() {
            if *entry.key() >= self.stream_time {
                break;
            }
            let at = *entry.key();
            let mut keys = entry.remove();
            keys.sort();
            keys.dedup();
            for key in keys {
                let Some(list) = self.sessions.get_mut(&key) else {
                    continue;
                };
                let mut i = 0;
                while i < list.len() {
                    // Each session closes at its own entry (the one of its latest end).
                    let close = w.close_time(list[i].end);
                    if close > at || close >= self.stream_time {
                        i += 1;
                        continue;
                    }
                    let g = list.remove(i);
                    if self.plan.emit_final {
                        out.push(&key, &g, &mut self.slots, origin, RowState::Final)?;
                    }
                    self.slots.release(g.slot)?;
                }
                if list.is_empty() {
                    self.sessions.remove(&key);
                }
            }
        }
        Ok(())
    }

    /// The output batch of the collected rows, with HAVING applied.
    fn finish(&mut self, out: Emitted, failures: &Failures) -> Result<Option<RecordBatch>> {
        let count = out.states.len();
        if count == 0 {
            return Ok(None);
        }
        let parser = self.converter.parser();
        let parsed: Vec<_> = (0..count).map(|r| parser.parse(out.key(r))).collect();
        let mut columns: Vec<ArrayRef> = self.converter.convert_rows(parsed)?;
        if self.windows.is_some() {
            columns.push(Arc::new(Int64Array::from(out.starts.clone())));
            columns.push(Arc::new(Int64Array::from(out.ends.clone())));
        }
        let first_agg = columns.len();
        for (j, values) in out.values.iter().enumerate() {
            let dt = self.plan.agg_schema.field(first_agg + j).data_type();
            let a = ScalarValue::iter_to_array(values.iter().cloned())?;
            columns.push(if a.data_type() == dt {
                a
            } else {
                cast(&a, dt)?
            });
        }
        let agg = RecordBatch::try_new(self.plan.agg_schema.clone(), columns)?;
        let mut fields = Vec::new();
        let mut arrays = Vec::new();
        for c in &self.plan.output {
            arrays.push(eval(&c.expr, &agg, &c.column.ty, failures)?);
            fields.push(Field::new(&c.column.name, c.column.ty.to_arrow(), true));
        }
        let rejected = match &self.plan.having {
            Some(h) => Some(not(&mask(h, &agg, failures)?)?),
            None => None,
        };
        let (keep, tombstone) = self.visibility(&out, rejected.as_ref());
        let pseudo: [(&str, ArrayRef); 4] = [
            (
                crate::catalog::ROWTIME,
                Arc::new(Int64Array::from(out.times)),
            ),
            (
                crate::catalog::ROWPARTITION,
                Arc::new(Int32Array::from(out.parts)),
            ),
            (
                crate::catalog::ROWOFFSET,
                Arc::new(Int64Array::from(out.offs)),
            ),
            (
                crate::catalog::TOMBSTONE,
                Arc::new(BooleanArray::from(tombstone)),
            ),
        ];
        if self.windows.is_some() {
            for (name, v) in [
                (crate::catalog::WINDOW_START, out.starts),
                (crate::catalog::WINDOW_END, out.ends),
            ] {
                fields.push(Field::new(name, DataType::Int64, false));
                arrays.push(Arc::new(Int64Array::from(v)));
            }
        }
        for (name, a) in pseudo {
            fields.push(Field::new(name, a.data_type().clone(), false));
            arrays.push(a);
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
        let batch = match keep {
            Some(keep) => filter_record_batch(&batch, &BooleanArray::from(keep))?,
            None => batch,
        };
        Ok((batch.num_rows() > 0).then_some(batch))
    }

    /// Which rows to keep and which are tombstones. Without HAVING every row is kept and only
    /// merged sessions are tombstones. With it, a rejected row is a tombstone if its group was
    /// visible and is dropped otherwise; visibility is followed row by row through the batch.
    fn visibility(
        &mut self,
        out: &Emitted,
        rejected: Option<&BooleanArray>,
    ) -> (Option<Vec<bool>>, Vec<bool>) {
        let count = out.states.len();
        let Some(rejected) = rejected else {
            let tombstone = out
                .states
                .iter()
                .map(|s| matches!(s, RowState::Removed { .. }))
                .collect();
            return (None, tombstone);
        };
        let mut keep = Vec::with_capacity(count);
        let mut tombstone = Vec::with_capacity(count);
        let mut seen: HashMap<(&[u8], i64, i64), bool> = HashMap::new();
        for r in 0..count {
            let id = (out.key(r), out.starts[r], out.ends[r]);
            let (k, t) = match out.states[r] {
                RowState::Final => (!rejected.value(r), false),
                RowState::Removed { visible } => {
                    let was = *seen.get(&id).unwrap_or(&visible);
                    seen.insert(id, false);
                    (was, true)
                }
                RowState::Live => {
                    let was = match seen.get(&id) {
                        Some(v) => *v,
                        None => self.group_mut(id.0, id.1, id.2).is_some_and(|g| g.visible),
                    };
                    let rejected = rejected.value(r);
                    seen.insert(id, !rejected);
                    (!rejected || was, rejected)
                }
            };
            keep.push(k);
            tombstone.push(t);
        }
        for ((key, start, end), visible) in seen {
            if let Some(g) = self.group_mut(key, start, end) {
                g.visible = visible;
            }
        }
        (Some(keep), tombstone)
    }

    fn group_mut(&mut self, key: &[u8], start: i64, end: i64) -> Option<&mut Group> {
        match self.windows {
            None => self.groups.get_mut(key),
            Some(Windows::Time { .. }) => self.time_windows.get_mut(&start)?.get_mut(key),
            Some(Windows::Session { .. }) => self
                .sessions
                .get_mut(key)?
                .iter_mut()
                .find(|g| g.start == start && g.end == end),
        }
    }
}

impl Operator for Aggregator {
    fn process(
        &mut self,
        batches: &[(usize, Slice)],
        emit: bool,
        failures: &Failures,
    ) -> Result<Option<RecordBatch>> {
        let mut outs = Vec::new();
        for (_, s) in batches {
            outs.extend(Aggregator::process(self, &s.rows(), emit, failures)?);
        }
        super::operator::concat(outs)
    }

    fn flush(&mut self, failures: &Failures) -> Result<Option<RecordBatch>> {
        let out = Aggregator::flush(self, failures)?;
        self.rows_out += out.as_ref().map_or(0, |b| b.num_rows() as u64);
        Ok(out)
    }

    fn stateful(&self) -> bool {
        true
    }

    fn checkpoint(&self) -> Result<Option<Vec<u8>>> {
        Aggregator::checkpoint(self).map(Some)
    }

    fn restore(&mut self, data: &[u8]) -> Result<()> {
        Aggregator::restore(self, data)
    }

    fn counters(&self) -> Counters {
        Counters {
            state_rows: self.state_rows(),
            late_records: self.late_records(),
            rows_in: self.rows_in,
            rows_kept: self.rows_kept,
            rows_out: self.rows_out,
            ..Counters::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::exec::eval::Failures;
    use crate::exec::operator::tests::{input, ints, one_by_one, plan, run, text};
    use crate::exec::operator::{build, Operator};
    use crate::plan::QueryPlan;
    use datafusion::arrow::array::RecordBatch;

    const DDL: &str = "CREATE STREAM s (id BIGINT KEY, price BIGINT) \
                       WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);";

    /// Six bids; the fifth is late for a 10 s window with 1 s grace (stream time is then 12 s).
    fn bids(plan: &QueryPlan) -> RecordBatch {
        let ids = ints(&[Some(1), Some(2), Some(1), Some(1), Some(2), Some(2)]);
        let prices = ints(&[Some(5), Some(7), None, Some(4), Some(9), Some(1)]);
        let times = [1000, 2000, 9000, 12000, 3000, 25000];
        input(plan, 0, &times, &[("ID", ids), ("PRICE", prices)])
    }

    fn query(window: &str, emit: &str) -> String {
        format!(
            "CREATE TABLE o AS SELECT id, COUNT(*) AS c, SUM(price) AS s, MAX(price) AS m, \
             COLLECT_LIST(price) AS l FROM s {window} GROUP BY id EMIT {emit};"
        )
    }

    #[test]
    fn emit_final_closes_each_window_at_the_record_that_passes_it() {
        let plan = plan(
            DDL,
            &query(
                "WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 1 SECOND)",
                "FINAL",
            ),
        );
        let mut op = build(&plan).unwrap();
        let failures = Failures::silent();
        let mut after = Vec::new();
        for (_, b) in one_by_one(0, &bids(&plan)) {
            let slice = crate::exec::align::Slice::whole(0, b);
            after.push(text(op.process(&[(0, slice)], true, &failures).unwrap()));
        }
        let none: Vec<String> = Vec::new();
        assert_eq!(after[..3], [none.clone(), none.clone(), none.clone()]);
        // 12 s passes the first window's end plus grace (11 s): it closes there.
        assert_eq!(
            after[3],
            [
                "ID=1 C=2 S=5 M=5 L=[5, NULL] WINDOWSTART=0 WINDOWEND=10000 ROWTIME=9000",
                "ID=2 C=1 S=7 M=7 L=[7] WINDOWSTART=0 WINDOWEND=10000 ROWTIME=2000"
            ]
        );
        assert_eq!(after[4], none, "the late bid is dropped");
        assert_eq!(
            after[5],
            ["ID=1 C=1 S=4 M=4 L=[4] WINDOWSTART=10000 WINDOWEND=20000 ROWTIME=12000"]
        );
        assert_eq!(op.counters().late_records, 1);
        assert_eq!(op.counters().state_rows, 1, "only the last window is open");
        assert_eq!(
            text(op.flush(&failures).unwrap()),
            ["ID=2 C=1 S=1 M=1 L=[1] WINDOWSTART=20000 WINDOWEND=30000 ROWTIME=25000"]
        );
        assert_eq!(op.counters().state_rows, 0);
    }

    /// After the end of a bounded input, records of the windows it closed are late, and a
    /// later window opens and closes as usual (a shell adding records after `brooklet run`).
    #[test]
    fn windows_open_again_after_a_flush() {
        let plan = plan(
            DDL,
            &query(
                "WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 1 SECOND)",
                "FINAL",
            ),
        );
        let mut op = build(&plan).unwrap();
        let at = |times: &[i64]| {
            let ids = ints(&vec![Some(1); times.len()]);
            let prices = ints(&vec![Some(3); times.len()]);
            input(&plan, 0, times, &[("ID", ids), ("PRICE", prices)])
        };
        let first = run(op.as_mut(), &[(0, at(&[1_000, 2_000]))], true);
        assert_eq!(first.len(), 1, "{first:?}");
        assert!(first[0].contains("C=2") && first[0].contains("WINDOWSTART=0"));
        // 5 s belongs to the window the flush closed: late. 25 s opens [20 s, 30 s).
        let later = run(op.as_mut(), &[(0, at(&[5_000, 25_000]))], false);
        assert!(later.is_empty(), "{later:?}");
        assert_eq!(op.counters().late_records, 1);
        assert_eq!(op.counters().state_rows, 1);
        let closed = run(op.as_mut(), &[], true);
        assert_eq!(closed.len(), 1, "{closed:?}");
        assert!(closed[0].contains("C=1") && closed[0].contains("WINDOWSTART=20000"));
    }

    /// Every kind of window and emit: one batch, one batch per record, and a checkpoint
    /// restored into a new operator after each record give the same rows.
    #[test]
    fn results_depend_neither_on_batching_nor_on_checkpoints() {
        let windows = [
            "",
            "WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 1 SECOND)",
            "WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 5 SECONDS, GRACE PERIOD 1 SECOND)",
            "WINDOW SESSION (5 SECONDS, GRACE PERIOD 1 SECOND)",
        ];
        for window in windows {
            for emit in ["CHANGES", "FINAL"] {
                if window.is_empty() && emit == "FINAL" {
                    continue;
                }
                let plan = plan(DDL, &query(window, emit));
                let batch = bids(&plan);
                let whole = run(build(&plan).unwrap().as_mut(), &[(0, batch.clone())], true);
                let each = run(build(&plan).unwrap().as_mut(), &one_by_one(0, &batch), true);
                assert_eq!(whole, each, "{window} EMIT {emit}");
                assert!(!whole.is_empty(), "{window} EMIT {emit}");
                let mut restored = Vec::new();
                let mut state: Option<Vec<u8>> = None;
                let records = one_by_one(0, &batch);
                for (i, b) in records.iter().enumerate() {
                    let mut op: Box<dyn Operator> = build(&plan).unwrap();
                    if let Some(s) = &state {
                        op.restore(s).unwrap();
                    }
                    let last = i + 1 == records.len();
                    restored.extend(run(op.as_mut(), std::slice::from_ref(b), last));
                    state = op.checkpoint().unwrap();
                }
                assert_eq!(whole, restored, "{window} EMIT {emit}");
            }
        }
    }
}
