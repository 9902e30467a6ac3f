//! Pull queries: which keys a WHERE clause pins down, and ORDER BY over a query's output.
//!
//! A pull query always applies its whole WHERE clause; the keys found here only narrow what is
//! read. So they must be sound: every row the clause accepts has one of them. They are taken
//! from top-level conjuncts `key = literal` and `key IN (literals)` whose literals have the key's
//! own type (or an integer type that converts back and forth without loss).

use super::expr::{ExprCompiler, PhysExpr};
use crate::catalog::{Source, PSEUDO_COLUMNS};
use crate::error::{Error, Result};
use crate::sql::ast::{Expr, OrderByExpr};
use datafusion::arrow::array::{new_empty_array, Array, ArrayRef, RecordBatch};
use datafusion::arrow::compute::{cast, concat, lexsort_to_indices, take_record_batch};
use datafusion::arrow::compute::{SortColumn, SortOptions};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::logical_expr::ColumnarValue;
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// Above this many key combinations, a multi-column key lookup becomes a scan.
const MAX_LOOKUPS: usize = 10_000;

/// The keys a WHERE clause (as written; `qualifiers` name the source) restricts `source` to:
/// one array per key column, one row per key, or `None` when it does not restrict every key
/// column.
pub fn lookup_keys(
    compiler: &ExprCompiler,
    selection: Option<&Expr>,
    qualifiers: &[String],
    source: &Source,
) -> Option<Vec<ArrayRef>> {
    let schema = source.row_schema();
    let keys: Vec<_> = source.keys().collect();
    let mut found: Vec<Option<ArrayRef>> = vec![None; keys.len()];
    let mut conjuncts = Vec::new();
    split_and(selection?, &mut conjuncts);
    for c in conjuncts {
        let (column, literals): (&Expr, Vec<&Expr>) = match c {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } => match (is_column(left), is_column(right)) {
                (true, false) => (left, vec![right]),
                (false, true) => (right, vec![left]),
                _ => continue,
            },
            Expr::InList {
                expr,
                list,
                negated: false,
            } => (expr, list.iter().collect()),
            _ => continue,
        };
        let Expr::Identifier(id) = ExprCompiler::normalize(column, qualifiers) else {
            continue;
        };
        let Some(k) = keys.iter().position(|c| c.name == id.value) else {
            continue;
        };
        if found[k].is_some() {
            continue;
        }
        let ty = schema.field(PSEUDO_COLUMNS + k).data_type();
        let values: Option<Vec<ArrayRef>> = literals
            .into_iter()
            .map(|l| {
                literal(
                    compiler,
                    &ExprCompiler::normalize(l, qualifiers),
                    &schema,
                    ty,
                )
            })
            .collect();
        if let Some(values) = values {
            let refs: Vec<&dyn Array> = values.iter().map(|a| a.as_ref()).collect();
            found[k] = if refs.is_empty() {
                Some(new_empty_array(ty))
            } else {
                concat(&refs).ok()
            };
        }
    }
    let found: Vec<ArrayRef> = found.into_iter().collect::<Option<_>>()?;
    cartesian(&found)
}

fn split_and<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            split_and(left, out);
            split_and(right, out);
        }
        Expr::Nested(inner) => split_and(inner, out),
        other => out.push(other),
    }
}

fn is_column(e: &Expr) -> bool {
    matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
}

/// A constant expression's value as a one-row array of the key's type, if it converts exactly.
fn literal(compiler: &ExprCompiler, e: &Expr, schema: &Schema, ty: &DataType) -> Option<ArrayRef> {
    let pe = compiler.compile(e, schema).ok()?;
    if !datafusion::physical_expr::utils::collect_columns(&pe).is_empty() {
        return None;
    }
    let empty = RecordBatch::new_empty(std::sync::Arc::new(schema.clone()));
    let value = match pe.evaluate(&empty).ok()? {
        ColumnarValue::Scalar(s) => s.to_array_of_size(1).ok()?,
        ColumnarValue::Array(a) if a.len() == 1 => a,
        ColumnarValue::Array(_) => return None,
    };
    if value.is_null(0) {
        return None;
    }
    if value.data_type() == ty {
        return Some(value);
    }
    if !(value.data_type().is_integer() && ty.is_integer()) {
        return None;
    }
    let converted = cast(&value, ty).ok()?;
    let back = cast(&converted, value.data_type()).ok()?;
    (!converted.is_null(0) && back.as_ref() == value.as_ref()).then_some(converted)
}

