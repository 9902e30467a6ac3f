//! Checkpoints of the aggregation operator: its groups (and, over a table, each key's
//! contribution) as Arrow IPC streams, one row per group with each accumulator taken apart into
//! values, integers and doubles (`accumulator::Parts`).

use super::{Aggregator, Contribution, Group};
use crate::error::{Error, Result};
use crate::exec::accumulator::{Acc, Parts};
use crate::exec::windows::Windows;
use datafusion::arrow::array::{
    new_empty_array, Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Int64Array, ListArray,
    RecordBatch, UInt8Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::common::ScalarValue;
use std::sync::Arc;

const GROUP: u8 = 0;
const SESSION: u8 = 1;
const TIME_WINDOW: u8 = 2;

fn bad(what: &str) -> Error {
    Error::generic(format!("malformed aggregation checkpoint: {what}"))
}

/// A list column from per-row lists of scalars (their own type, or `empty` when all are empty).
fn list_column(rows: &[Vec<ScalarValue>], empty: &DataType) -> Result<ArrayRef> {
    let flat: Vec<ScalarValue> = rows.iter().flatten().cloned().collect();
    let values = if flat.is_empty() {
        new_empty_array(empty)
    } else {
        ScalarValue::iter_to_array(flat)?
    };
    let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
    let offsets = OffsetBuffer::from_lengths(rows.iter().map(Vec::len));
    Ok(Arc::new(ListArray::try_new(field, offsets, values, None)?))
}

fn list_values(col: &ArrayRef, row: usize) -> Result<Vec<ScalarValue>> {
    let list = col.as_list_opt::<i32>().ok_or_else(|| bad("list column"))?;
    let values = list.value(row);
    (0..values.len())
        .map(|i| Ok(ScalarValue::try_from_array(&values, i)?))
        .collect()
}

/// A checkpoint batch's columns, named and typed by their arrays.
#[derive(Default)]
struct Columns {
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

impl Columns {
    fn add(&mut self, name: impl Into<String>, array: ArrayRef) {
        self.fields
            .push(Field::new(name, array.data_type().clone(), true));
        self.arrays.push(array);
    }

    fn finish(self) -> Result<RecordBatch> {
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(self.fields)),
            self.arrays,
        )?)
    }
}

fn write_ipc(out: &mut Vec<u8>, batch: &RecordBatch) -> Result<()> {
    let mut buf = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut buf, &batch.schema())?;
        w.write(batch)?;
        w.finish()?;
    }
    out.extend_from_slice(&(buf.len() as u64).to_le_bytes());
    out.extend_from_slice(&buf);
    Ok(())
}

fn read_ipc(data: &mut &[u8]) -> Result<RecordBatch> {
    let len = data
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| bad("length"))? as usize;
    let body = data.get(8..8 + len).ok_or_else(|| bad("truncated"))?;
    *data = &data[8 + len..];
    let mut reader = StreamReader::try_new(body, None)?;
    reader
        .next()
        .ok_or_else(|| bad("no batch"))?
        .map_err(Error::from)
}

fn take_i64(data: &mut &[u8]) -> Result<i64> {
    let v = data
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(i64::from_le_bytes)
        .ok_or_else(|| bad("header"))?;
    *data = &data[8..];
    Ok(v)
}

