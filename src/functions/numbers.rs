//! Rounding and logarithms as ksqlDB computes them: ROUND (ties toward positive infinity; a
//! DOUBLE rounds to a BIGINT, a DECIMAL keeps being one), CEIL and FLOOR (a DECIMAL stays a
//! DECIMAL), LOG (natural, or in a given base).

use super::row::{double, int, row_function, Arg};
use crate::catalog::types::SqlType;
use datafusion::arrow::datatypes::{i256, DataType};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::ScalarUDF;

pub fn udfs() -> Vec<ScalarUDF> {
    use Arg::*;
    vec![
        row_function("round", &[&[Any], &[Any, Int]], round_type, |a, ret| {
            let places = match a.get(1) {
                None => None,
                Some(p) => match int(p) {
                    Some(p) => Some(p),
                    None => return ScalarValue::try_from(ret),
                },
            };
            round(&a[0], places, ret)
        }),
        row_function("ceil", &[&[Any]], whole_type, |a, ret| {
            to_whole(&a[0], ret, |x| x.ceil(), |inexact| inexact)
        }),
        row_function("floor", &[&[Any]], whole_type, |a, ret| {
            to_whole(&a[0], ret, |x| x.floor(), |_| false)
        }),
        row_function(
            "log",
            &[&[Double], &[Double, Double]],
            |_| DataType::Float64,
            |a, _| {
                Ok(ScalarValue::Float64(match a {
                    [x] => double(x).map(f64::ln),
                    [base, x] => double(base).zip(double(x)).map(|(b, x)| x.ln() / b.ln()),
                    _ => None,
                }))
            },
        ),
    ]
}

/// ROUND's result: integers as they are, DOUBLE to BIGINT (DOUBLE with places), DECIMAL(p, s)
/// to DECIMAL(p - s + 1, 0) (kept with places).
fn round_type(args: &[DataType]) -> DataType {
    match (&args[0], args.len()) {
        (DataType::Float32 | DataType::Float64, 1) => DataType::Int64,
        (DataType::Float32 | DataType::Float64, _) => DataType::Float64,
        (DataType::Decimal128(p, s) | DataType::Decimal256(p, s), 1) => whole_decimal(*p, *s),
        (DataType::Null, _) => DataType::Int64,
        (t, _) => t.clone(),
    }
}

/// CEIL's and FLOOR's result: DECIMAL(p, s) to DECIMAL(p - s + 1, 0), others as they are.
fn whole_type(args: &[DataType]) -> DataType {
    match &args[0] {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => whole_decimal(*p, *s),
        DataType::Null => DataType::Float64,
        t => t.clone(),
    }
}

fn whole_decimal(p: u8, s: i8) -> DataType {
    let digits = (i16::from(p) - i16::from(s.max(0)) + 1).clamp(1, 76) as u8;
    SqlType::Decimal(digits, 0).to_arrow()
}

/// A decimal's unscaled value and scale, widened to 256 bits.
fn unscaled(v: &ScalarValue) -> Option<(i256, i8)> {
    match v {
        ScalarValue::Decimal128(Some(x), _, s) => Some((i256::from_i128(*x), *s)),
        ScalarValue::Decimal256(Some(x), _, s) => Some((*x, *s)),
        _ => None,
    }
}

/// An unscaled value as a decimal of type `ty` (NULL if it does not fit).
fn decimal_of(v: i256, ty: &DataType) -> Result<ScalarValue> {
    Ok(match ty {
        DataType::Decimal128(p, s) => ScalarValue::Decimal128(v.to_i128(), *p, *s),
        DataType::Decimal256(p, s) => ScalarValue::Decimal256(Some(v), *p, *s),
        other => return exec_err!("a decimal's rounding is a decimal, not {other}"),
    })
}

fn ten_to(exp: u32) -> i256 {
    i256::from_i128(10).wrapping_pow(exp)
}

/// `v` divided by 10^`exp` as (floor quotient, non-negative remainder, divisor).
fn div_floor(v: i256, exp: u32) -> (i256, i256, i256) {
    let d = ten_to(exp);
    let (q, r) = (v.wrapping_div(d), v.wrapping_rem(d));
    if r.is_negative() {
        (q.wrapping_sub(i256::ONE), r.wrapping_add(d), d)
    } else {
        (q, r, d)
    }
}

/// `v` divided by 10^`exp`, rounded half toward positive infinity.
fn div_round(v: i256, exp: u32) -> i256 {
    let (q, r, d) = div_floor(v, exp);
    if r.wrapping_add(r) >= d {
        q.wrapping_add(i256::ONE)
    } else {
        q
    }
}

/// An integer rounded to `-places` tens (ROUND(1234, -2) is 1200).
fn round_integer(x: i64, places: i64) -> i64 {
    let exp = (-places).clamp(0, 18) as u32;
    div_round(i256::from(x), exp)
        .wrapping_mul(ten_to(exp))
        .to_i128()
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(x)
}

fn round(v: &ScalarValue, places: Option<i64>, ret: &DataType) -> Result<ScalarValue> {
    if v.is_null() {
        return ScalarValue::try_from(ret);
    }
    let places = places.unwrap_or(0);
    if let Some((x, s)) = unscaled(v) {
        let s = i64::from(s);
        let drop = (s - places).clamp(0, 76) as u32;
        let rounded = div_round(x, drop);
        return match ret {
            // Kept at its scale: the dropped digits come back as zeros.
            DataType::Decimal128(_, rs) | DataType::Decimal256(_, rs) if i64::from(*rs) == s => {
                decimal_of(rounded.wrapping_mul(ten_to(drop)), ret)
            }
            _ => decimal_of(rounded, ret),
        };
    }
    Ok(match v {
        ScalarValue::Float64(Some(x)) if ret == &DataType::Int64 => {
            ScalarValue::Int64(Some((x + 0.5).floor() as i64))
        }
        ScalarValue::Float64(Some(x)) => {
            let scale = 10f64.powi(places.clamp(-300, 300) as i32);
            ScalarValue::Float64(Some((x * scale + 0.5).floor() / scale))
        }
        // Integers are whole already (negative places round to tens, hundreds...).
        ScalarValue::Int32(Some(x)) => {
            ScalarValue::Int32(Some(round_integer(i64::from(*x), places) as i32))
        }
        ScalarValue::Int64(Some(x)) => ScalarValue::Int64(Some(round_integer(*x, places))),
        other => return exec_err!("ROUND needs a number, not {}", other.data_type()),
    })
}

