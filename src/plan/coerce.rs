//! ksqlDB's implicit typing that DataFusion's own coercion lacks, applied before it: integers
//! widened to decimals, NULL literals standing for arrays, and the lists of ARRAY, MAP and
//! IN made one type (`user_lists`). ksqlDB reads an INT as
//! DECIMAL(10, 0) and a BIGINT as DECIMAL(19, 0) when it meets a decimal; DataFusion would pick
//! DECIMAL(20, 0) for a BIGINT, and every precision computed from it would be one digit wider
//! than ksqlDB's.

use crate::catalog::types::SqlType;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
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

fn is_text(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// Whether ksqlDB's arithmetic takes the type: numbers (and strings, which `+` joins).
/// Types ksqlDB lacks are left to DataFusion.
fn arithmetic(ty: &DataType) -> bool {
    !matches!(family(ty), Some(f) if f != Family::Number && f != Family::Text)
        && *ty != DataType::Null
}

fn is_wide(ty: &DataType) -> bool {
    matches!(ty, DataType::Decimal256(..))
}

/// `e` cast to its decimal type when it is an integer, and to 256 bits when `wide`.
fn widened(e: Expr, schema: &DFSchema, wide: bool) -> Result<Transformed<Expr>> {
    let ty = e.get_type(schema)?;
    let target = match integer_as_decimal(&ty).unwrap_or(ty.clone()) {
        DataType::Decimal128(p, s) if wide => DataType::Decimal256(p, s),
        other => other,
    };
    Ok(if target == ty {
        Transformed::no(e)
    } else {
        Transformed::yes(Expr::Cast(Cast::new(Box::new(e), target)))
    })
}

/// ksqlDB's typing of a logical expression, bottom up:
/// - arithmetic, comparisons and array constructors that mix integers with decimals get the
///   integers as decimals of ksqlDB's width; a decimal meeting one wider than 38 digits
///   becomes 256-bit too, keeping its scale (DataFusion would rescale it first, and a product
///   could overflow where ksqlDB's does not);
/// - a quotient of decimals has ksqlDB's type (`functions::decimal`);
/// - `'a' + s` joins strings; a comparison with a NULL literal is refused;
/// - a NULL literal among arrays is a NULL array;
/// - every CAST is checked against ksqlDB's table and done by `functions::cast`.
pub fn ksql_typing(expr: Expr, schema: &DFSchema) -> Result<Expr> {
    expr.transform_up(|e| match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if mixes(op) => {
            let (l, r) = (left.get_type(schema)?, right.get_type(schema)?);
            if let Some(symbol) = comparison(op) {
                if l == DataType::Null || r == DataType::Null {
                    let name = |t: &DataType| match (t, SqlType::from_arrow(t)) {
                        (DataType::Null, _) | (_, None) => "NULL".to_string(),
                        (_, Some(t)) => t.to_string(),
                    };
                    return Err(crate::error::ksql_plan_error(format!(
                        "Comparison with NULL not supported: {} {symbol} {}",
                        name(&l),
                        name(&r)
                    )));
                }
                if !comparable(&l, op, &r) {
                    let shown = |t: &DataType| {
                        SqlType::from_arrow(t).map_or(t.to_string(), |t| t.to_string())
                    };
                    return Err(crate::error::ksql_plan_error(format!(
                        "Cannot compare {left} ({}) to {right} ({}) with {}.",
                        shown(&l),
                        shown(&r),
                        operator_name(op)
                    )));
                }
            }
            if comparison(op).is_none() && !(arithmetic(&l) && arithmetic(&r)) {
                let both_text = op == Operator::Plus && is_text(&l) && is_text(&r);
                if !both_text {
                    let name = |t: &DataType| match SqlType::from_arrow(t) {
                        _ if *t == DataType::Null => "null".to_string(),
                        Some(t) => t.to_string(),
                        None => t.to_string(),
                    };
                    return Err(crate::error::ksql_plan_error(format!(
                        "Error processing expression: ({left} {op} {right}). Arithmetic on types {} and {} are not supported.",
                        name(&l),
                        name(&r)
                    )));
                }
            }
            // `'a' + s` joins strings in ksqlDB (NULL if either is NULL here; Java would
            // write "null").
            if op == Operator::Plus && is_text(&l) && is_text(&r) {
                return Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                    left,
                    Operator::StringConcat,
                    right,
                ))));
            }
            if !(is_decimal(&l) || is_decimal(&r)) {
                return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
                    left,
                    op,
                    right,
                })));
            }
            let wide = is_wide(&l) || is_wide(&r);
            let left = widened(*left, schema, wide)?;
            let right = widened(*right, schema, wide)?;
            // A quotient of decimals has ksqlDB's type (see `functions::decimal`).
            if op == Operator::Divide {
                let (lt, rt) = (left.data.get_type(schema)?, right.data.get_type(schema)?);
                if is_decimal(&lt) && is_decimal(&rt) {
                    return Ok(Transformed::yes(Expr::ScalarFunction(
                        ScalarFunction::new_udf(
                            crate::functions::decimal::divide_udf(),
                            vec![left.data, right.data],
                        ),
                    )));
                }
            }
            let changed = left.transformed || right.transformed;
            let e = Expr::BinaryExpr(BinaryExpr::new(
                Box::new(left.data),
                op,
                Box::new(right.data),
            ));
            Ok(if changed {
                Transformed::yes(e)
            } else {
                Transformed::no(e)
            })
        }
        // An ARRAY's elements take one type (integers meeting decimals widened among them).
        Expr::ScalarFunction(mut f) if f.name() == "make_array" => {
            match super::user_lists::coerce(&f.args, schema)? {
                Some(args) => {
                    f.args = args;
                    Ok(Transformed::yes(Expr::ScalarFunction(f)))
                }
                None => Ok(Transformed::no(Expr::ScalarFunction(f))),
            }
        }
        Expr::ScalarFunction(f) if PAIRS_OF_ARRAYS.contains(&f.name()) => typed_nulls(f, schema),
        // `x IN (a, b)`: the value and the list take one type, as an ARRAY's elements do.
        Expr::InList(mut in_list) => {
            let mut all = vec![(*in_list.expr).clone()];
            all.extend(in_list.list.iter().cloned());
            match super::user_lists::coerce(&all, schema)? {
                Some(mut coerced) => {
                    in_list.list = coerced.split_off(1);
                    in_list.expr = Box::new(coerced.remove(0));
                    Ok(Transformed::yes(Expr::InList(in_list)))
                }
                None => Ok(Transformed::no(Expr::InList(in_list))),
            }
        }
        Expr::ScalarFunction(f) if f.name() == "ksql_map" => {
            map_constructor(&f, schema)?;
            Ok(Transformed::no(Expr::ScalarFunction(f)))
        }
        Expr::Cast(c) => {
            let from = c.expr.get_type(schema)?;
            let data_type = c.field.data_type().clone();
            if from == data_type || from == DataType::Null {
                return Ok(Transformed::no(Expr::Cast(c)));
            }
            let expr = c.expr;
            crate::functions::cast::check(&from, &data_type)?;
            let target = Expr::Literal(ScalarValue::try_from(&data_type)?, None);
            Ok(Transformed::yes(Expr::ScalarFunction(
                ScalarFunction::new_udf(crate::functions::cast::udf(), vec![*expr, target]),
            )))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

/// ksqlDB's checks of `MAP(k := v, ...)` (`ExpressionTypeManager`): not empty, and neither
/// all keys nor all values NULL (their type could not be known).
fn map_constructor(f: &ScalarFunction, schema: &DFSchema) -> Result<()> {
    let element = |i: usize| -> Result<Option<DataType>> {
        Ok(
            match f.args.get(i).map(|a| a.get_type(schema)).transpose()? {
                Some(DataType::List(field)) => Some(field.data_type().clone()),
                _ => None,
            },
        )
    };
    let workaround = "(see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may cast a NULL";
    let empty = matches!(&f.args.first(), Some(Expr::ScalarFunction(a)) if a.args.is_empty());
    if empty {
        return Err(crate::error::ksql_plan_error(
            "Map constructor cannot be empty. Please supply at least one key value pair (see https://github.com/confluentinc/ksql/issues/4239).",
        ));
    }
    if element(0)? == Some(DataType::Null) {
        return Err(crate::error::ksql_plan_error(format!(
            "Cannot construct a map with all NULL keys {workaround} key to the desired type."
        )));
    }
    if element(1)? == Some(DataType::Null) {
        return Err(crate::error::ksql_plan_error(format!(
            "Cannot construct a map with all NULL values {workaround} value to the desired type."
        )));
    }
    Ok(())
}

/// Functions of two arrays of one type, where ksqlDB lets a NULL literal stand for either.
const PAIRS_OF_ARRAYS: &[&str] = &[
    "array_concat",
    "array_union",
    "array_intersect",
    "array_except",
];

/// A NULL literal among arrays becomes a NULL array of their type.
fn typed_nulls(f: ScalarFunction, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let types = f
        .args
        .iter()
        .map(|a| a.get_type(schema))
        .collect::<Result<Vec<_>>>()?;
    let Some(list) = types
        .iter()
        .find(|t| matches!(t, DataType::List(_)))
        .cloned()
    else {
        return Ok(Transformed::no(Expr::ScalarFunction(f)));
    };
    if !types.contains(&DataType::Null) {
        return Ok(Transformed::no(Expr::ScalarFunction(f)));
    }
    let ScalarFunction { func, args } = f;
    let args = args
        .into_iter()
        .zip(types)
        .map(|(a, t)| match t {
            DataType::Null => Expr::Cast(Cast::new(Box::new(a), list.clone())),
            _ => a,
        })
        .collect();
    Ok(Transformed::yes(Expr::ScalarFunction(
        ScalarFunction::new_udf(func, args),
    )))
}

/// A comparison's symbol as ksqlDB writes it.
fn comparison(op: Operator) -> Option<&'static str> {
    Some(match op {
        Operator::Eq => "=",
        Operator::NotEq => "<>",
        Operator::Lt => "<",
        Operator::LtEq => "<=",
        Operator::Gt => ">",
        Operator::GtEq => ">=",
        _ => return None,
    })
}

