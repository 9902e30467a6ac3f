//! Accumulators over group slots, in the shape of DataFusion's `GroupsAccumulator`
//! (datafusion/expr-common/src/groups_accumulator.rs): each aggregate call keeps the state of
//! every group in vectors indexed by the group's *slot*, and a batch's records reach it as
//! (row, slot) pairs applied in one call over the argument columns, not one call per record.
//!
//! [`Slots`] owns the accumulators of a query's calls, hands out slots to new groups and takes
//! them back when groups go (closed windows, merged sessions). Updates are queued while the
//! operator walks a batch and applied, accumulator by accumulator, before anything reads the
//! state (an emitted value, a merge, a retraction, a checkpoint) and at the end of the batch,
//! so results are those of applying records one at a time.
//!
//! COUNT, SUM over INT, BIGINT and DOUBLE, and MIN/MAX over INT and BIGINT have typed
//! implementations (a primitive per slot, read straight from the argument arrays); every other
//! call keeps one [`Acc`] per slot ([`Generic`]), fed values as `ScalarValue`s. Both give the
//! same values and checkpoint parts (`accumulator::Parts`), so a checkpoint does not depend on
//! which was used.

use crate::error::{Error, Result};
use crate::exec::accumulator::{numeric_overflow, Acc, Parts};
use crate::plan::aggregate::{AggCall, AggKind};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    ArrowNativeTypeOp, ArrowPrimitiveType, DataType, Float64Type, Int32Type, Int64Type,
};
use datafusion::common::ScalarValue;
use std::cmp::Ordering;

/// One aggregate call's state for every slot. Slots are `u32`; the state grows to reach the
/// largest slot it is given.
pub(super) trait GroupsAcc: Send + Sync {
    /// Adds row `rows[i]` of `args` (the call's argument columns) to slot `slots[i]`, in order.
    /// Row `r` arrived as the `seq + r`th record (arrival order, for EARLIEST/LATEST_BY_OFFSET).
    fn update(&mut self, args: &[ArrayRef], rows: &[u32], slots: &[u32], seq: u64) -> Result<()>;

    /// Retracts a record's argument values from a slot (a table row that changed or went).
    fn undo(&mut self, slot: u32, args: &[ScalarValue]) -> Result<()>;

    /// Folds slot `from` into slot `into` (a session merged into a later one); `from` is
    /// reset afterwards and must not be read before it is reused.
    fn merge(&mut self, into: u32, from: u32) -> Result<()>;

    /// The slot's current value, of the call's result type.
    fn value(&self, slot: u32) -> Result<ScalarValue>;

    /// Makes `slot` a fresh accumulator (as `Acc::new` makes one), growing the state to it.
    fn reset(&mut self, slot: u32) -> Result<()>;

    /// The slot's state taken apart, as `Acc::to_parts` does.
    fn parts(&self, slot: u32) -> Result<Parts>;

    /// Sets the slot's state from [`parts`](Self::parts).
    fn set_parts(&mut self, slot: u32, parts: Parts) -> Result<()>;
}

/// The accumulator for a call: typed where one exists, [`Generic`] otherwise.
fn groups_acc(call: &AggCall) -> Result<Box<dyn GroupsAcc>> {
    let arg = call.arg_types.first().map(|t| t.to_arrow());
    let result = call.result.to_arrow();
    let same = arg.as_ref() == Some(&result);
    Ok(match (call.kind, &result) {
        (AggKind::CountRows | AggKind::Count, _) => Box::new(Count {
            rows: call.kind == AggKind::CountRows,
            n: Vec::new(),
        }),
        (AggKind::Sum, DataType::Int64) if same => Box::new(Sum::<Int64Type>::new()),
        (AggKind::Sum, DataType::Int32) if same => Box::new(Sum::<Int32Type>::new()),
        (AggKind::Sum, DataType::Float64) if same => Box::new(Sum::<Float64Type>::new()),
        (AggKind::Min | AggKind::Max, DataType::Int64) if same => {
            Box::new(Extreme::<Int64Type>::new(call.kind))
        }
        (AggKind::Min | AggKind::Max, DataType::Int32) if same => {
            Box::new(Extreme::<Int32Type>::new(call.kind))
        }
        _ => Box::new(Generic {
            call: call.clone(),
            fresh: Acc::new(call)?,
            accs: Vec::new(),
            values: Vec::new(),
        }),
    })
}

