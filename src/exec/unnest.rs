//! Table functions' rows: each input row becomes as many rows as the longest list among its
//! table-function columns; those columns take one element per row (NULL past a shorter
//! list's end), the others repeat. A row whose lists are all empty or NULL gives no row.

use crate::error::Result;
use crate::plan::OutputColumn;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{Field, Schema};
use std::sync::Arc;

/// `batch` (the output columns, then what follows them) with the columns `exploded` unnested.
pub fn unnest(
    batch: &RecordBatch,
    exploded: &[usize],
    output: &[OutputColumn],
) -> Result<RecordBatch> {
    let lists: Vec<_> = exploded
        .iter()
        .map(|&c| batch.column(c).as_list::<i32>())
        .collect();
    let mut repeat: Vec<u32> = Vec::new();
    let mut picks: Vec<Vec<Option<u32>>> = vec![Vec::new(); lists.len()];
    for row in 0..batch.num_rows() {
        let lens: Vec<usize> = lists
            .iter()
            .map(|l| {
                if l.is_null(row) {
                    0
                } else {
                    l.value_length(row) as usize
                }
            })
            .collect();
        let n = lens.iter().copied().max().unwrap_or(0);
        for i in 0..n {
            repeat.push(row as u32);
            for (k, l) in lists.iter().enumerate() {
                let start = l.value_offsets()[row] as usize;
                picks[k].push((i < lens[k]).then_some((start + i) as u32));
            }
        }
    }
    let repeat = UInt32Array::from(repeat);
    let picks: Vec<UInt32Array> = picks.into_iter().map(UInt32Array::from).collect();
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (c, a) in batch.columns().iter().enumerate() {
        match exploded.iter().position(|&e| e == c) {
            Some(k) => {
                let target = output[c].column.ty.to_arrow();
                let values = take(lists[k].values(), &picks[k], None)?;
                let values = if values.data_type() == &target {
                    values
                } else {
                    cast(&values, &target)?
                };
                fields.push(Field::new(schema.field(c).name(), target, true));
                columns.push(values);
            }
            None => {
                fields.push(schema.field(c).clone());
                columns.push(take(a, &repeat, None)?);
            }
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