/// The families of types ksqlDB's `ComparisonUtil` tells apart.
#[derive(PartialEq, Eq)]
enum Family {
    Number,
    Text,
    Boolean,
    Array,
    Map,
    Struct,
    Time,
    DateOrTimestamp,
    Bytes,
}

fn family(t: &DataType) -> Option<Family> {
    use DataType::*;
    Some(match t {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Float16 | Float32
        | Float64 | Decimal128(..) | Decimal256(..) => Family::Number,
        Utf8 | LargeUtf8 | Utf8View => Family::Text,
        Boolean => Family::Boolean,
        List(_) | LargeList(_) | FixedSizeList(..) => Family::Array,
        Map(..) => Family::Map,
        Struct(_) => Family::Struct,
        Time32(_) | Time64(_) => Family::Time,
        Date32 | Date64 | Timestamp(..) => Family::DateOrTimestamp,
        Binary | LargeBinary | BinaryView => Family::Bytes,
        _ => return None,
    })
}

/// ksqlDB's `ComparisonUtil.isValidComparison`: numbers compare with numbers, strings with
/// strings and temporal types, DATE and TIMESTAMP with each other and strings, TIME with TIME
/// and strings, BYTES with BYTES; BOOLEAN, ARRAY, MAP and STRUCT only for (in)equality with
/// their own kind. Types outside ksqlDB's are left to DataFusion.
fn comparable(l: &DataType, op: Operator, r: &DataType) -> bool {
    let (Some(lf), Some(rf)) = (family(l), family(r)) else {
        return true;
    };
    let equality = matches!(
        op,
        Operator::Eq | Operator::NotEq | Operator::IsDistinctFrom | Operator::IsNotDistinctFrom
    );
    match lf {
        Family::Number => rf == Family::Number,
        Family::Text => matches!(rf, Family::Text | Family::Time | Family::DateOrTimestamp),
        Family::Boolean | Family::Array | Family::Map | Family::Struct => rf == lf && equality,
        Family::Time => matches!(rf, Family::Time | Family::Text),
        Family::DateOrTimestamp => matches!(rf, Family::DateOrTimestamp | Family::Text),
        Family::Bytes => rf == Family::Bytes,
    }
}

