//! Rendering results as ksqlDB's CLI does (tables and query boxes) or as JSON lines.

use crate::catalog::types::SqlType;
use crate::catalog::Column;
use crate::engine::Listing;
use crate::format::json::write_value;
use datafusion::arrow::array::{Array, RecordBatch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    Tabular,
    Json,
}

/// A listing as ksqlDB's tabular output: padded columns, dashed rules.
pub fn listing(l: &Listing) -> String {
    l.text()
}

/// A cell's text: strings bare, everything else as JSON.
pub fn cell(a: &dyn Array, row: usize, ty: &SqlType) -> String {
    let arr = datafusion::arrow::array::make_array(a.to_data());
    let mut v = Vec::new();
    if write_value(&arr, row, ty, &mut v).is_err() {
        return "<error>".into();
    }
    match ty {
        SqlType::String => serde_json::from_slice::<String>(&v).unwrap_or_default(),
        _ => String::from_utf8_lossy(&v).into_owned(),
    }
}

pub fn row_json(batch: &RecordBatch, row: usize, cols: &[Column]) -> serde_json::Value {
    let values: Vec<serde_json::Value> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut v = Vec::new();
            let _ = write_value(batch.column(i), row, &c.ty, &mut v);
            serde_json::from_slice(&v).unwrap_or(serde_json::Value::Null)
        })
        .collect();
    serde_json::Value::Array(values)
}

/// The fixed-width box of a push query.
pub struct QueryBox {
    width: usize,
    cols: Vec<Column>,
}

impl QueryBox {
    pub fn new(cols: &[Column], terminal_width: usize) -> Self {
        let width = (terminal_width / cols.len().max(1))
            .saturating_sub(2)
            .max(5);
        QueryBox {
            width,
            cols: cols.to_vec(),
        }
    }

    fn rule(&self) -> String {
        format!(
            "+{}+",
            vec!["-".repeat(self.width); self.cols.len()].join("+")
        )
    }

    fn line(&self, cells: &[String]) -> String {
        let w = self.width;
        let fit = |c: &String| -> String {
            if c.chars().count() > w {
                format!(
                    "{}...",
                    c.chars().take(w.saturating_sub(3)).collect::<String>()
                )
            } else {
                format!("{c:<w$}")
            }
        };
        format!("|{}|", cells.iter().map(fit).collect::<Vec<_>>().join("|"))
    }

    pub fn header(&self) -> String {
        let names: Vec<String> = self.cols.iter().map(|c| c.name.clone()).collect();
        format!("{}\n{}\n{}", self.rule(), self.line(&names), self.rule())
    }

    pub fn rows(&self, batch: &RecordBatch) -> Vec<String> {
        (0..batch.num_rows())
            .map(|r| {
                let cells: Vec<String> = self
                    .cols
                    .iter()
                    .enumerate()
                    .map(|(i, c)| cell(batch.column(i).as_ref(), r, &c.ty))
                    .collect();
                self.line(&cells)
            })
            .collect()
    }
}