fn grow<T: Clone>(v: &mut Vec<T>, slot: u32, fresh: T) {
    let need = slot as usize + 1;
    if v.len() < need {
        v.resize(need, fresh);
    }
}

fn arg<T: ArrowPrimitiveType>(
    args: &[ArrayRef],
) -> Result<&datafusion::arrow::array::PrimitiveArray<T>> {
    args.first()
        .and_then(|a| a.as_primitive_opt::<T>())
        .ok_or_else(|| Error::generic("internal: an aggregate's argument has another type"))
}

fn missing() -> Error {
    Error::generic("internal: an aggregate slot was read before it was set")
}

/// A slot's state (set by `reset` before any use).
fn at<T>(v: &[T], slot: u32) -> Result<&T> {
    v.get(slot as usize).ok_or_else(missing)
}

/// A slot's state, to change.
fn at_mut<T>(v: &mut [T], slot: u32) -> Result<&mut T> {
    v.get_mut(slot as usize).ok_or_else(missing)
}

/// COUNT(*) (`rows`) and COUNT(x) (non-NULL values).
struct Count {
    rows: bool,
    n: Vec<i64>,
}

impl Count {
    fn counts(&self, args: &[ScalarValue]) -> bool {
        self.rows || args.first().is_some_and(|v| !v.is_null())
    }
}

impl GroupsAcc for Count {
    fn update(&mut self, args: &[ArrayRef], rows: &[u32], slots: &[u32], _: u64) -> Result<()> {
        let nulls = if self.rows {
            None
        } else {
            args.first().and_then(|a| a.logical_nulls())
        };
        for (&r, &s) in rows.iter().zip(slots) {
            if nulls.as_ref().is_none_or(|n| n.is_valid(r as usize)) {
                *at_mut(&mut self.n, s)? += 1;
            }
        }
        Ok(())
    }

    fn undo(&mut self, slot: u32, args: &[ScalarValue]) -> Result<()> {
        if self.counts(args) {
            *at_mut(&mut self.n, slot)? -= 1;
        }
        Ok(())
    }

    fn merge(&mut self, into: u32, from: u32) -> Result<()> {
        let add = *at(&self.n, from)?;
        *at_mut(&mut self.n, into)? += add;
        Ok(())
    }

    fn value(&self, slot: u32) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(*at(&self.n, slot)?)))
    }

    fn reset(&mut self, slot: u32) -> Result<()> {
        grow(&mut self.n, slot, 0);
        self.n[slot as usize] = 0;
        Ok(())
    }

    fn parts(&self, slot: u32) -> Result<Parts> {
        Ok(Parts {
            ints: vec![*at(&self.n, slot)?],
            ..Parts::default()
        })
    }

    fn set_parts(&mut self, slot: u32, parts: Parts) -> Result<()> {
        self.reset(slot)?;
        self.n[slot as usize] = *parts.ints.first().ok_or_else(malformed)?;
        Ok(())
    }
}

fn malformed() -> Error {
    Error::generic("a checkpoint of an aggregate is malformed")
}

/// The native value of a scalar of type `T` (from a checkpoint).
fn native<T: ArrowPrimitiveType>(v: &ScalarValue) -> Result<Option<T::Native>> {
    let a = v.to_array_of_size(1)?;
    let a = a.as_primitive_opt::<T>().ok_or_else(malformed)?;
    Ok(a.is_valid(0).then(|| a.value(0)))
}

/// SUM whose argument has the result's type: checked integer addition (an overflow is the
/// error `Acc::Sum` gives), plain for doubles.
struct Sum<T: ArrowPrimitiveType> {
    sums: Vec<T::Native>,
}