/// A comparison operator as ksqlDB names it in errors.
fn operator_name(op: Operator) -> &'static str {
    match op {
        Operator::Eq => "EQUAL",
        Operator::NotEq => "NOT_EQUAL",
        Operator::Lt => "LESS_THAN",
        Operator::LtEq => "LESS_THAN_OR_EQUAL",
        Operator::Gt => "GREATER_THAN",
        Operator::GtEq => "GREATER_THAN_OR_EQUAL",
        Operator::IsDistinctFrom => "IS_DISTINCT_FROM",
        _ => "IS_NOT_DISTINCT_FROM",
    }
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
            Field::new("W", DataType::Decimal256(50, 30), true),
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
        // DECIMAL(50, 30) * DECIMAL(10, 0) is DECIMAL(61, 30) in ksqlDB, computed in 256 bits.
        assert_eq!(type_of("W * 2"), DataType::Decimal256(61, 30));
        assert_eq!(type_of("W + D"), DataType::Decimal256(51, 30));
        // Quotients of decimals as ksqlDB types them (DataFusion keeps fewer digits).
        assert_eq!(type_of("D / I"), DataType::Decimal128(15, 13));
        assert_eq!(type_of("D / D"), DataType::Decimal128(11, 7));
        assert_eq!(type_of("D % I"), DataType::Decimal128(4, 2));
        // Without a decimal nothing changes.
        assert_eq!(type_of("B + I"), DataType::Int64);
        assert_eq!(type_of("B > D"), DataType::Boolean);
    }
}
