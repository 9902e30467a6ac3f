//! Rounding and logarithms as ksqlDB computes them: ROUND (ties toward positive infinity; a
//! DOUBLE or an integer rounds to a BIGINT, a DECIMAL(p, s) to DECIMAL(p - s, 0); with places
//! a DOUBLE's decimal text is rounded and a DECIMAL keeps its type), CEIL and FLOOR (a DECIMAL
//! keeps its type), TRUNC (ROUND's types, toward zero), LOG (natural, or in a given base:
//! NaN for a base that is not positive or is 1).

use super::row::{double, int, row_function, Arg};
use crate::catalog::types::SqlType;
use datafusion::arrow::datatypes::{i256, DataType};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

pub fn udfs() -> Vec<ScalarUDF> {
    use Arg::*;
    vec![
        row_function("round", &[&[Any], &[Any, Int]], round_type, |a, ret| {
            rounded(a, ret, false)
        }),
        // TRUNC: ROUND's types, digits dropped toward zero (ksqlDB's Trunc,
        // `RoundingMode.DOWN`).
        row_function("trunc", &[&[Any], &[Any, Int]], round_type, |a, ret| {
            rounded(a, ret, true)
        }),
        row_function("ceil", &[&[Any]], whole_type, |a, ret| {
            to_whole(&a[0], ret, |x| x.ceil(), |inexact| inexact)
        }),
        row_function("floor", &[&[Any]], whole_type, |a, ret| {
            to_whole(&a[0], ret, |x| x.floor(), |_| false)
        }),
        ScalarUDF::from(Sqrt {
            signature: Signature::uniform(1, vec![DataType::Float64], Volatility::Immutable),
        }),
        row_function(
            "log",
            &[&[Double], &[Double, Double]],
            |_| DataType::Float64,
            |a, _| {
                Ok(ScalarValue::Float64(match a {
                    [x] => double(x).map(f64::ln),
                    // ksqlDB's Log: NaN for a base that is not positive, or is 1.
                    [base, x] => double(base).zip(double(x)).map(|(b, x)| {
                        if b <= 0.0 || b == 1.0 {
                            f64::NAN
                        } else {
                            x.ln() / b.ln()
                        }
                    }),
                    _ => None,
                }))
            },
        ),
    ]
}

/// SQRT as Java's: NaN for a negative number (DataFusion's refuses it).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Sqrt {
    signature: Signature,
}

impl ScalarUDFImpl for Sqrt {
    fn name(&self) -> &str {
        "sqrt"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::array::AsArray;
        use datafusion::arrow::datatypes::Float64Type;
        let a = args.args[0].to_array(args.number_rows)?;
        let roots = a
            .as_primitive::<Float64Type>()
            .unary::<_, Float64Type>(f64::sqrt);
        Ok(ColumnarValue::Array(std::sync::Arc::new(roots)))
    }
}

/// ROUND's result, as ksqlDB's: an integer or a DOUBLE to BIGINT (DOUBLE with places),
/// DECIMAL(p, s) to DECIMAL(p - s, 0) (kept as it is with places).
fn round_type(args: &[DataType]) -> DataType {
    match (&args[0], args.len()) {
        (DataType::Float32 | DataType::Float64, 1) => DataType::Int64,
        (DataType::Float32 | DataType::Float64, _) => DataType::Float64,
        (DataType::Decimal128(p, s) | DataType::Decimal256(p, s), 1) => {
            let digits = (i16::from(*p) - i16::from((*s).max(0))).clamp(1, 76) as u8;
            SqlType::Decimal(digits, 0).to_arrow()
        }
        (DataType::Int8 | DataType::Int16 | DataType::Int32, 1) => DataType::Int64,
        (DataType::Null, _) => DataType::Int64,
        (t, _) => t.clone(),
    }
}

