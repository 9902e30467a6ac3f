//! Rounding and logarithms as ksqlDB computes them: ROUND (ties toward positive infinity; a
//! DOUBLE rounds to a BIGINT, a DECIMAL keeps being one), CEIL and FLOOR (a DECIMAL stays a
//! DECIMAL), LOG (natural, or in a given base).

use super::row::{double, int, row_function, Arg};
use datafusion::arrow::datatypes::DataType;
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
            to_whole(&a[0], ret, |x| x.ceil(), |q, r| q + i128::from(r > 0))
        }),
        row_function("floor", &[&[Any]], whole_type, |a, ret| {
            to_whole(&a[0], ret, |x| x.floor(), |q, r| q - i128::from(r < 0))
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
        (DataType::Decimal128(p, s), 1) => whole_decimal(*p, *s),
        (DataType::Null, _) => DataType::Int64,
        (t, _) => t.clone(),
    }
}

/// CEIL's and FLOOR's result: DECIMAL(p, s) to DECIMAL(p - s + 1, 0), others as they are.
fn whole_type(args: &[DataType]) -> DataType {
    match &args[0] {
        DataType::Decimal128(p, s) => whole_decimal(*p, *s),
        DataType::Null => DataType::Float64,
        t => t.clone(),
    }
}

fn whole_decimal(p: u8, s: i8) -> DataType {
    let digits = (i16::from(p) - i16::from(s.max(0)) + 1).clamp(1, 38) as u8;
    DataType::Decimal128(digits, 0)
}

/// `v` divided by 10^`exp`, rounded half toward positive infinity.
fn div_round(v: i128, exp: u32) -> i128 {
    let d = 10i128.pow(exp);
    let (q, r) = (v.div_euclid(d), v.rem_euclid(d));
    if 2 * r >= d {
        q + 1
    } else {
        q
    }
}

fn round(v: &ScalarValue, places: Option<i64>, ret: &DataType) -> Result<ScalarValue> {
    if v.is_null() {
        return ScalarValue::try_from(ret);
    }
    let places = places.unwrap_or(0);
    Ok(match v {
        ScalarValue::Float64(Some(x)) if ret == &DataType::Int64 => {
            ScalarValue::Int64(Some((x + 0.5).floor() as i64))
        }
        ScalarValue::Float64(Some(x)) => {
            let scale = 10f64.powi(places.clamp(-300, 300) as i32);
            ScalarValue::Float64(Some((x * scale + 0.5).floor() / scale))
        }
        ScalarValue::Decimal128(Some(x), p, s) => {
            let s = i64::from(*s);
            let drop = (s - places).clamp(0, 38) as u32;
            let rounded = div_round(*x, drop);
            match ret {
                // Kept at its scale: the dropped digits come back as zeros.
                DataType::Decimal128(_, rs) if i64::from(*rs) == s => {
                    ScalarValue::Decimal128(Some(rounded * 10i128.pow(drop)), *p, *rs)
                }
                DataType::Decimal128(rp, rs) => ScalarValue::Decimal128(Some(rounded), *rp, *rs),
                _ => return exec_err!("ROUND of a DECIMAL is a DECIMAL"),
            }
        }
        // Integers are whole already (negative places round to tens, hundreds...).
        ScalarValue::Int32(Some(x)) => ScalarValue::Int32(Some(
            (div_round(i128::from(*x), (-places).clamp(0, 38) as u32)
                * 10i128.pow((-places).clamp(0, 38) as u32)) as i32,
        )),
        ScalarValue::Int64(Some(x)) => ScalarValue::Int64(Some(
            (div_round(i128::from(*x), (-places).clamp(0, 38) as u32)
                * 10i128.pow((-places).clamp(0, 38) as u32)) as i64,
        )),
        other => return exec_err!("ROUND needs a number, not {}", other.data_type()),
    })
}

/// CEIL / FLOOR: `f` on doubles, `adjust(quotient, remainder)` on decimals' unscaled values.
fn to_whole(
    v: &ScalarValue,
    ret: &DataType,
    f: fn(f64) -> f64,
    adjust: fn(i128, i128) -> i128,
) -> Result<ScalarValue> {
    Ok(match v {
        v if v.is_null() => return ScalarValue::try_from(ret),
        ScalarValue::Float64(Some(x)) => ScalarValue::Float64(Some(f(*x))),
        ScalarValue::Float32(Some(x)) => ScalarValue::Float32(Some(f(f64::from(*x)) as f32)),
        ScalarValue::Decimal128(Some(x), _, s) => {
            let d = 10i128.pow(s.max(&0).unsigned_abs() as u32);
            let (q, r) = (x / d, x % d);
            let DataType::Decimal128(p, 0) = ret else {
                return exec_err!("CEIL/FLOOR of a DECIMAL is a DECIMAL");
            };
            ScalarValue::Decimal128(Some(adjust(q, r)), *p, 0)
        }
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
    }

    #[test]
    fn logarithms() {
        assert_eq!(eval("LOG(1)").unwrap(), "0.0");
        assert_eq!(eval("LOG(10, 100)").unwrap(), "2.0");
        assert_eq!(eval("LOG(NULL)").unwrap(), "null");
    }
}