impl<T: ArrowPrimitiveType> Sum<T> {
    fn new() -> Self {
        Sum { sums: Vec::new() }
    }

    fn add(&mut self, slot: u32, v: T::Native, sign: bool) -> Result<()> {
        let s = at_mut(&mut self.sums, slot)?;
        let next = if sign {
            s.add_checked(v)
        } else {
            s.sub_checked(v)
        };
        *s = next.map_err(|e| numeric_overflow(e.into()))?;
        Ok(())
    }

    fn scalar(v: T::Native) -> Result<ScalarValue> {
        Ok(ScalarValue::new_primitive::<T>(Some(v), &T::DATA_TYPE)?)
    }
}

impl<T: ArrowPrimitiveType> GroupsAcc for Sum<T> {
    fn update(&mut self, args: &[ArrayRef], rows: &[u32], slots: &[u32], _: u64) -> Result<()> {
        let a = arg::<T>(args)?;
        for (&r, &s) in rows.iter().zip(slots) {
            if a.is_valid(r as usize) {
                self.add(s, a.value(r as usize), true)?;
            }
        }
        Ok(())
    }

    fn undo(&mut self, slot: u32, args: &[ScalarValue]) -> Result<()> {
        match args.first().map(native::<T>).transpose()?.flatten() {
            Some(v) => self.add(slot, v, false),
            None => Ok(()),
        }
    }

    fn merge(&mut self, into: u32, from: u32) -> Result<()> {
        let add = *at(&self.sums, from)?;
        self.add(into, add, true)
    }

    fn value(&self, slot: u32) -> Result<ScalarValue> {
        Self::scalar(*at(&self.sums, slot)?)
    }

    fn reset(&mut self, slot: u32) -> Result<()> {
        grow(&mut self.sums, slot, T::Native::default());
        self.sums[slot as usize] = T::Native::default();
        Ok(())
    }

    fn parts(&self, slot: u32) -> Result<Parts> {
        Ok(Parts {
            scalars: vec![self.value(slot)?],
            ..Parts::default()
        })
    }

    fn set_parts(&mut self, slot: u32, parts: Parts) -> Result<()> {
        self.reset(slot)?;
        let v = parts.scalars.first().ok_or_else(malformed)?;
        self.sums[slot as usize] = native::<T>(v)?.ok_or_else(malformed)?;
        Ok(())
    }
}

/// MIN (`want` Less) or MAX (Greater) over integers.
struct Extreme<T: ArrowPrimitiveType> {
    want: Ordering,
    values: Vec<Option<T::Native>>,
}

impl<T: ArrowPrimitiveType> Extreme<T>
where
    T::Native: Ord,
{
    fn new(kind: AggKind) -> Self {
        let want = if kind == AggKind::Min {
            Ordering::Less
        } else {
            Ordering::Greater
        };
        Extreme {
            want,
            values: Vec::new(),
        }
    }

    fn offer(&mut self, slot: u32, v: T::Native) -> Result<()> {
        let m = at_mut(&mut self.values, slot)?;
        if m.is_none_or(|m| v.cmp(&m) == self.want) {
            *m = Some(v);
        }
        Ok(())
    }
}

impl<T: ArrowPrimitiveType> GroupsAcc for Extreme<T>
where
    T::Native: Ord,
{
    fn update(&mut self, args: &[ArrayRef], rows: &[u32], slots: &[u32], _: u64) -> Result<()> {
        let a = arg::<T>(args)?;
        for (&r, &s) in rows.iter().zip(slots) {
            if a.is_valid(r as usize) {
                self.offer(s, a.value(r as usize))?;
            }
        }
        Ok(())
    }

    fn undo(&mut self, _: u32, _: &[ScalarValue]) -> Result<()> {
        Err(Error::generic("internal: MIN and MAX cannot be undone"))
    }

    fn merge(&mut self, into: u32, from: u32) -> Result<()> {
        match *at(&self.values, from)? {
            Some(v) => self.offer(into, v),
            None => Ok(()),
        }
    }

    fn value(&self, slot: u32) -> Result<ScalarValue> {
        let v = *at(&self.values, slot)?;
        Ok(ScalarValue::new_primitive::<T>(v, &T::DATA_TYPE)?)
    }

    fn reset(&mut self, slot: u32) -> Result<()> {
        grow(&mut self.values, slot, None);
        self.values[slot as usize] = None;
        Ok(())
    }

    fn parts(&self, slot: u32) -> Result<Parts> {
        let v = *at(&self.values, slot)?;
        let scalars = match v {
            Some(_) => vec![self.value(slot)?],
            None => Vec::new(),
        };
        Ok(Parts {
            scalars,
            ..Parts::default()
        })
    }

    fn set_parts(&mut self, slot: u32, parts: Parts) -> Result<()> {
        self.reset(slot)?;
        self.values[slot as usize] = match parts.scalars.first() {
            Some(v) => native::<T>(v)?,
            None => None,
        };
        Ok(())
    }
}