/// CEIL's and FLOOR's result: the argument's type (a DECIMAL keeps its scale, its fraction
/// zero).
fn whole_type(args: &[DataType]) -> DataType {
    match &args[0] {
        DataType::Null => DataType::Float64,
        t => t.clone(),
    }
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

/// A DOUBLE rounded to `places` as ksqlDB does it: its shortest decimal text
/// (`BigDecimal.valueOf`), rounded half toward positive infinity, read back.
fn round_places(x: f64, places: i64, truncate: bool) -> f64 {
    if !x.is_finite() {
        return x;
    }
    // `d.ddddde±x`: the digits and the power of ten of the first.
    let text = format!("{:e}", x.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    // How many digits stay: those before the point plus `places`.
    let keep = exp + 1 + places.clamp(-400, 400);
    if keep < 0 {
        return 0.0 * x.signum();
    }
    let keep = keep as usize;
    if keep >= digits.len() {
        return x;
    }
    let mut kept: Vec<u8> = digits[..keep].to_vec();
    let tie_or_more = digits[keep] >= b'5';
    // Half up for positive values, half down for negative ones (toward positive infinity):
    // a negative value goes away from zero only past the half.
    let away = if truncate {
        false
    } else if x > 0.0 {
        tie_or_more
    } else {
        digits[keep] > b'5'
            || (digits[keep] == b'5' && digits[keep + 1..].iter().any(|&d| d != b'0'))
    };
    let mut exp10 = exp + 1 - keep as i64;
    if away {
        super::decimal::increment_digits(&mut kept);
    }
    if kept.is_empty() {
        kept.push(b'0');
        exp10 = 0;
    }
    let text = format!(
        "{}{}e{exp10}",
        if x < 0.0 { "-" } else { "" },
        String::from_utf8_lossy(&kept)
    );
    text.parse().unwrap_or(x)
}

/// An integer rounded to `-places` tens (ROUND(1234, -2) is 1200).
fn round_integer(x: i64, places: i64, truncate: bool) -> i64 {
    let exp = (-places).clamp(0, 18) as u32;
    divide(i256::from(x), exp, truncate)
        .wrapping_mul(ten_to(exp))
        .to_i128()
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(x)
}

/// ROUND's or TRUNC's call: the value and its places (NULL places: NULL).
fn rounded(a: &[ScalarValue], ret: &DataType, truncate: bool) -> Result<ScalarValue> {
    let places = match a.get(1) {
        None => None,
        Some(p) => match int(p) {
            Some(p) => Some(p),
            None => return ScalarValue::try_from(ret),
        },
    };
    round(&a[0], places, ret, truncate)
}

/// `v` divided by 10^`exp`: toward zero when `truncate`, else half toward positive infinity.
fn divide(v: i256, exp: u32, truncate: bool) -> i256 {
    if truncate {
        v.wrapping_div(ten_to(exp))
    } else {
        div_round(v, exp)
    }
}

fn round(
    v: &ScalarValue,
    places: Option<i64>,
    ret: &DataType,
    truncate: bool,
) -> Result<ScalarValue> {
    if v.is_null() {
        return ScalarValue::try_from(ret);
    }
    let places = places.unwrap_or(0);
    if let Some((x, s)) = unscaled(v) {
        let s = i64::from(s);
        let drop = (s - places).clamp(0, 76) as u32;
        let rounded = divide(x, drop, truncate);
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
            ScalarValue::Int64(Some(if truncate {
                x.trunc() as i64
            } else {
                (x + 0.5).floor() as i64
            }))
        }
        ScalarValue::Float64(Some(x)) => {
            ScalarValue::Float64(Some(round_places(*x, places, truncate)))
        }
        // Integers are whole already (negative places round to tens, hundreds...).
        ScalarValue::Int32(Some(x)) if ret == &DataType::Int64 => {
            ScalarValue::Int64(Some(i64::from(*x)))
        }
        ScalarValue::Int32(Some(x)) => {
            ScalarValue::Int32(Some(round_integer(i64::from(*x), places, truncate) as i32))
        }
        ScalarValue::Int64(Some(x)) => {
            ScalarValue::Int64(Some(round_integer(*x, places, truncate)))
        }
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
        let exp = s.max(0).unsigned_abs() as u32;
        let (q, r, _) = div_floor(x, exp);
        let whole = if up(r != i256::ZERO) {
            q.wrapping_add(i256::ONE)
        } else {
            q
        };
        // Back at the argument's scale: the fraction's digits are zeros.
        return decimal_of(whole.wrapping_mul(ten_to(exp)), ret);
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
        // The decimal text, not the binary value, is rounded: 1.005 is 1.00499999...
        assert_eq!(eval("ROUND(CAST(1.005 AS DOUBLE), 2)").unwrap(), "1.01");
        assert_eq!(eval("ROUND(CAST(-1.005 AS DOUBLE), 2)").unwrap(), "-1.0");
        assert_eq!(eval("ROUND(CAST(-1.0051 AS DOUBLE), 2)").unwrap(), "-1.01");
        assert_eq!(
            eval("ROUND(CAST(12345.678 AS DOUBLE), -2)").unwrap(),
            "12300.0"
        );
        assert_eq!(
            eval("ROUND(CAST(-12345.678 AS DOUBLE), -1)").unwrap(),
            "-12350.0"
        );
        assert_eq!(eval("ROUND(CAST(1.2 AS DOUBLE), -1)").unwrap(), "0.0");
        assert_eq!(eval("ROUND(CAST(9.96 AS DOUBLE), 1)").unwrap(), "10.0");
        assert_eq!(
            eval("ROUND(CAST(1.234567 AS DOUBLE), 10)").unwrap(),
            "1.234567"
        );
        assert_eq!(eval("ROUND(2.5)").unwrap(), "3");
        assert_eq!(eval("ROUND(-2.5)").unwrap(), "-2");
        assert_eq!(eval("ROUND(1.2345, 2)").unwrap(), "1.2300");
        assert_eq!(eval("ROUND(-1.2355, 3)").unwrap(), "-1.2350");
        assert_eq!(eval("ROUND(7)").unwrap(), "7");
        // DECIMAL(33, 16) rounds to DECIMAL(17, 0).
        assert_eq!(
            eval("ROUND(CAST('12345678987654321.2345678987654321' AS DECIMAL(33, 16)))").unwrap(),
            "12345678987654321"
        );
        assert_eq!(eval("ROUND(1234, -2)").unwrap(), "1200");
        assert_eq!(eval("ROUND(CAST(NULL AS DOUBLE))").unwrap(), "null");
        assert_eq!(eval("ROUND(CAST(1.5 AS DOUBLE), NULL)").unwrap(), "null");
    }

    #[test]
    fn ceil_and_floor_keep_decimals() {
        // A DECIMAL keeps its type: the fraction becomes zeros.
        assert_eq!(eval("CEIL(1.2)").unwrap(), "2.0");
        assert_eq!(eval("CEIL(-1.2)").unwrap(), "-1.0");
        assert_eq!(eval("FLOOR(-1.2)").unwrap(), "-2.0");
        assert_eq!(eval("FLOOR(1.8)").unwrap(), "1.0");
        assert_eq!(eval("CEIL(CAST(1.2 AS DOUBLE))").unwrap(), "2.0");
        assert_eq!(eval("FLOOR(5)").unwrap(), "5");
        assert_eq!(eval("CEIL(CAST(NULL AS DOUBLE))").unwrap(), "null");
        assert_eq!(eval("CEIL(CAST(NULL AS DECIMAL(4, 2)))").unwrap(), "null");
        assert_eq!(eval("FLOOR(-3.00)").unwrap(), "-3.00");
        assert_eq!(eval("CEIL(-3.01)").unwrap(), "-3.00");
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
        let zeros = "0".repeat(30);
        assert_eq!(
            eval(&format!("FLOOR({})", wide("-1.5"))).unwrap(),
            format!("-2.{zeros}")
        );
        assert_eq!(
            eval(&format!("CEIL({})", wide("-1.5"))).unwrap(),
            format!("-1.{zeros}")
        );
        assert_eq!(
            eval(&format!("CEIL({})", wide("1.000001"))).unwrap(),
            format!("2.{zeros}")
        );
        assert_eq!(eval(&format!("ROUND({})", wide("NULL"))).unwrap(), "null");
    }

    #[test]
    fn logarithms() {
        assert_eq!(eval("LOG(1)").unwrap(), "0.0");
        assert_eq!(eval("LOG(10, 100)").unwrap(), "2.0");
        assert_eq!(eval("LOG(NULL)").unwrap(), "null");
    }
}
