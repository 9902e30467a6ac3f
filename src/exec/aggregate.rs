//! The aggregation operator: per-group state in a hash map keyed by the row-encoded group key,
//! updated record by record. Every input record emits the new value of its group (ksqlDB with the
//! record cache off), with the largest timestamp that contributed to the group.

use crate::catalog::types::SqlType;
use crate::error::{Error, Result};
use crate::plan::aggregate::{AggKind, AggregatePlan};
use crate::plan::expr::PhysExpr;
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
}

pub struct Aggregator {
    plan: AggregatePlan,
    converter: RowConverter,
    groups: HashMap<Box<[u8]>, Group>,
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
            plan,
            groups: HashMap::new(),
        })
    }

    pub fn plan(&self) -> &AggregatePlan {
        &self.plan
    }

    /// Applies a decoded batch to the state; with `emit`, returns one output row per applied
    /// record: the output columns, then ROWTIME, ROWPARTITION, ROWOFFSET and the tombstone flag.
    pub fn process(&mut self, batch: &RecordBatch, emit: bool) -> Result<Option<RecordBatch>> {
        let n = batch.num_rows();
        // Records with a null value do not aggregate; nor do rows the WHERE clause rejects.
        let mut keep = not(batch.column(3).as_boolean())?;
        if let Some(f) = &self.plan.filter {
            let m = f.evaluate(batch)?.into_array(n)?;
            let m = m
                .as_any()
                .downcast_ref::<BooleanArray>()
                .cloned()
                .unwrap_or_else(|| BooleanArray::from(vec![false; n]));
            keep = datafusion::arrow::compute::and(&keep, &m)?;
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
        for i in 0..n {
            // ksqlDB drops records whose grouping values are all NULL.
            if !keys.is_empty() && keys.iter().all(|k| k.is_null(i)) {
                continue;
            }
            let key: Box<[u8]> = rows.row(i).as_ref().into();
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
            group.rowtime = group.rowtime.max(rowtime.value(i));
            if emit {
                out_rows.push(i);
                out_time.push(group.rowtime);
                for (j, call) in self.plan.aggregates.iter().enumerate() {
                    out_values[j].push(group.accs[j].value(&call.result)?);
                }
            }
        }
        if out_rows.is_empty() {
            return Ok(None);
        }
        let idx = datafusion::arrow::array::UInt32Array::from_iter_values(
            out_rows.iter().map(|i| *i as u32),
        );
        let mut columns: Vec<ArrayRef> = keys
            .iter()
            .map(|k| datafusion::arrow::compute::take(k, &idx, None))
            .collect::<std::result::Result<_, _>>()?;
        for (j, values) in out_values.into_iter().enumerate() {
            let dt = self
                .plan
                .agg_schema
                .field(self.plan.keys.len() + j)
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
            Some(h) => {
                let m = h.evaluate(&agg)?.into_array(rows_out)?;
                let m = m
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .cloned()
                    .unwrap_or_else(|| BooleanArray::from(vec![false; rows_out]));
                BooleanArray::from_iter((0..rows_out).map(|i| Some(!(m.is_valid(i) && m.value(i)))))
            }
            None => BooleanArray::from(vec![false; rows_out]),
        };
        let part = batch.column(1).as_primitive::<Int32Type>();
        let off = batch.column(2).as_primitive::<Int64Type>();
        let pseudo: [(&str, ArrayRef); 4] = [
            (
                crate::catalog::ROWTIME,
                Arc::new(Int64Array::from(out_time)),
            ),
            (
                crate::catalog::ROWPARTITION,
                Arc::new(Int32Array::from_iter_values(
                    out_rows.iter().map(|i| part.value(*i)),
                )),
            ),
            (
                crate::catalog::ROWOFFSET,
                Arc::new(Int64Array::from_iter_values(
                    out_rows.iter().map(|i| off.value(*i)),
                )),
            ),
            (crate::catalog::TOMBSTONE, Arc::new(tombstone)),
        ];
        for (name, a) in pseudo {
            fields.push(Field::new(name, a.data_type().clone(), false));
            arrays.push(a);
        }
        Ok(Some(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            arrays,
        )?))
    }
}