/// Any call: an [`Acc`] per slot, fed each record's values as scalars.
struct Generic {
    call: AggCall,
    fresh: Acc,
    accs: Vec<Acc>,
    /// One record's argument values, reused from record to record.
    values: Vec<ScalarValue>,
}

impl GroupsAcc for Generic {
    fn update(&mut self, args: &[ArrayRef], rows: &[u32], slots: &[u32], seq: u64) -> Result<()> {
        for (&r, &s) in rows.iter().zip(slots) {
            self.values.clear();
            for a in args {
                self.values
                    .push(ScalarValue::try_from_array(a, r as usize)?);
            }
            let acc = at_mut(&mut self.accs, s)?;
            acc.update(&self.call, &self.values, seq + r as u64)?;
        }
        Ok(())
    }

    fn undo(&mut self, slot: u32, args: &[ScalarValue]) -> Result<()> {
        let acc = at_mut(&mut self.accs, slot)?;
        acc.undo(&self.call, args)
    }

    fn merge(&mut self, into: u32, from: u32) -> Result<()> {
        let from = at_mut(&mut self.accs, from)?;
        let other = std::mem::replace(from, self.fresh.clone());
        let acc = at_mut(&mut self.accs, into)?;
        acc.merge(&self.call, other)
    }

    fn value(&self, slot: u32) -> Result<ScalarValue> {
        at(&self.accs, slot)?.value(&self.call)
    }

    fn reset(&mut self, slot: u32) -> Result<()> {
        grow(&mut self.accs, slot, self.fresh.clone());
        self.accs[slot as usize] = self.fresh.clone();
        Ok(())
    }

    fn parts(&self, slot: u32) -> Result<Parts> {
        Ok(at(&self.accs, slot)?.to_parts())
    }

    fn set_parts(&mut self, slot: u32, parts: Parts) -> Result<()> {
        self.reset(slot)?;
        self.accs[slot as usize] = Acc::from_parts(&self.call, parts)?;
        Ok(())
    }
}

/// The accumulators of a query's aggregate calls, the slots they share and the updates not
/// applied yet.
pub(super) struct Slots {
    accs: Vec<Box<dyn GroupsAcc>>,
    /// Slots given back, reused before new ones.
    free: Vec<u32>,
    next: u32,
    /// The current batch's argument columns, per call.
    args: Vec<Vec<ArrayRef>>,
    /// Arrival number of the batch's row 0.
    seq: u64,
    /// Queued updates: row `rows[i]` into slot `slots[i]`.
    rows: Vec<u32>,
    slots: Vec<u32>,
}

impl Slots {
    pub fn new(calls: &[AggCall]) -> Result<Self> {
        Ok(Slots {
            accs: calls.iter().map(groups_acc).collect::<Result<_>>()?,
            free: Vec::new(),
            next: 0,
            args: Vec::new(),
            seq: 0,
            rows: Vec::new(),
            slots: Vec::new(),
        })
    }

    /// How many aggregate calls there are.
    pub fn calls(&self) -> usize {
        self.accs.len()
    }