/// CEIL / FLOOR: `f` on doubles; on decimals, `up` says whether a quotient with a (non-negative)
/// remainder goes one up.
fn to_whole(
    v: &ScalarValue,
    ret: &DataType,
    f: fn(f64) -> f64,
    up: fn(bool) -> bool,
) -> Result<ScalarValue> {
    if let Some((x, s)) = unscaled(v) {
        let (q, r, _) = div_floor(x, s.max(0).unsigned_abs() as u32);
        let inexact = r != i256::ZERO;
        return decimal_of(
            if up(inexact) {
                q.wrapping_add(i256::ONE)
            } else {
                q
            },
            ret,
        );
    }
    Ok(match v {
        v if v.is_null() => return ScalarValue::try_from(ret),
        ScalarValue::Float64(Some(x)) => ScalarValue::Float64(Some(f(*x))),
        ScalarValue::Float32(Some(x)) => ScalarValue::Float32(Some(f(f64::from(*x)) as f32)),
        ScalarValue::Int32(_)
        | ScalarValue::Int64(_)
        | ScalarValue::Int16(_)
        | ScalarValue::Int8(_) => v.clone(),
        other => return exec_err!("CEIL/FLOOR needs a number, not {}", other.data_type()),
    })
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn rounds_ties_toward_positive_infinity() {
        assert_eq!(eval("ROUND(CAST(2.5 AS DOUBLE))").unwrap(), "3");
        assert_eq!(eval("ROUND(CAST(-2.5 AS DOUBLE))").unwrap(), "-2");
        assert_eq!(eval("ROUND(CAST(-2.6 AS DOUBLE))").unwrap(), "-3");
        assert_eq!(eval("ROUND(CAST(1.2345 AS DOUBLE), 2)").unwrap(), "1.23");
        assert_eq!(eval("ROUND(CAST(1.235 AS DOUBLE), 2)").unwrap(), "1.24");
        assert_eq!(eval("ROUND(2.5)").unwrap(), "3");
        assert_eq!(eval("ROUND(-2.5)").unwrap(), "-2");
        assert_eq!(eval("ROUND(1.2345, 2)").unwrap(), "1.2300");
        assert_eq!(eval("ROUND(-1.2355, 3)").unwrap(), "-1.2350");
        assert_eq!(eval("ROUND(7)").unwrap(), "7");
        assert_eq!(eval("ROUND(1234, -2)").unwrap(), "1200");
        assert_eq!(eval("ROUND(CAST(NULL AS DOUBLE))").unwrap(), "null");
        assert_eq!(eval("ROUND(CAST(1.5 AS DOUBLE), NULL)").unwrap(), "null");
    }

    #[test]
    fn ceil_and_floor_keep_decimals() {
        assert_eq!(eval("CEIL(1.2)").unwrap(), "2");
        assert_eq!(eval("CEIL(-1.2)").unwrap(), "-1");
        assert_eq!(eval("FLOOR(-1.2)").unwrap(), "-2");
        assert_eq!(eval("FLOOR(1.8)").unwrap(), "1");
        assert_eq!(eval("CEIL(CAST(1.2 AS DOUBLE))").unwrap(), "2.0");
        assert_eq!(eval("FLOOR(5)").unwrap(), "5");
        assert_eq!(eval("CEIL(CAST(NULL AS DOUBLE))").unwrap(), "null");
        assert_eq!(eval("CEIL(CAST(NULL AS DECIMAL(4, 2)))").unwrap(), "null");
        assert_eq!(eval("FLOOR(-3.00)").unwrap(), "-3");
        assert_eq!(eval("CEIL(-3.00)").unwrap(), "-3");
    }

    #[test]
    fn decimals_wider_than_38_digits_round() {
        let wide = |v: &str| format!("CAST({v} AS DECIMAL(50, 30))");
        assert_eq!(
            eval(&format!("ROUND({})", wide("-12345.5"))).unwrap(),
            "-12345"
        );
        assert_eq!(
            eval(&format!("ROUND({})", wide("-12345.51"))).unwrap(),
            "-12346"
        );
        assert_eq!(
            eval(&format!("ROUND({}, 1)", wide("2.25"))).unwrap(),
            format!("2.3{}", "0".repeat(29))
        );
        assert_eq!(eval(&format!("FLOOR({})", wide("-1.5"))).unwrap(), "-2");
        assert_eq!(eval(&format!("CEIL({})", wide("-1.5"))).unwrap(), "-1");
        assert_eq!(eval(&format!("CEIL({})", wide("1.000001"))).unwrap(), "2");
        assert_eq!(eval(&format!("ROUND({})", wide("NULL"))).unwrap(), "null");
    }

    #[test]
    fn logarithms() {
        assert_eq!(eval("LOG(1)").unwrap(), "0.0");
        assert_eq!(eval("LOG(10, 100)").unwrap(), "2.0");
        assert_eq!(eval("LOG(NULL)").unwrap(), "null");
    }
}