/// Every combination of the key columns' candidate values.
fn cartesian(columns: &[ArrayRef]) -> Option<Vec<ArrayRef>> {
    let total = columns
        .iter()
        .try_fold(1usize, |n, c| n.checked_mul(c.len()))?;
    if total > MAX_LOOKUPS {
        return None;
    }
    let mut out = Vec::with_capacity(columns.len());
    let mut repeat = total;
    for c in columns {
        // Each value repeats `repeat / len` times in a row, the whole run `total / repeat` times.
        let len = c.len().max(1);
        repeat /= len;
        let indices: Vec<u32> = (0..total)
            .map(|i| ((i / repeat.max(1)) % len) as u32)
            .collect();
        let idx = datafusion::arrow::array::UInt32Array::from(indices);
        out.push(datafusion::arrow::compute::take(c, &idx, None).ok()?);
    }
    Some(out)
}

/// ORDER BY compiled over a schema: a source's rows (before projection) or a query's result.
pub struct Ordering {
    exprs: Vec<(PhysExpr, SortOptions)>,
}

impl Ordering {
    pub fn compile(
        compiler: &ExprCompiler,
        order_by: &[OrderByExpr],
        schema: &Schema,
        qualifiers: &[String],
    ) -> Result<Ordering> {
        let mut exprs = Vec::new();
        for o in order_by {
            let e = ExprCompiler::normalize(&o.expr, qualifiers);
            let pe = compiler.compile(&e, schema).map_err(|err| {
                Error::statement(format!(
                    "ORDER BY can use the source's columns or the query's result columns: {}",
                    err.message
                ))
            })?;
            let descending = o.options.asc == Some(false);
            exprs.push((
                pe,
                SortOptions {
                    descending,
                    // SQL's default: NULLs are larger than any value.
                    nulls_first: o.options.nulls_first.unwrap_or(descending),
                },
            ));
        }
        Ok(Ordering { exprs })
    }

    /// The batch's rows in order.
    pub fn sort(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if self.exprs.is_empty() || batch.num_rows() < 2 {
            return Ok(batch.clone());
        }
        let mut columns = Vec::with_capacity(self.exprs.len());
        for (e, options) in &self.exprs {
            columns.push(SortColumn {
                values: e.evaluate(batch)?.into_array(batch.num_rows())?,
                options: Some(*options),
            });
        }
        let indices = lexsort_to_indices(&columns, None)?;
        Ok(take_record_batch(batch, &indices)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, EngineConfig, Session};
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int32Type;

    fn keys_of(create: &str, name: &str, clause: &str) -> Option<Vec<ArrayRef>> {
        let engine = Engine::in_memory(EngineConfig {
            auto_create_topics: true,
            ..Default::default()
        })
        .unwrap();
        engine.execute(create, &mut Session::default()).unwrap();
        let source = engine.lock().catalog.get(name).unwrap().clone();
        let parsed = crate::sql::parse(&format!("SELECT * FROM {name} WHERE {clause};")).unwrap();
        let crate::sql::ast::Statement::Select(q) = &parsed[0].statement else {
            panic!("not a query")
        };
        lookup_keys(
            &engine.compiler,
            q.selection.as_ref(),
            &[name.into()],
            &source,
        )
    }

    const T: &str = "CREATE TABLE t (id INT PRIMARY KEY, v STRING) WITH (kafka_topic='t', value_format='JSON', partitions=1);";

    fn ints(keys: Option<Vec<ArrayRef>>) -> Option<Vec<i32>> {
        let keys = keys?;
        Some(keys[0].as_primitive::<Int32Type>().values().to_vec())
    }

    #[test]
    fn equalities_and_in_lists_on_the_key_are_lookups() {
        assert_eq!(ints(keys_of(T, "T", "id = 1")), Some(vec![1]));
        assert_eq!(ints(keys_of(T, "T", "2 = T.id AND v = 'x'")), Some(vec![2]));
        assert_eq!(
            ints(keys_of(T, "T", "(id IN (3, 4)) AND v > 'a'")),
            Some(vec![3, 4])
        );
    }

    #[test]
    fn anything_else_is_a_scan() {
        for clause in [
            "id > 1",
            "id = 1 OR id = 2",
            "id NOT IN (1)",
            "v = 'x'",
            "id = 'x'",
            // Not an INT: looking up its truncation would be wrong.
            "id = 3000000000",
            "id = NULL",
            "id = id + 0",
        ] {
            assert!(keys_of(T, "T", clause).is_none(), "{clause}");
        }
    }

    #[test]
    fn keys_of_several_columns_are_combined() {
        let create = "CREATE TABLE m (a INT PRIMARY KEY, b STRING PRIMARY KEY, v INT) WITH (kafka_topic='m', format='JSON', partitions=1);";
        let keys = keys_of(create, "M", "b IN ('x', 'y') AND a IN (1, 2)").unwrap();
        let a = keys[0].as_primitive::<Int32Type>().values().to_vec();
        let b: Vec<&str> = keys[1].as_string::<i32>().iter().flatten().collect();
        assert_eq!(a, vec![1, 1, 2, 2]);
        assert_eq!(b, vec!["x", "y", "x", "y"]);
        assert!(keys_of(create, "M", "a = 1").is_none());
    }
}