    /// A fresh slot for a new group.
    pub fn alloc(&mut self) -> Result<u32> {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                let s = self.next;
                self.next = s
                    .checked_add(1)
                    .ok_or_else(|| Error::generic("too many groups for one query"))?;
                s
            }
        };
        for a in &mut self.accs {
            a.reset(slot)?;
        }
        Ok(slot)
    }

    /// Gives a slot back (its group is gone).
    pub fn release(&mut self, slot: u32) -> Result<()> {
        self.apply()?;
        self.free.push(slot);
        Ok(())
    }

    /// Starts a batch: its argument columns per call, and the arrival number of its row 0.
    pub fn begin(&mut self, args: Vec<Vec<ArrayRef>>, seq: u64) -> Result<()> {
        self.apply()?;
        self.args = args;
        self.seq = seq;
        Ok(())
    }

    /// Queues adding the batch's row `row` to `slot`.
    pub fn add(&mut self, row: usize, slot: u32) {
        self.rows.push(row as u32);
        self.slots.push(slot);
    }

    /// Applies the queued updates, each accumulator over all of them in one call.
    pub fn apply(&mut self) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        for (acc, args) in self.accs.iter_mut().zip(&self.args) {
            acc.update(args, &self.rows, &self.slots, self.seq)?;
        }
        self.rows.clear();
        self.slots.clear();
        Ok(())
    }

    /// Ends a batch: its updates applied, its columns let go.
    pub fn end(&mut self) -> Result<()> {
        self.apply()?;
        self.args.clear();
        Ok(())
    }

    /// Call `j`'s value for a slot, after the queued updates.
    pub fn value(&mut self, j: usize, slot: u32) -> Result<ScalarValue> {
        self.apply()?;
        self.accs[j].value(slot)
    }

    /// Retracts a record (its argument values per call) from a slot.
    pub fn undo(&mut self, slot: u32, args: &[Vec<ScalarValue>]) -> Result<()> {
        self.apply()?;
        for (acc, a) in self.accs.iter_mut().zip(args) {
            acc.undo(slot, a)?;
        }
        Ok(())
    }

    /// Folds slot `from` into `into` and gives `from` back.
    pub fn merge(&mut self, into: u32, from: u32) -> Result<()> {
        self.apply()?;
        for acc in &mut self.accs {
            acc.merge(into, from)?;
        }
        self.release(from)
    }

    /// Call `j`'s state in a slot, taken apart (for a checkpoint, taken between batches).
    pub fn parts(&self, j: usize, slot: u32) -> Result<Parts> {
        self.accs[j].parts(slot)
    }

    /// Sets call `j`'s state in a slot from a checkpoint.
    pub fn set_parts(&mut self, j: usize, slot: u32, parts: Parts) -> Result<()> {
        self.accs[j].set_parts(slot, parts)
    }

    /// Forgets every slot (before a checkpoint is restored).
    pub fn clear(&mut self) {
        self.free.clear();
        self.next = 0;
        self.rows.clear();
        self.slots.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::types::SqlType;
    use datafusion::arrow::array::{Float64Array, Int64Array};
    use std::sync::Arc;

    fn call(kind: AggKind, arg: Option<SqlType>, result: SqlType) -> AggCall {
        AggCall {
            kind,
            args: Vec::new(),
            arg_types: arg.into_iter().collect(),
            result,
            n: 0,
            ignore_nulls: true,
            limit: 1000,
            user: None,
        }
    }

    /// Applies `values` to slots `slots` through `Slots` (the typed accumulator) and one
    /// `Acc` per slot, then checks values and parts agree slot by slot.
    fn agrees(c: AggCall, values: ArrayRef, slots: &[u32]) {
        let mut s = Slots::new(std::slice::from_ref(&c)).unwrap();
        let n = slots.iter().max().map_or(0, |m| m + 1);
        for _ in 0..n {
            s.alloc().unwrap();
        }
        let args = if c.kind == AggKind::CountRows {
            vec![]
        } else {
            vec![values.clone()]
        };
        s.begin(vec![args.clone()], 1).unwrap();
        for (r, &slot) in slots.iter().enumerate() {
            s.add(r, slot);
        }
        s.end().unwrap();
        let mut accs: Vec<Acc> = (0..n).map(|_| Acc::new(&c).unwrap()).collect();
        for (r, &slot) in slots.iter().enumerate() {
            let v: Vec<ScalarValue> = args
                .iter()
                .map(|a| ScalarValue::try_from_array(a, r).unwrap())
                .collect();
            accs[slot as usize].update(&c, &v, 1 + r as u64).unwrap();
        }
        for (slot, acc) in accs.iter().enumerate() {
            assert_eq!(s.value(0, slot as u32).unwrap(), acc.value(&c).unwrap());
            assert_eq!(s.parts(0, slot as u32).unwrap(), acc.to_parts());
        }
    }

    #[test]
    fn typed_accumulators_agree_with_the_generic_one() {
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(5),
            None,
            Some(-3),
            Some(9),
            None,
            Some(7),
        ]));
        let slots = [0, 1, 0, 2, 2, 1];
        agrees(
            call(AggKind::CountRows, None, SqlType::Bigint),
            ints.clone(),
            &slots,
        );
        let count = call(AggKind::Count, Some(SqlType::Bigint), SqlType::Bigint);
        agrees(count, ints.clone(), &slots);
        let sum = call(AggKind::Sum, Some(SqlType::Bigint), SqlType::Bigint);
        agrees(sum, ints.clone(), &slots);
        for kind in [AggKind::Min, AggKind::Max] {
            agrees(
                call(kind, Some(SqlType::Bigint), SqlType::Bigint),
                ints.clone(),
                &slots,
            );
        }
        let doubles: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(0.5),
            None,
            Some(-0.0),
            Some(1e300),
            Some(2.25),
            None,
        ]));
        let sum = call(AggKind::Sum, Some(SqlType::Double), SqlType::Double);
        agrees(sum, doubles, &slots);
    }

    #[test]
    fn a_sum_that_overflows_is_an_error_and_merges_and_undo_follow_the_generic_rules() {
        let c = call(AggKind::Sum, Some(SqlType::Bigint), SqlType::Bigint);
        let mut s = Slots::new(std::slice::from_ref(&c)).unwrap();
        let (a, b) = (s.alloc().unwrap(), s.alloc().unwrap());
        let big: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX, 1, 4]));
        s.begin(vec![vec![big]], 1).unwrap();
        s.add(2, a);
        s.add(1, b);
        s.merge(b, a).unwrap();
        assert_eq!(s.value(0, b).unwrap(), ScalarValue::Int64(Some(5)));
        s.undo(b, &[vec![ScalarValue::Int64(Some(4))]]).unwrap();
        assert_eq!(s.value(0, b).unwrap(), ScalarValue::Int64(Some(1)));
        // `a` went back on merge: the next slot handed out is it, fresh.
        assert_eq!(s.alloc().unwrap(), a);
        assert_eq!(s.value(0, a).unwrap(), ScalarValue::Int64(Some(0)));
        s.add(0, b);
        let err = s.end().unwrap_err().to_string();
        assert!(err.contains("overflow"), "{err}");
    }

    #[test]
    fn parts_round_trip_through_set_parts() {
        for (kind, v) in [(AggKind::Max, Some(4)), (AggKind::Min, None)] {
            let c = call(kind, Some(SqlType::Int), SqlType::Int);
            let mut s = Slots::new(std::slice::from_ref(&c)).unwrap();
            let slot = s.alloc().unwrap();
            let scalars = v.map(|v| ScalarValue::Int32(Some(v))).into_iter().collect();
            let parts = Parts {
                scalars,
                ..Parts::default()
            };
            s.set_parts(
                0,
                slot,
                Parts {
                    ..parts_clone(&parts)
                },
            )
            .unwrap();
            assert_eq!(s.parts(0, slot).unwrap(), parts);
        }
    }

    fn parts_clone(p: &Parts) -> Parts {
        Parts {
            scalars: p.scalars.clone(),
            ints: p.ints.clone(),
            floats: p.floats.clone(),
        }
    }
}
