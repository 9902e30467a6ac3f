//! Expressions evaluated as ksqlDB evaluates them: an expression that fails (a bad CAST, an
//! overflow, a function's error) is NULL for the rows it fails on, and a failing filter is
//! false, each failure written to the processing log; the record itself goes on. A batch is
//! evaluated whole, and only a batch that fails is evaluated again row by row.

use super::processing_log::ProcessingLog;
use crate::error::Result;
use crate::plan::expr::PhysExpr;
use datafusion::arrow::array::{new_null_array, Array, ArrayRef, BooleanArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;

/// Where failures are reported.
pub struct Failures<'a> {
    plog: Option<&'a ProcessingLog>,
    query_id: &'a str,
}

impl<'a> Failures<'a> {
    pub fn new(plog: &'a ProcessingLog, query_id: &'a str) -> Self {
        Failures {
            plog: Some(plog),
            query_id,
        }
    }

    /// Failures reported before (input replayed to rebuild state): not logged again.
    pub fn silent() -> Self {
        Failures {
            plog: None,
            query_id: "",
        }
    }

    pub(crate) fn report(&self, e: &dyn std::fmt::Display) {
        if let Some(plog) = self.plog {
            plog.processing_error(self.query_id, &e.to_string());
        }
    }
}

/// `expr` over `batch`, cast to `target` when given.
fn whole(expr: &PhysExpr, target: Option<&DataType>, batch: &RecordBatch) -> Result<ArrayRef> {
    let a = expr.evaluate(batch)?.into_array(batch.num_rows())?;
    Ok(match target {
        Some(t) if a.data_type() != t => cast(&a, t)?,
        _ => a,
    })
}

/// `expr`'s values over `batch` (cast to `target` when given), NULL where it fails.
pub fn column(
    expr: &PhysExpr,
    target: Option<&DataType>,
    batch: &RecordBatch,
    failures: &Failures,
) -> Result<ArrayRef> {
    let first = match whole(expr, target, batch) {
        Ok(a) => return Ok(a),
        Err(e) => e,
    };
    let ty = match target {
        Some(t) => t.clone(),
        None => expr.data_type(&batch.schema())?,
    };
    if batch.num_rows() == 1 {
        failures.report(&first);
        return Ok(new_null_array(&ty, 1));
    }
    let parts = (0..batch.num_rows())
        .map(|i| match whole(expr, target, &batch.slice(i, 1)) {
            Ok(a) => a,
            Err(e) => {
                failures.report(&e);
                new_null_array(&ty, 1)
            }
        })
        .collect::<Vec<_>>();
    let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
    Ok(datafusion::arrow::compute::concat(&refs)?)
}

/// A filter's mask over `batch`: true where it holds; false where it is false, NULL, or fails.
pub fn mask(expr: &PhysExpr, batch: &RecordBatch, failures: &Failures) -> Result<BooleanArray> {
    let values = column(expr, None, batch, failures)?;
    let n = batch.num_rows();
    Ok(match values.as_any().downcast_ref::<BooleanArray>() {
        Some(b) if b.null_count() > 0 => datafusion::arrow::compute::prep_null_mask_filter(b),
        Some(b) => b.clone(),
        None => BooleanArray::from(vec![false; n]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::expr::ExprCompiler;
    use datafusion::arrow::array::{AsArray, StringArray};
    use datafusion::arrow::datatypes::{Field, Int32Type, Schema};
    use std::sync::Arc;

    #[test]
    fn failing_rows_are_null_and_logged_while_the_rest_go_on() {
        let schema = Schema::new(vec![Field::new("S", DataType::Utf8, true)]);
        let batch = RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![Arc::new(StringArray::from(vec![
                Some("1"),
                Some("x"),
                None,
                Some("4"),
            ]))],
        )
        .unwrap();
        let compile = |sql: &str| {
            let e = ExprCompiler::normalize(&crate::sql::parse_expression(sql).unwrap(), &[]);
            ExprCompiler::new().compile(&e, &schema).unwrap()
        };
        let plog = ProcessingLog::new(Arc::new(crate::log::EmbeddedLog::in_memory()));
        let failures = Failures::new(&plog, "Q");
        let ints = column(&compile("CAST(S AS INT)"), None, &batch, &failures).unwrap();
        let ints = ints.as_primitive::<Int32Type>();
        assert_eq!(
            ints.iter().collect::<Vec<_>>(),
            [Some(1), None, None, Some(4)]
        );
        assert_eq!(plog.error_count(), 1);
        let keep = mask(&compile("CAST(S AS INT) > 1"), &batch, &failures).unwrap();
        assert_eq!(
            keep.iter().collect::<Vec<_>>(),
            [Some(false), Some(false), Some(false), Some(true)]
        );
        assert_eq!(plog.error_count(), 2);
    }
}
