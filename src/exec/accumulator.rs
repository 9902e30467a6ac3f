//! One aggregate's state for one group (or window): update with a record's argument values,
//! undo (retract) a record when a table row changes, merge two session windows, and read the
//! current value — with ksqlDB's semantics for each function.

use crate::catalog::types::SqlType;
use crate::error::{Error, Result};
use crate::plan::aggregate::{AggCall, AggKind};
use datafusion::arrow::array::{Array, ArrayRef, Int64Array, MapArray, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use hashbrown::HashSet;
use std::cmp::Ordering;
use std::collections::VecDeque;
use std::sync::Arc;

/// Running moments (Welford) for STDDEV_SAMP, STDDEV_POP and VARIANCE.
#[derive(Debug, Clone, Default)]
pub struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn add(&mut self, x: f64) {
        self.n += 1.0;
        let d = x - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (x - self.mean);
    }

    fn remove(&mut self, x: f64) {
        if self.n <= 1.0 {
            *self = Moments::default();
            return;
        }
        let mean = (self.n * self.mean - x) / (self.n - 1.0);
        self.m2 -= (x - mean) * (x - self.mean);
        self.n -= 1.0;
        self.mean = mean;
    }

    fn merge(&mut self, o: &Moments) {
        if o.n == 0.0 {
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        self.mean += d * o.n / n;
        self.m2 += o.m2 + d * d * self.n * o.n / n;
        self.n = n;
    }
}

/// Co-moments for CORRELATION, as sums so that they can be undone and merged exactly.
#[derive(Debug, Clone, Default)]
pub struct CoMoments {
    n: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    syy: f64,
    sxy: f64,
}

impl CoMoments {
    fn add(&mut self, x: f64, y: f64, sign: f64) {
        self.n += sign;
        self.sx += sign * x;
        self.sy += sign * y;
        self.sxx += sign * x * x;
        self.syy += sign * y * y;
        self.sxy += sign * x * y;
    }

    /// ksqlDB's `CorrelationUdaf.map`, single-pass: NaN when undefined (no rows, one row,
    /// a constant variable), never NULL.
    fn value(&self) -> Option<f64> {
        let cov = self.n * self.sxy - self.sx * self.sy;
        let vx = self.n * self.sxx - self.sx * self.sx;
        let vy = self.n * self.syy - self.sy * self.sy;
        Some(cov / (vx * vy).sqrt())
    }
}

#[derive(Debug, Clone)]
pub enum Acc {
    Count(i64),
    Sum(ScalarValue),
    /// The least (`Less`) or greatest (`Greater`) value seen.
    Extreme(Option<ScalarValue>, Ordering),
    Avg(f64, i64),
    /// COLLECT_LIST, or COLLECT_SET when `distinct`; NULLs are kept, as ksqlDB keeps them.
    Collect(Vec<ScalarValue>, bool),
    /// EARLIEST_BY_OFFSET / LATEST_BY_OFFSET: values with their arrival sequence (so that
    /// merged session windows keep arrival order).
    ByOffset(VecDeque<(u64, ScalarValue)>),
    /// TOPK / TOPKDISTINCT: the greatest values, descending.
    TopK(Vec<ScalarValue>),
    /// HISTOGRAM and ATTR: distinct values with their counts, in first-seen order.
    Counts(Vec<(ScalarValue, i64)>),
    Moments(Moments),
    Correlation(CoMoments),
    CountDistinct(HashSet<ScalarValue>),
    /// A user-defined aggregate's state.
    User(ScalarValue),
}

/// ksqlDB's cap on the number of distinct values a HISTOGRAM keeps.
const HISTOGRAM_LIMIT: usize = 1000;

fn float(v: &ScalarValue) -> Result<Option<f64>> {
    Ok(match v.cast_to(&DataType::Float64)? {
        ScalarValue::Float64(x) => x,
        _ => None,
    })
}

/// A user-defined aggregate call's resolved instance.
fn user(call: &AggCall) -> Result<&dyn crate::functions::udaf::UdafInstance> {
    call.user
        .as_deref()
        .ok_or_else(|| Error::generic("a user-defined aggregate call was not resolved"))
}

pub(crate) fn numeric_overflow(e: datafusion::error::DataFusionError) -> Error {
    Error::runtime(format!("Numeric field overflow: {e}"))
}

impl Acc {
    pub fn new(call: &AggCall) -> Result<Acc> {
        Ok(match call.kind {
            AggKind::CountRows | AggKind::Count => Acc::Count(0),
            AggKind::Sum => Acc::Sum(ScalarValue::new_zero(&call.result.to_arrow())?),
            AggKind::Min => Acc::Extreme(None, Ordering::Less),
            AggKind::Max => Acc::Extreme(None, Ordering::Greater),
            AggKind::Avg => Acc::Avg(0.0, 0),
            AggKind::CollectList => Acc::Collect(Vec::new(), false),
            AggKind::CollectSet => Acc::Collect(Vec::new(), true),
            AggKind::EarliestByOffset | AggKind::LatestByOffset => Acc::ByOffset(VecDeque::new()),
            AggKind::TopK | AggKind::TopKDistinct => Acc::TopK(Vec::new()),
            AggKind::Histogram | AggKind::Attr => Acc::Counts(Vec::new()),
            AggKind::StddevSamp | AggKind::StddevPop | AggKind::Variance => {
                Acc::Moments(Moments::default())
            }
            AggKind::Correlation => Acc::Correlation(CoMoments::default()),
            AggKind::CountDistinct => Acc::CountDistinct(HashSet::new()),
            AggKind::User => Acc::User(user(call)?.initialize()),
        })
    }

    /// COUNT, SUM, AVG and CORRELATION take a record in (`sign` 1) or out (-1) alike; false
    /// for the other accumulators.
    fn add_signed(&mut self, call: &AggCall, args: &[ScalarValue], sign: i64) -> Result<bool> {
        let present = args.first().filter(|v| !v.is_null());
        match self {
            Acc::Count(n) => {
                if call.kind == AggKind::CountRows || present.is_some() {
                    *n += sign
                }
            }
            Acc::Sum(s) => {
                if let Some(v) = present {
                    let dt = s.data_type();
                    let next = if sign > 0 {
                        s.add_checked(v)
                    } else {
                        s.sub_checked(v)
                    };
                    *s = next.map_err(numeric_overflow)?.cast_to(&dt)?;
                }
            }
            Acc::Avg(sum, n) => {
                if let Some(x) = present.map(float).transpose()?.flatten() {
                    *sum += sign as f64 * x;
                    *n += sign;
                }
            }
            Acc::Correlation(c) => {
                if let (Some(x), Some(y)) = (pair(args, 0)?, pair(args, 1)?) {
                    c.add(x, y, sign as f64)
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Adds one record's argument values; `seq` orders records by arrival.
    pub fn update(&mut self, call: &AggCall, args: &[ScalarValue], seq: u64) -> Result<()> {
        if self.add_signed(call, args, 1)? {
            return Ok(());
        }
        let v = args.first();
        let present = v.filter(|v| !v.is_null());
        match self {
            Acc::Count(_) | Acc::Sum(_) | Acc::Avg(..) | Acc::Correlation(_) => {}
            Acc::User(state) => *state = user(call)?.aggregate(args, state.clone())?,
            Acc::Extreme(m, want) => {
                if let Some(v) = present {
                    if m.as_ref().is_none_or(|m| v.partial_cmp(m) == Some(*want)) {
                        *m = Some(v.clone())
                    }
                }
            }
            Acc::Collect(items, distinct) => {
                if let Some(v) = v {
                    if items.len() < call.limit && (!*distinct || !contains(items, v)) {
                        items.push(v.clone());
                    }
                }
            }
            Acc::ByOffset(items) => {
                let Some(v) = v.filter(|v| !call.ignore_nulls || !v.is_null()) else {
                    return Ok(());
                };
                let cap = call.n.max(1);
                if call.kind == AggKind::LatestByOffset {
                    items.push_back((seq, v.clone()));
                    while items.len() > cap {
                        items.pop_front();
                    }
                } else if items.len() < cap {
                    items.push_back((seq, v.clone()));
                }
            }
            Acc::TopK(items) => {
                if let Some(v) = present {
                    if call.kind == AggKind::TopKDistinct && items.contains(v) {
                        return Ok(());
                    }
                    let at = items
                        .iter()
                        .position(|x| v.partial_cmp(&sort_value(x)) == Some(Ordering::Greater))
                        .unwrap_or(items.len());
                    if at < call.n {
                        let item = match args {
                            [_, _, ..] => carried(call, args)?,
                            _ => v.clone(),
                        };
                        items.insert(at, item);
                        items.truncate(call.n);
                    }
                }
            }
            Acc::Counts(counts) => {
                // ATTR counts NULL as a value; HISTOGRAM skips it.
                let Some(v) = (if call.kind == AggKind::Attr {
                    v
                } else {
                    present
                }) else {
                    return Ok(());
                };
                let room = call.kind == AggKind::Attr || counts.len() < HISTOGRAM_LIMIT;
                match counts.iter_mut().find(|(x, _)| x == v) {
                    Some((_, c)) => *c += 1,
                    None if room => counts.push((v.clone(), 1)),
                    None => {}
                }
            }
            Acc::Moments(m) => {
                if let Some(x) = present.map(float).transpose()?.flatten() {
                    m.add(x)
                }
            }
            Acc::CountDistinct(set) => {
                if let Some(v) = present {
                    if !set.contains(v) {
                        set.insert(v.clone());
                    }
                }
            }
        }
        Ok(())
    }

    /// Retracts one record's argument values (a table row that changed or was deleted). Only
    /// the functions ksqlDB allows over tables (`AggKind::undoable`) reach here.
    pub fn undo(&mut self, call: &AggCall, args: &[ScalarValue]) -> Result<()> {
        if self.add_signed(call, args, -1)? {
            return Ok(());
        }
        let v = args.first();
        let present = v.filter(|v| !v.is_null());
        match self {
            Acc::Count(_) | Acc::Sum(_) | Acc::Avg(..) | Acc::Correlation(_) => {}
            Acc::User(state) => {
                if let Some(next) = user(call)?.undo(args, state.clone()) {
                    *state = next?;
                }
            }
            Acc::Collect(items, _) => {
                if let Some(i) = v.and_then(|v| items.iter().rposition(|x| x == v)) {
                    items.remove(i);
                }
            }
            Acc::Counts(counts) => {
                let v = if call.kind == AggKind::Attr {
                    v
                } else {
                    present
                };
                if let Some(i) = v.and_then(|v| counts.iter().position(|(x, _)| x == v)) {
                    counts[i].1 -= 1;
                    if counts[i].1 <= 0 {
                        counts.remove(i);
                    }
                }
            }
            Acc::Moments(m) => {
                if let Some(x) = present.map(float).transpose()?.flatten() {
                    m.remove(x)
                }
            }
            Acc::Extreme(..) | Acc::ByOffset(_) | Acc::TopK(_) | Acc::CountDistinct(_) => {
                return Err(Error::generic(format!(
                    "internal: {:?} cannot be undone",
                    call.kind
                )))
            }
        }
        Ok(())
    }

    /// Folds `other` (a later session window of the same key) into this one.
    pub fn merge(&mut self, call: &AggCall, other: Acc) -> Result<()> {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (Acc::User(a), Acc::User(b)) => *a = user(call)?.merge(a.clone(), b)?,
            (Acc::Sum(a), Acc::Sum(b)) => {
                let dt = a.data_type();
                *a = a.add_checked(&b).map_err(numeric_overflow)?.cast_to(&dt)?;
            }
            (Acc::Extreme(a, want), Acc::Extreme(Some(b), _))
                if a.as_ref().is_none_or(|a| b.partial_cmp(a) == Some(*want)) =>
            {
                *a = Some(b)
            }
            (Acc::Avg(s, n), Acc::Avg(s2, n2)) => {
                *s += s2;
                *n += n2;
            }
            (Acc::Collect(a, distinct), Acc::Collect(b, _)) => {
                for v in b {
                    if a.len() < call.limit && (!*distinct || !contains(a, &v)) {
                        a.push(v);
                    }
                }
            }
            (Acc::ByOffset(a), Acc::ByOffset(b)) => {
                let mut all: Vec<_> = a.drain(..).chain(b).collect();
                all.sort_by_key(|(seq, _)| *seq);
                let cap = call.n.max(1);
                let skip = if call.kind == AggKind::LatestByOffset {
                    all.len().saturating_sub(cap)
                } else {
                    0
                };
                a.extend(all.into_iter().skip(skip).take(cap));
            }
            (me @ Acc::TopK(_), Acc::TopK(b)) => {
                for v in b {
                    me.update(call, &[v], 0)?;
                }
            }
            (Acc::Counts(a), Acc::Counts(b)) => {
                for (v, c) in b {
                    match a.iter_mut().find(|(x, _)| *x == v) {
                        Some((_, n)) => *n += c,
                        None => a.push((v, c)),
                    }
                }
            }
            (Acc::Moments(a), Acc::Moments(b)) => a.merge(&b),
            (Acc::Correlation(a), Acc::Correlation(b)) => {
                a.n += b.n;
                a.sx += b.sx;
                a.sy += b.sy;
                a.sxx += b.sxx;
                a.syy += b.syy;
                a.sxy += b.sxy;
            }
            (Acc::CountDistinct(a), Acc::CountDistinct(b)) => a.extend(b),
            _ => {}
        }
        Ok(())
    }

    /// The aggregate's current value, of the call's result type.
    pub fn value(&self, call: &AggCall) -> Result<ScalarValue> {
        let result = &call.result;
        let null = || ScalarValue::try_from(&result.to_arrow());
        let list = |items: &mut dyn Iterator<Item = ScalarValue>| -> Result<ScalarValue> {
            let SqlType::Array(elem) = result else {
                return Err(Error::generic("internal: the result is an array"));
            };
            let items: Vec<ScalarValue> = items.collect();
            Ok(ScalarValue::List(ScalarValue::new_list(
                &items,
                &elem.to_arrow(),
                true,
            )))
        };
        Ok(match self {
            Acc::User(state) => user(call)?.map(state)?,
            Acc::Count(n) => ScalarValue::Int64(Some(*n)),
            Acc::Sum(s) => s.clone(),
            Acc::Extreme(m, _) => m.clone().map_or_else(null, Ok)?,
            Acc::Avg(sum, n) => ScalarValue::Float64((*n > 0).then(|| sum / *n as f64)),
            Acc::Collect(items, _) => list(&mut items.iter().cloned())?,
            Acc::ByOffset(items) if call.n > 0 => list(&mut items.iter().map(|(_, v)| v.clone()))?,
            Acc::ByOffset(items) => items.back().map_or_else(null, |(_, v)| Ok(v.clone()))?,
            Acc::TopK(items) => list(&mut items.iter().cloned())?,
            Acc::Counts(counts) if call.kind == AggKind::Attr => match counts.as_slice() {
                [(v, _)] => v.clone(),
                _ => null()?,
            },
            Acc::Counts(counts) => histogram(counts, result)?,
            Acc::Moments(m) => ScalarValue::Float64(match call.kind {
                AggKind::StddevPop => (m.n > 0.0).then(|| (m.m2 / m.n).max(0.0).sqrt()),
                AggKind::StddevSamp => Some(if m.n < 2.0 {
                    0.0
                } else {
                    (m.m2 / (m.n - 1.0)).max(0.0).sqrt()
                }),
                _ => Some(if m.n < 2.0 {
                    0.0
                } else {
                    (m.m2 / (m.n - 1.0)).max(0.0)
                }),
            }),
            Acc::Correlation(c) => ScalarValue::Float64(c.value()),
            Acc::CountDistinct(set) => ScalarValue::Int64(Some(set.len() as i64)),
        })
    }
}

/// An accumulator's state as plain parts, for checkpoints: values (of the type
/// [`Acc::scalar_type`] gives), integers and doubles.
#[derive(Debug, Default, PartialEq)]
pub struct Parts {
    pub scalars: Vec<ScalarValue>,
    pub ints: Vec<i64>,
    pub floats: Vec<f64>,
}

impl Acc {
    /// The type of the values in the accumulator's [`Parts`].
    pub fn scalar_type(call: &AggCall) -> DataType {
        match call.kind {
            AggKind::Sum => call.result.to_arrow(),
            // TOPK carrying other columns keeps structs (its result's elements).
            AggKind::TopK if call.arg_types.len() > 1 => match &call.result {
                SqlType::Array(elem) => elem.to_arrow(),
                other => other.to_arrow(),
            },
            AggKind::User => call
                .user
                .as_ref()
                .map_or(DataType::Null, |u| u.state_type().to_arrow()),
            _ => call
                .arg_types
                .first()
                .map_or(DataType::Null, |t| t.to_arrow()),
        }
    }

    pub fn to_parts(&self) -> Parts {
        let mut p = Parts::default();
        match self {
            Acc::Count(n) => p.ints.push(*n),
            Acc::Sum(s) => p.scalars.push(s.clone()),
            Acc::Extreme(m, _) => p.scalars.extend(m.clone()),
            Acc::Avg(sum, n) => {
                p.floats.push(*sum);
                p.ints.push(*n);
            }
            Acc::Collect(items, _) | Acc::TopK(items) => p.scalars.extend(items.iter().cloned()),
            Acc::ByOffset(items) => {
                for (seq, v) in items {
                    p.ints.push(*seq as i64);
                    p.scalars.push(v.clone());
                }
            }
            Acc::Counts(counts) => {
                for (v, c) in counts {
                    p.scalars.push(v.clone());
                    p.ints.push(*c);
                }
            }
            Acc::Moments(m) => p.floats.extend([m.n, m.mean, m.m2]),
            Acc::Correlation(c) => p.floats.extend([c.n, c.sx, c.sy, c.sxx, c.syy, c.sxy]),
            Acc::CountDistinct(set) => p.scalars.extend(set.iter().cloned()),
            Acc::User(state) => p.scalars.push(state.clone()),
        }
        p
    }

    /// The accumulator [`to_parts`](Self::to_parts) took apart.
    pub fn from_parts(call: &AggCall, p: Parts) -> Result<Acc> {
        let bad = || Error::generic(format!("a checkpoint of {} is malformed", call.kind.name()));
        let int = |i: usize| p.ints.get(i).copied().ok_or_else(bad);
        let float = |i: usize| p.floats.get(i).copied().ok_or_else(bad);
        let mut acc = Acc::new(call)?;
        match &mut acc {
            Acc::Count(n) => *n = int(0)?,
            Acc::Sum(s) => *s = p.scalars.first().cloned().ok_or_else(bad)?,
            Acc::Extreme(m, _) => *m = p.scalars.first().cloned(),
            Acc::Avg(sum, n) => {
                *sum = float(0)?;
                *n = int(0)?;
            }
            Acc::Collect(items, _) | Acc::TopK(items) => *items = p.scalars,
            Acc::ByOffset(items) => {
                if p.ints.len() != p.scalars.len() {
                    return Err(bad());
                }
                items.extend(p.ints.iter().map(|s| *s as u64).zip(p.scalars));
            }
            Acc::Counts(counts) => {
                if p.ints.len() != p.scalars.len() {
                    return Err(bad());
                }
                counts.extend(p.scalars.into_iter().zip(p.ints));
            }
            Acc::Moments(m) => {
                *m = Moments {
                    n: float(0)?,
                    mean: float(1)?,
                    m2: float(2)?,
                }
            }
            Acc::Correlation(c) => {
                *c = CoMoments {
                    n: float(0)?,
                    sx: float(1)?,
                    sy: float(2)?,
                    sxx: float(3)?,
                    syy: float(4)?,
                    sxy: float(5)?,
                }
            }
            Acc::CountDistinct(set) => set.extend(p.scalars),
            Acc::User(state) => *state = p.scalars.into_iter().next().ok_or_else(bad)?,
        }
        Ok(acc)
    }
}

/// Whether `items` holds a value equal to `v` as ksqlDB compares them: maps are equal when
/// their entries are, in any order.
fn contains(items: &[ScalarValue], v: &ScalarValue) -> bool {
    let ScalarValue::Map(m) = v else {
        return items.contains(v);
    };
    let entries = |m: &MapArray| -> Option<Vec<(ScalarValue, ScalarValue)>> {
        if m.is_empty() || m.is_null(0) {
            return None;
        }
        let row = m.value(0);
        let (keys, values) = (row.column(0), row.column(1));
        let mut e = (0..keys.len())
            .map(|i| {
                Some((
                    ScalarValue::try_from_array(keys, i).ok()?,
                    ScalarValue::try_from_array(values, i).ok()?,
                ))
            })
            .collect::<Option<Vec<_>>>()?;
        e.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));
        Some(e)
    };
    let want = entries(m);
    items.iter().any(|x| match x {
        ScalarValue::Map(other) => entries(other) == want,
        _ => false,
    })
}

/// The `i`th argument as a double, if present.
fn pair(args: &[ScalarValue], i: usize) -> Result<Option<f64>> {
    match args.get(i) {
        Some(v) if !v.is_null() => float(v),
        _ => Ok(None),
    }
}

/// A HISTOGRAM's counts as a one-entry MAP<STRING, BIGINT> scalar of `result`'s Arrow type.
fn histogram(counts: &[(ScalarValue, i64)], result: &SqlType) -> Result<ScalarValue> {
    let DataType::Map(entries, sorted) = result.to_arrow() else {
        return Err(Error::generic("internal: HISTOGRAM returns a map"));
    };
    let DataType::Struct(fields) = entries.data_type() else {
        return Err(Error::generic("internal: map entries are a struct"));
    };
    let keys: ArrayRef = if counts.is_empty() {
        datafusion::arrow::array::new_empty_array(fields[0].data_type())
    } else {
        ScalarValue::iter_to_array(counts.iter().map(|(v, _)| v.clone()))?
    };
    let keys = datafusion::arrow::compute::cast(&keys, fields[0].data_type())?;
    let values: ArrayRef = Arc::new(Int64Array::from_iter_values(counts.iter().map(|c| c.1)));
    let entries_array = StructArray::try_new(fields.clone(), vec![keys, values], None)?;
    let map = MapArray::try_new(
        entries.clone(),
        OffsetBuffer::from_lengths([counts.len()]),
        entries_array,
        None,
        sorted,
    )?;
    Ok(ScalarValue::Map(Arc::new(map)))
}

/// A TOPK item's sort value: the item, or the `sort_col` of a struct carrying other columns.
fn sort_value(item: &ScalarValue) -> ScalarValue {
    match item {
        ScalarValue::Struct(s) if s.num_columns() > 0 => {
            ScalarValue::try_from_array(s.column(0), 0).unwrap_or(ScalarValue::Null)
        }
        other => other.clone(),
    }
}

/// TOPK's struct of a record's sort value and the columns it carries.
fn carried(call: &AggCall, args: &[ScalarValue]) -> Result<ScalarValue> {
    let SqlType::Array(elem) = &call.result else {
        return Err(Error::generic("internal: TOPK's result is an array"));
    };
    let SqlType::Struct(fields) = elem.as_ref() else {
        return Err(Error::generic("internal: TOPK carries a struct"));
    };
    let mut builder = datafusion::common::scalar::ScalarStructBuilder::new();
    for ((name, ty), v) in fields.iter().zip(args) {
        let field = datafusion::arrow::datatypes::Field::new(name, ty.to_arrow(), true);
        let v = v
            .cast_to(&ty.to_arrow())
            .map_err(|e| Error::generic(e.to_string()))?;
        builder = builder.with_scalar(field, v);
    }
    builder.build().map_err(|e| Error::generic(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::aggregate::COLLECT_LIMIT;

    fn call(kind: AggKind, result: SqlType, n: usize) -> AggCall {
        AggCall {
            kind,
            args: Vec::new(),
            arg_types: Vec::new(),
            result,
            n,
            ignore_nulls: true,
            limit: COLLECT_LIMIT,
            user: None,
        }
    }

    fn int(v: Option<i32>) -> ScalarValue {
        ScalarValue::Int32(v)
    }

    fn run(c: &AggCall, values: &[Option<i32>]) -> Acc {
        let mut acc = Acc::new(c).unwrap();
        for (seq, v) in values.iter().enumerate() {
            acc.update(c, &[int(*v)], seq as u64).unwrap();
        }
        acc
    }

    fn list(values: &[Option<i32>]) -> ScalarValue {
        let items: Vec<ScalarValue> = values.iter().map(|v| int(*v)).collect();
        ScalarValue::List(ScalarValue::new_list(&items, &DataType::Int32, true))
    }

    #[test]
    fn count_sum_and_avg_undo_back_to_zero() {
        let count = call(AggKind::Count, SqlType::Bigint, 0);
        let mut acc = run(&count, &[Some(1), None, Some(3)]);
        assert_eq!(acc.value(&count).unwrap(), ScalarValue::Int64(Some(2)));
        acc.undo(&count, &[int(Some(1))]).unwrap();
        acc.undo(&count, &[int(None)]).unwrap();
        acc.undo(&count, &[int(Some(3))]).unwrap();
        assert_eq!(acc.value(&count).unwrap(), ScalarValue::Int64(Some(0)));

        let sum = call(AggKind::Sum, SqlType::Int, 0);
        let mut acc = run(&sum, &[Some(5), None, Some(7)]);
        assert_eq!(acc.value(&sum).unwrap(), int(Some(12)));
        acc.undo(&sum, &[int(Some(5))]).unwrap();
        assert_eq!(acc.value(&sum).unwrap(), int(Some(7)));

        let avg = call(AggKind::Avg, SqlType::Double, 0);
        let mut acc = run(&avg, &[Some(1), Some(2), None, Some(6)]);
        assert_eq!(acc.value(&avg).unwrap(), ScalarValue::Float64(Some(3.0)));
        acc.undo(&avg, &[int(Some(6))]).unwrap();
        assert_eq!(acc.value(&avg).unwrap(), ScalarValue::Float64(Some(1.5)));
    }

    #[test]
    fn earliest_and_latest_variants() {
        let arr = SqlType::Array(Box::new(SqlType::Int));
        let earliest = call(AggKind::EarliestByOffset, SqlType::Int, 0);
        let acc = run(&earliest, &[None, Some(4), Some(5)]);
        assert_eq!(acc.value(&earliest).unwrap(), int(Some(4)));
        let mut with_nulls = earliest.clone();
        with_nulls.ignore_nulls = false;
        let acc = run(&with_nulls, &[None, Some(4)]);
        assert_eq!(acc.value(&with_nulls).unwrap(), int(None));

        let earliest2 = call(AggKind::EarliestByOffset, arr.clone(), 2);
        let acc = run(&earliest2, &[Some(1), None, Some(2), Some(3)]);
        assert_eq!(acc.value(&earliest2).unwrap(), list(&[Some(1), Some(2)]));
        let latest2 = call(AggKind::LatestByOffset, arr.clone(), 2);
        let acc = run(&latest2, &[Some(1), Some(2), None, Some(3)]);
        assert_eq!(acc.value(&latest2).unwrap(), list(&[Some(2), Some(3)]));
        let all_null = run(&earliest2, &[None, None]);
        assert_eq!(all_null.value(&earliest2).unwrap(), list(&[]));
    }

    #[test]
    fn merged_sessions_keep_arrival_order() {
        let latest = call(AggKind::LatestByOffset, SqlType::Int, 0);
        let mut later = Acc::new(&latest).unwrap();
        later.update(&latest, &[int(Some(9))], 5).unwrap();
        let mut earlier = Acc::new(&latest).unwrap();
        earlier.update(&latest, &[int(Some(1))], 2).unwrap();
        later.merge(&latest, earlier).unwrap();
        assert_eq!(later.value(&latest).unwrap(), int(Some(9)));

        let count = call(AggKind::CountRows, SqlType::Bigint, 0);
        let mut a = run(&count, &[Some(1), Some(2)]);
        a.merge(&count, run(&count, &[None])).unwrap();
        assert_eq!(a.value(&count).unwrap(), ScalarValue::Int64(Some(3)));
    }

    #[test]
    fn topk_and_topkdistinct_descend() {
        let arr = SqlType::Array(Box::new(SqlType::Int));
        let topk = call(AggKind::TopK, arr.clone(), 2);
        let acc = run(&topk, &[Some(3), None, Some(9), Some(9), Some(1)]);
        assert_eq!(acc.value(&topk).unwrap(), list(&[Some(9), Some(9)]));
        let distinct = call(AggKind::TopKDistinct, arr, 2);
        let acc = run(&distinct, &[Some(3), Some(9), Some(9), Some(1)]);
        assert_eq!(acc.value(&distinct).unwrap(), list(&[Some(9), Some(3)]));
    }

    #[test]
    fn collect_list_limit_and_undo() {
        let arr = SqlType::Array(Box::new(SqlType::Int));
        let mut c = call(AggKind::CollectList, arr, 0);
        let mut acc = run(&c, &[Some(1), None, Some(1), Some(2)]);
        acc.undo(&c, &[int(Some(1))]).unwrap();
        assert_eq!(acc.value(&c).unwrap(), list(&[Some(1), None, Some(2)]));
        c.limit = 2;
        let acc = run(&c, &[Some(1), Some(2), Some(3)]);
        assert_eq!(acc.value(&c).unwrap(), list(&[Some(1), Some(2)]));
    }

    #[test]
    fn attr_histogram_and_count_distinct() {
        let attr = call(AggKind::Attr, SqlType::Int, 0);
        let mut acc = run(&attr, &[Some(4), Some(4)]);
        assert_eq!(acc.value(&attr).unwrap(), int(Some(4)));
        acc.update(&attr, &[int(Some(5))], 3).unwrap();
        assert_eq!(acc.value(&attr).unwrap(), int(None));
        acc.undo(&attr, &[int(Some(5))]).unwrap();
        assert_eq!(acc.value(&attr).unwrap(), int(Some(4)));

        let cd = call(AggKind::CountDistinct, SqlType::Bigint, 0);
        let acc = run(&cd, &[Some(1), Some(1), None, Some(2)]);
        assert_eq!(acc.value(&cd).unwrap(), ScalarValue::Int64(Some(2)));

        let map = SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Bigint));
        let h = call(AggKind::Histogram, map, 0);
        let mut acc = Acc::new(&h).unwrap();
        for v in ["a", "b", "a"] {
            acc.update(&h, &[ScalarValue::Utf8(Some(v.into()))], 0)
                .unwrap();
        }
        acc.undo(&h, &[ScalarValue::Utf8(Some("b".into()))])
            .unwrap();
        let ScalarValue::Map(m) = acc.value(&h).unwrap() else {
            panic!("HISTOGRAM is a map")
        };
        assert_eq!(m.value_length(0), 1, "b was retracted to zero and removed");
        let counts = m.value(0);
        assert_eq!(
            counts.column(1).as_ref(),
            &Int64Array::from(vec![2]) as &dyn datafusion::arrow::array::Array
        );
    }

    #[test]
    fn stddev_variance_and_correlation() {
        let f = |v: ScalarValue| match v {
            ScalarValue::Float64(Some(x)) => x,
            other => panic!("not a double: {other:?}"),
        };
        let samp = call(AggKind::StddevSamp, SqlType::Double, 0);
        let data = [2, 4, 4, 4, 5, 5, 7, 9].map(Some);
        let mut acc = run(&samp, &data);
        assert!((f(acc.value(&samp).unwrap()) - 2.138089935).abs() < 1e-6);
        let pop = call(AggKind::StddevPop, SqlType::Double, 0);
        assert!((f(acc.value(&pop).unwrap()) - 2.0).abs() < 1e-9);
        acc.undo(&samp, &[int(Some(9))]).unwrap();
        let expected = run(&samp, &data[..7]);
        assert!((f(acc.value(&samp).unwrap()) - f(expected.value(&samp).unwrap())).abs() < 1e-9);
        let one = run(&samp, &[Some(3)]);
        assert_eq!(f(one.value(&samp).unwrap()), 0.0);

        let corr = call(AggKind::Correlation, SqlType::Double, 0);
        let mut acc = Acc::new(&corr).unwrap();
        for (x, y) in [(1, 2), (2, 4), (3, 6)] {
            acc.update(&corr, &[int(Some(x)), int(Some(y))], 0).unwrap();
        }
        assert!((f(acc.value(&corr).unwrap()) - 1.0).abs() < 1e-9);
        acc.update(&corr, &[int(Some(4)), int(None)], 0).unwrap();
        assert!(
            (f(acc.value(&corr).unwrap()) - 1.0).abs() < 1e-9,
            "pairs with a NULL are skipped"
        );
    }
}

#[cfg(test)]
mod topk_tests {
    use super::*;
    use crate::plan::aggregate::COLLECT_LIMIT;

    /// TOPK(v, name, 2): the two greatest values, each with the name of its record, as
    /// ksqlDB's `sort_col` / `col0` structs; the state survives a checkpoint's round trip.
    #[test]
    fn topk_carries_other_columns_beside_the_sort_value() {
        let elem = SqlType::Struct(vec![
            ("sort_col".into(), SqlType::Int),
            ("col0".into(), SqlType::String),
        ]);
        let call = AggCall {
            kind: AggKind::TopK,
            args: Vec::new(),
            arg_types: vec![SqlType::Int, SqlType::String],
            result: SqlType::Array(Box::new(elem)),
            n: 2,
            ignore_nulls: true,
            limit: COLLECT_LIMIT,
            user: None,
        };
        let mut acc = Acc::new(&call).unwrap();
        let records = [
            (Some(0), "zero"),
            (Some(100), "hundred"),
            (None, "none"),
            (Some(99), "ninety-nine"),
        ];
        for (seq, (v, name)) in records.into_iter().enumerate() {
            let args = [ScalarValue::Int32(v), ScalarValue::Utf8(Some(name.into()))];
            acc.update(&call, &args, seq as u64).unwrap();
        }
        let shown = |acc: &Acc| {
            let ScalarValue::List(list) = acc.value(&call).unwrap() else {
                panic!("a list")
            };
            let items = list.value(0);
            let items = items
                .as_any()
                .downcast_ref::<datafusion::arrow::array::StructArray>()
                .map(|s| {
                    (0..s.len())
                        .map(|i| {
                            let v = ScalarValue::try_from_array(s.column(0), i).unwrap();
                            let n = ScalarValue::try_from_array(s.column(1), i).unwrap();
                            format!("{v}:{n}")
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            items
        };
        assert_eq!(shown(&acc), ["100:hundred", "99:ninety-nine"]);
        let back = Acc::from_parts(&call, acc.to_parts()).unwrap();
        assert_eq!(shown(&back), ["100:hundred", "99:ninety-nine"]);
    }
}