impl Aggregator {
    /// The operator's whole state as bytes.
    pub fn checkpoint(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for v in [
            self.stream_time,
            self.late_records as i64,
            self.seq as i64,
            self.last_origin.0 as i64,
            self.last_origin.1,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let rows: Vec<(u8, &[u8], &Group)> = self
            .groups
            .iter()
            .map(|(k, g)| (GROUP, &k[..], g))
            .chain(
                self.time_windows
                    .values()
                    .flat_map(|w| w.iter().map(|(k, g)| (TIME_WINDOW, &k[..], g))),
            )
            .chain(
                self.sessions
                    .iter()
                    .flat_map(|(k, list)| list.iter().map(move |g| (SESSION, &k[..], g))),
            )
            .collect();
        write_ipc(&mut out, &self.groups_batch(&rows)?)?;
        if let Some(t) = &self.table {
            write_ipc(&mut out, &self.table_batch(t.rows.iter())?)?;
        }
        Ok(out)
    }

    fn groups_batch(&self, rows: &[(u8, &[u8], &Group)]) -> Result<RecordBatch> {
        let mut c = Columns::default();
        c.add(
            "kind",
            Arc::new(UInt8Array::from_iter_values(rows.iter().map(|r| r.0))),
        );
        c.add(
            "key",
            Arc::new(BinaryArray::from_iter_values(rows.iter().map(|r| r.1))),
        );
        for (name, value) in [
            ("start", (|g: &Group| g.start) as fn(&Group) -> i64),
            ("end", |g| g.end),
            ("rowtime", |g| g.rowtime),
        ] {
            c.add(
                name,
                Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| value(r.2)),
                )),
            );
        }
        c.add(
            "visible",
            Arc::new(BooleanArray::from_iter(
                rows.iter().map(|r| Some(r.2.visible)),
            )),
        );
        for (j, call) in self.plan.aggregates.iter().enumerate() {
            // Each accumulator's parts, split into the three list columns.
            let (mut scalars, mut ints, mut floats) = (Vec::new(), Vec::new(), Vec::new());
            for r in rows {
                let p = self.slots.parts(j, r.2.slot)?;
                scalars.push(p.scalars);
                ints.push(
                    p.ints
                        .into_iter()
                        .map(|i| ScalarValue::Int64(Some(i)))
                        .collect(),
                );
                floats.push(
                    p.floats
                        .into_iter()
                        .map(|f| ScalarValue::Float64(Some(f)))
                        .collect(),
                );
            }
            for (name, rows, empty) in [
                ("s", scalars, Acc::scalar_type(call)),
                ("i", ints, DataType::Int64),
                ("f", floats, DataType::Float64),
            ] {
                c.add(format!("{name}{j}"), list_column(&rows, &empty)?);
            }
        }
        c.finish()
    }

    fn table_batch<'a>(
        &self,
        rows: impl Iterator<Item = (&'a Box<[u8]>, &'a Contribution)>,
    ) -> Result<RecordBatch> {
        let rows: Vec<_> = rows.collect();
        let mut c = Columns::default();
        c.add(
            "source_key",
            Arc::new(BinaryArray::from_iter_values(rows.iter().map(|r| &r.0[..]))),
        );
        c.add(
            "group",
            Arc::new(BinaryArray::from_iter_values(
                rows.iter().map(|r| &r.1.group[..]),
            )),
        );
        for (j, call) in self.plan.aggregates.iter().enumerate() {
            for a in 0..call.args.len() {
                let values: Vec<Vec<ScalarValue>> = rows
                    .iter()
                    .map(|r| r.1.args[j].get(a).cloned().into_iter().collect())
                    .collect();
                let empty = call
                    .arg_types
                    .get(a)
                    .map_or(DataType::Null, |t| t.to_arrow());
                c.add(format!("a{j}_{a}"), list_column(&values, &empty)?);
            }
        }
        c.finish()
    }

    /// Replaces the operator's state with a [`checkpoint`](Self::checkpoint).
    pub fn restore(&mut self, mut data: &[u8]) -> Result<()> {
        let data = &mut data;
        self.stream_time = take_i64(data)?;
        self.late_records = take_i64(data)? as u64;
        self.seq = take_i64(data)? as u64;
        self.last_origin = (take_i64(data)? as i32, take_i64(data)?);
        let batch = read_ipc(data)?;
        let calls = self.plan.aggregates.clone();
        if batch.num_columns() != 6 + 3 * calls.len() {
            return Err(bad("columns"));
        }
        let kind = batch
            .column(0)
            .as_primitive_opt::<datafusion::arrow::datatypes::UInt8Type>();
        let key = batch.column(1).as_binary_opt::<i32>();
        let (Some(kind), Some(key)) = (kind, key) else {
            return Err(bad("key columns"));
        };
        let int = |c: usize| {
            batch
                .column(c)
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| bad("bounds"))
        };
        let (start, end, rowtime) = (int(2)?, int(3)?, int(4)?);
        let visible = batch
            .column(5)
            .as_boolean_opt()
            .ok_or_else(|| bad("visible"))?;
        self.groups.clear();
        self.time_windows.clear();
        self.sessions.clear();
        self.closing.clear();
        self.slots.clear();
        for r in 0..batch.num_rows() {
            let slot = self.slots.alloc()?;
            for j in 0..calls.len() {
                let col = |k: usize| batch.column(6 + 3 * j + k);
                let ints = list_values(col(1), r)?
                    .iter()
                    .map(|v| match v {
                        ScalarValue::Int64(Some(i)) => Ok(*i),
                        _ => Err(bad("integers")),
                    })
                    .collect::<Result<_>>()?;
                let floats = list_values(col(2), r)?
                    .iter()
                    .map(|v| match v {
                        ScalarValue::Float64(Some(f)) => Ok(*f),
                        _ => Err(bad("doubles")),
                    })
                    .collect::<Result<_>>()?;
                let parts = Parts {
                    scalars: list_values(col(0), r)?,
                    ints,
                    floats,
                };
                self.slots.set_parts(j, slot, parts)?;
            }
            let g = Group {
                slot,
                rowtime: rowtime.value(r),
                start: start.value(r),
                end: end.value(r),
                visible: visible.value(r),
            };
            let k: Box<[u8]> = key.value(r).into();
            match (kind.value(r), self.windows) {
                (SESSION, Some(w @ Windows::Session { .. })) => {
                    self.closing
                        .entry(w.close_time(g.end))
                        .or_default()
                        .push(k.clone());
                    let list = self.sessions.entry(k).or_default();
                    let at = list.partition_point(|s| s.start < g.start);
                    list.insert(at, g);
                }
                (TIME_WINDOW, Some(Windows::Time { .. })) => {
                    self.time_windows.entry(g.start).or_default().insert(k, g);
                }
                (GROUP, None) => {
                    self.groups.insert(k, g);
                }
                _ => return Err(bad("group kind")),
            }
        }
        if let Some(table) = &mut self.table {
            let batch = read_ipc(data)?;
            let source = batch
                .column(0)
                .as_binary_opt::<i32>()
                .ok_or_else(|| bad("source keys"))?;
            let group = batch
                .column(1)
                .as_binary_opt::<i32>()
                .ok_or_else(|| bad("groups"))?;
            table.rows.clear();
            for r in 0..batch.num_rows() {
                let mut args = Vec::with_capacity(calls.len());
                let mut c = 2;
                for call in &calls {
                    let mut values = Vec::with_capacity(call.args.len());
                    for _ in 0..call.args.len() {
                        let col = batch.columns().get(c).ok_or_else(|| bad("arguments"))?;
                        values.extend(list_values(col, r)?);
                        c += 1;
                    }
                    args.push(values);
                }
                table.rows.insert(
                    source.value(r).into(),
                    Contribution {
                        group: group.value(r).into(),
                        args,
                    },
                );
            }
        }
        Ok(())
    }
}
