//! The aggregation operator: per-group state in a hash map keyed by the row-encoded group key,
//! updated record by record. Every input record emits the new value of its group (ksqlDB with the
//! record cache off), with the largest timestamp that contributed to the group.

use crate::catalog::types::SqlType;
use crate::error::{Error, Result};
use crate::plan::aggregate::{AggKind, AggregatePlan};
use crate::plan::expr::PhysExpr;
use crate::sql::ast::{WindowKind, WindowSpec};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int32Array, Int64Array, RecordBatch,
};
use datafusion::arrow::compute::{cast, filter_record_batch, not};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::ScalarValue;
use hashbrown::HashMap;
use std::cmp::Ordering;
use std::sync::Arc;

enum Acc {
    Count(i64),
    Sum(ScalarValue),
    /// The least (`Less`) or greatest (`Greater`) value seen.
    Extreme(Option<ScalarValue>, Ordering),
    Avg(f64, i64),
    /// COLLECT_LIST, or COLLECT_SET when `distinct`.
    Collect(Vec<ScalarValue>, bool),
    /// The first (EARLIEST_BY_OFFSET) or last (LATEST_BY_OFFSET) non-null value.
    ByOffset(Option<ScalarValue>, bool),
}

impl Acc {
    fn new(kind: AggKind, result: &SqlType) -> Result<Acc> {
        Ok(match kind {
            AggKind::CountRows | AggKind::Count => Acc::Count(0),
            AggKind::Sum => Acc::Sum(ScalarValue::new_zero(&result.to_arrow())?),
            AggKind::Min => Acc::Extreme(None, Ordering::Less),
            AggKind::Max => Acc::Extreme(None, Ordering::Greater),
            AggKind::Avg => Acc::Avg(0.0, 0),
            AggKind::CollectList => Acc::Collect(Vec::new(), false),
            AggKind::CollectSet => Acc::Collect(Vec::new(), true),
            AggKind::EarliestByOffset => Acc::ByOffset(None, false),
            AggKind::LatestByOffset => Acc::ByOffset(None, true),
        })
    }

    fn update(&mut self, kind: AggKind, v: Option<ScalarValue>) -> Result<()> {
        // Collections keep NULLs, as ksqlDB's COLLECT_LIST and COLLECT_SET do.
        if let (Acc::Collect(items, distinct), Some(v)) = (&mut *self, &v) {
            if !*distinct || !items.contains(v) {
                items.push(v.clone());
            }
            return Ok(());
        }
        let v = v.filter(|v| !v.is_null());
        match (self, v) {
            (Acc::Count(n), _) if kind == AggKind::CountRows => *n += 1,
            (Acc::Count(n), Some(_)) => *n += 1,
            (Acc::Sum(s), Some(v)) => {
                let dt = s.data_type();
                *s = s
                    .add_checked(&v)
                    .map_err(|e| Error::runtime(format!("Numeric field overflow: {e}")))?
                    .cast_to(&dt)?;
            }
            (Acc::Extreme(m, want), Some(v))
                if m.as_ref().is_none_or(|m| v.partial_cmp(m) == Some(*want)) =>
            {
                *m = Some(v)
            }
            (Acc::Avg(sum, n), Some(v)) => {
                if let ScalarValue::Float64(Some(x)) = v.cast_to(&DataType::Float64)? {
                    *sum += x;
                    *n += 1;
                }
            }
            (Acc::ByOffset(slot, latest), Some(v)) if *latest || slot.is_none() => *slot = Some(v),
            _ => {}
        }
        Ok(())
    }

    fn value(&self, result: &SqlType) -> Result<ScalarValue> {
        let dt = result.to_arrow();
        Ok(match self {
            Acc::Count(n) => ScalarValue::Int64(Some(*n)),
            Acc::Sum(s) => s.clone(),
            Acc::Extreme(m, _) | Acc::ByOffset(m, _) => {
                m.clone().map_or_else(|| ScalarValue::try_from(&dt), Ok)?
            }
            Acc::Avg(sum, n) => ScalarValue::Float64((*n > 0).then(|| sum / *n as f64)),
            Acc::Collect(items, _) => {
                let SqlType::Array(elem) = result else {
                    return Err(Error::generic(
                        "internal: a collection's result is an array",
                    ));
                };
                ScalarValue::List(ScalarValue::new_list(items, &elem.to_arrow(), true))
            }
        })
    }
}

