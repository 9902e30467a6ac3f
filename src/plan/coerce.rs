//! ksqlDB's implicit widening of integers to decimals, applied before DataFusion's own type
//! coercion. ksqlDB reads an INT as DECIMAL(10, 0) and a BIGINT as DECIMAL(19, 0) when it meets
//! a decimal; DataFusion would pick DECIMAL(20, 0) for a BIGINT, and every precision computed
//! from it would be one digit wider than ksqlDB's.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{BinaryExpr, Cast, Expr, ExprSchemable, Operator};

/// The decimal type ksqlDB gives an integer type, if `ty` is one.
fn integer_as_decimal(ty: &DataType) -> Option<DataType> {
    let digits = match ty {
        DataType::Int8 => 3,
        DataType::Int16 => 5,
        DataType::Int32 => 10,
        DataType::Int64 => 19,
        _ => return None,
    };
    Some(DataType::Decimal128(digits, 0))
}

fn is_decimal(ty: &DataType) -> bool {
    matches!(ty, DataType::Decimal128(..) | DataType::Decimal256(..))
}

/// `e` cast to its decimal type when it is an integer.
fn widened(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match integer_as_decimal(&e.get_type(schema)?) {
        Some(ty) => Ok(Transformed::yes(Expr::Cast(Cast::new(Box::new(e), ty)))),
        None => Ok(Transformed::no(e)),
    }
}

/// Rewrites arithmetic and comparisons that mix integers with decimals, and array constructors
/// holding both, so that the integers are decimals of ksqlDB's width.
pub fn widen_integers(expr: Expr, schema: &DFSchema) -> Result<Expr> {
    expr.transform_up(|e| match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if mixes(op) => {
            let (l, r) = (left.get_type(schema)?, right.get_type(schema)?);
            let rebuild = |left: Expr, right: Expr| {
                Expr::BinaryExpr(BinaryExpr::new(Box::new(left), op, Box::new(right)))
            };
            if is_decimal(&l) && integer_as_decimal(&r).is_some() {
                Ok(widened(*right, schema)?.update_data(|right| rebuild(*left, right)))
            } else if is_decimal(&r) && integer_as_decimal(&l).is_some() {
                Ok(widened(*left, schema)?.update_data(|left| rebuild(left, *right)))
            } else {
                Ok(Transformed::no(rebuild(*left, *right)))
            }
        }
        Expr::ScalarFunction(f) if f.name() == "make_array" => {
            let types = f
                .args
                .iter()
                .map(|a| a.get_type(schema))
                .collect::<Result<Vec<_>>>()?;
            if !types.iter().any(is_decimal) {
                return Ok(Transformed::no(Expr::ScalarFunction(f)));
            }
            let ScalarFunction { func, args } = f;
            let mut changed = false;
            let mut out = Vec::with_capacity(args.len());
            for a in args {
                let w = widened(a, schema)?;
                changed |= w.transformed;
                out.push(w.data);
            }
            let e = Expr::ScalarFunction(ScalarFunction::new_udf(func, out));
            Ok(if changed {
                Transformed::yes(e)
            } else {
                Transformed::no(e)
            })
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

fn mixes(op: Operator) -> bool {
    use Operator::*;
    matches!(
        op,
        Plus | Minus | Multiply | Divide | Modulo | Eq | NotEq | Lt | LtEq | Gt | GtEq
    )
}

#[cfg(test)]
mod tests {
    use crate::plan::expr::ExprCompiler;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn type_of(sql: &str) -> DataType {
        let schema = Schema::new(vec![
            Field::new("I", DataType::Int32, true),
            Field::new("B", DataType::Int64, true),
            Field::new("D", DataType::Decimal128(4, 2), true),
        ]);
        let e = ExprCompiler::normalize(&crate::sql::parse_expression(sql).unwrap(), &[]);
        let p = ExprCompiler::new().compile(&e, &schema).unwrap();
        ExprCompiler::data_type(&p, &schema).unwrap()
    }

    #[test]
    fn integers_meet_decimals_at_ksqldb_widths() {
        // DECIMAL(19, 0) + DECIMAL(4, 2) is DECIMAL(22, 2); DataFusion alone gives (23, 2).
        assert_eq!(type_of("B + D"), DataType::Decimal128(22, 2));
        assert_eq!(type_of("D - I"), DataType::Decimal128(13, 2));
        assert_eq!(
            type_of("ARRAY[NULL, 10, '2e1', I, B]"),
            DataType::new_list(DataType::Decimal128(19, 0), true)
        );
        // Without a decimal nothing changes.
        assert_eq!(type_of("B + I"), DataType::Int64);
        assert_eq!(type_of("B > D"), DataType::Boolean);
    }
}