struct Group {
    accs: Vec<Acc>,
    rowtime: i64,
    window_start: i64,
    /// Whether the group's last output was a row (not a tombstone): a row HAVING rejects
    /// becomes a tombstone only if it was visible.
    visible: bool,
}

/// Tumbling (advance = size) and hopping windows.
struct Windows {
    size: i64,
    advance: i64,
    grace: i64,
}

/// ksqlDB's grace period when a window does not give one.
const DEFAULT_GRACE_MS: i64 = 24 * 3600 * 1000;

impl Windows {
    fn new(spec: &WindowSpec) -> Option<Windows> {
        let grace = spec.grace_ms.unwrap_or(DEFAULT_GRACE_MS);
        match spec.kind {
            WindowKind::Tumbling { size_ms } => Some(Windows {
                size: size_ms,
                advance: size_ms,
                grace,
            }),
            WindowKind::Hopping {
                size_ms,
                advance_ms,
            } => Some(Windows {
                size: size_ms,
                advance: advance_ms,
                grace,
            }),
            WindowKind::Session { .. } => None,
        }
    }

    /// The starts of the windows `ts` falls in, ascending (no negative starts).
    fn starts(&self, ts: i64, out: &mut Vec<i64>) {
        let mut s = ts - ts.rem_euclid(self.advance);
        while s > ts - self.size && s >= 0 {
            out.push(s);
            s -= self.advance;
        }
        out.reverse();
    }
}

pub struct Aggregator {
    plan: AggregatePlan,
    converter: RowConverter,
    groups: HashMap<Box<[u8]>, Group>,
    windows: Option<Windows>,
    stream_time: i64,
    late_records: u64,
}

fn eval(e: &PhysExpr, batch: &RecordBatch, ty: &SqlType) -> Result<ArrayRef> {
    let a = e.evaluate(batch)?.into_array(batch.num_rows())?;
    let target = ty.to_arrow();
    Ok(if a.data_type() == &target {
        a
    } else {
        cast(&a, &target)?
    })
}

impl Aggregator {
    pub fn new(plan: AggregatePlan) -> Result<Self> {
        let fields = plan
            .keys
            .iter()
            .map(|(_, _, t)| SortField::new(t.to_arrow()))
            .collect();
        Ok(Aggregator {
            converter: RowConverter::new(fields)?,
            windows: plan.window.as_ref().and_then(Windows::new),
            plan,
            groups: HashMap::new(),
            stream_time: i64::MIN,
            late_records: 0,
        })
    }

    /// Removes the windows that stream time has closed, in window order, collecting their final
    /// values.
    fn close_windows(
        &mut self,
        keys: &mut Vec<Box<[u8]>>,
        starts: &mut Vec<i64>,
        values: &mut [Vec<ScalarValue>],
        times: &mut Vec<i64>,
    ) -> Result<()> {
        let Some(w) = &self.windows else {
            return Ok(());
        };
        let (size, grace, now) = (w.size, w.grace, self.stream_time);
        let mut closed: Vec<(i64, Box<[u8]>)> = self
            .groups
            .iter()
            .filter(|(_, g)| g.window_start + size + grace <= now)
            .map(|(k, g)| (g.window_start, k.clone()))
            .collect();
        closed.sort();
        for (start, key) in closed {
            let Some(g) = self.groups.remove(&key) else {
                continue;
            };
            for (j, call) in self.plan.aggregates.iter().enumerate() {
                values[j].push(g.accs[j].value(&call.result)?);
            }
            keys.push(key);
            starts.push(start);
            times.push(g.rowtime);
        }
        Ok(())
    }

    /// Records dropped because their windows had closed.
    pub fn late_records(&self) -> u64 {
        self.late_records
    }

    /// Applies a decoded batch to the state; with `emit`, returns one output row per applied
    /// record (without, it only updates the state, including which groups are visible): the
    /// output columns, then ROWTIME, ROWPARTITION, ROWOFFSET and the tombstone flag.
    pub fn process(&mut self, batch: &RecordBatch, emit: bool) -> Result<Option<RecordBatch>> {
        // Records with a null value do not aggregate; nor do rows the WHERE clause rejects.
        let mut keep = not(batch.column(3).as_boolean())?;
        if let Some(f) = &self.plan.filter {
            keep = datafusion::arrow::compute::and(&keep, &super::predicate(f, batch)?)?;
        }
        let batch = filter_record_batch(batch, &keep)?;
        let n = batch.num_rows();
        let keys: Vec<ArrayRef> = self
            .plan
            .keys
            .iter()
            .map(|(_, e, t)| eval(e, &batch, t))
            .collect::<Result<_>>()?;
        let args: Vec<Option<ArrayRef>> = self
            .plan
            .aggregates
            .iter()
            .map(|a| {
                a.arg
                    .as_ref()
                    .map(|e| e.evaluate(&batch)?.into_array(n))
                    .transpose()
            })
            .collect::<datafusion::error::Result<_>>()?;
        let rows = self.converter.convert_columns(&keys)?;
        let rowtime = batch.column(0).as_primitive::<Int64Type>();
        let mut out_rows: Vec<usize> = Vec::new();
        let mut out_values: Vec<Vec<ScalarValue>> = vec![Vec::new(); self.plan.aggregates.len()];
        let mut out_time = Vec::new();
        // Windows closed before this batch can no longer change: their state goes.
        if let Some(w) = &self.windows {
            let (size, grace, now) = (w.size, w.grace, self.stream_time);
            self.groups
                .retain(|_, g| g.window_start + size + grace > now);
        }
        let mut out_keys: Vec<Box<[u8]>> = Vec::new();
        let mut out_starts: Vec<i64> = Vec::new();
        let mut window_starts = Vec::new();
        for i in 0..n {
            // ksqlDB drops records whose grouping values are all NULL.
            if !keys.is_empty() && keys.iter().all(|k| k.is_null(i)) {
                continue;
            }
            let ts = rowtime.value(i);
            self.stream_time = self.stream_time.max(ts);
            window_starts.clear();
            match &self.windows {
                Some(w) => w.starts(ts, &mut window_starts),
                None => window_starts.push(0),
            }
            for &start in &window_starts {
                let mut key: Vec<u8> = rows.row(i).as_ref().to_vec();
                if let Some(w) = &self.windows {
                    // A window closes once stream time passes its end plus the grace period.
                    if start + w.size + w.grace <= self.stream_time {
                        self.late_records += 1;
                        continue;
                    }
                    key.extend_from_slice(&start.to_be_bytes());
                }
                let key: Box<[u8]> = key.into();
                let key_of_group = key.clone();
                let group = match self.groups.get_mut(&key) {
                    Some(g) => g,
                    None => {
                        let accs = self
                            .plan
                            .aggregates
                            .iter()
                            .map(|a| Acc::new(a.kind, &a.result))
                            .collect::<Result<_>>()?;
                        self.groups.entry(key).or_insert(Group {
                            accs,
                            rowtime: i64::MIN,
                            window_start: start,
                            visible: false,
                        })
                    }
                };
                for (j, call) in self.plan.aggregates.iter().enumerate() {
                    let v = args[j]
                        .as_ref()
                        .map(|a| ScalarValue::try_from_array(a, i))
                        .transpose()?;
                    group.accs[j].update(call.kind, v)?;
                }
                group.rowtime = group.rowtime.max(ts);
                if !self.plan.emit_final {
                    out_keys.push(key_of_group.clone());
                    out_rows.push(i);
                    out_starts.push(start);
                    out_time.push(group.rowtime);
                    for (j, call) in self.plan.aggregates.iter().enumerate() {
                        out_values[j].push(group.accs[j].value(&call.result)?);
                    }
                }
            }
        }
        let part = batch.column(1).as_primitive::<Int32Type>();
        let off = batch.column(2).as_primitive::<Int64Type>();
        let (key_columns, parts, offs) = if self.plan.emit_final {
            // EMIT FINAL: nothing per record; each window once, when it closes, caused by the
            // batch's last record.
            let Some(last) = n.checked_sub(1) else {
                return Ok(None);
            };
            self.close_windows(
                &mut out_keys,
                &mut out_starts,
                &mut out_values,
                &mut out_time,
            )?;
            let parser = self.converter.parser();
            let rows: Vec<_> = out_keys
                .iter()
                .map(|k| parser.parse(&k[..k.len() - 8]))
                .collect();
            let key_columns = self.converter.convert_rows(rows)?;
            (
                key_columns,
                vec![part.value(last); out_keys.len()],
                vec![off.value(last); out_keys.len()],
            )
        } else {
            let idx = datafusion::arrow::array::UInt32Array::from_iter_values(
                out_rows.iter().map(|i| *i as u32),
            );
            let key_columns = keys
                .iter()
                .map(|k| datafusion::arrow::compute::take(k, &idx, None))
                .collect::<std::result::Result<_, _>>()?;
            let parts = out_rows.iter().map(|i| part.value(*i)).collect();
            let offs = out_rows.iter().map(|i| off.value(*i)).collect();
            (key_columns, parts, offs)
        };
        if out_keys.is_empty() {
            return Ok(None);
        }
        let mut columns: Vec<ArrayRef> = key_columns;
        if let Some(w) = &self.windows {
            columns.push(Arc::new(Int64Array::from(out_starts.clone())));
            columns.push(Arc::new(Int64Array::from_iter_values(
                out_starts.iter().map(|s| s + w.size),
            )));
        }
        for (j, values) in out_values.into_iter().enumerate() {
            let dt = self
                .plan
                .agg_schema
                .field(self.plan.keys.len() + if self.windows.is_some() { 2 } else { 0 } + j)
                .data_type()
                .clone();
            let a = ScalarValue::iter_to_array(values)?;
            columns.push(if a.data_type() == &dt {
                a
            } else {
                cast(&a, &dt)?
            });
        }
        let agg = RecordBatch::try_new(self.plan.agg_schema.clone(), columns)?;
        let rows_out = agg.num_rows();
        let mut fields = Vec::new();
        let mut arrays = Vec::new();
        for c in &self.plan.output {
            arrays.push(eval(&c.expr, &agg, &c.column.ty)?);
            fields.push(Field::new(&c.column.name, c.column.ty.to_arrow(), true));
        }
        let tombstone = match &self.plan.having {
            Some(h) => not(&super::predicate(h, &agg)?)?,
            None => BooleanArray::from(vec![false; rows_out]),
        };
        // A rejected row is a tombstone only for a group whose last output was a row.
        let mut keep = Vec::with_capacity(rows_out);
        for (r, key) in out_keys.iter().enumerate() {
            let rejected = tombstone.value(r);
            let Some(g) = self.groups.get_mut(key) else {
                // A final result is emitted once: only if HAVING accepts it.
                keep.push(!rejected);
                continue;
            };
            keep.push(!rejected || g.visible);
            g.visible = !rejected;
        }
        let keep = BooleanArray::from(keep);
        let pseudo: [(&str, ArrayRef); 4] = [
            (
                crate::catalog::ROWTIME,
                Arc::new(Int64Array::from(out_time)),
            ),
            (
                crate::catalog::ROWPARTITION,
                Arc::new(Int32Array::from(parts)),
            ),
            (crate::catalog::ROWOFFSET, Arc::new(Int64Array::from(offs))),
            (crate::catalog::TOMBSTONE, Arc::new(tombstone)),
        ];
        if self.windows.is_some() {
            fields.push(Field::new(
                crate::catalog::WINDOW_START,
                DataType::Int64,
                false,
            ));
            arrays.push(Arc::new(Int64Array::from(out_starts)));
        }
        for (name, a) in pseudo {
            fields.push(Field::new(name, a.data_type().clone(), false));
            arrays.push(a);
        }
        let out = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
        let out = filter_record_batch(&out, &keep)?;
        Ok((emit && out.num_rows() > 0).then_some(out))
    }
}
