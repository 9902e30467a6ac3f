//! DECIMAL division typed as ksqlDB types it: DECIMAL(p1, s1) / DECIMAL(p2, s2) is
//! DECIMAL(p1 - s1 + s2 + max(6, s1 + p2 + 1), max(6, s1 + p2 + 1)). DataFusion's result keeps
//! fewer digits. A quotient with more digits than that scale is rounded half up (ksqlDB makes
//! such a row's value NULL: its division must be exact); division by zero fails the row.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use datafusion::arrow::datatypes::{
    i256, DataType, Decimal128Type, Decimal256Type, DECIMAL128_MAX_PRECISION,
    DECIMAL256_MAX_PRECISION,
};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

/// The function a division of decimals becomes.
pub fn divide_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(Divide {
        signature: Signature::any(2, Volatility::Immutable),
    }))
}

/// Adds one to a number written as decimal digits (ASCII, most significant first); true when
/// it carried into a new leading digit (`999` became `1000`).
pub(super) fn increment_digits(digits: &mut Vec<u8>) -> bool {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return false;
        }
    }
    digits.insert(0, b'1');
    true
}

/// ksqlDB's type of a quotient of two decimals.
pub fn quotient_type(left: &DataType, right: &DataType) -> Result<DataType> {
    let (Some((p1, s1)), Some((p2, s2))) = (precision_scale(left), precision_scale(right)) else {
        return plan_err!("DECIMAL division of {left} by {right}");
    };
    let scale = 6.max(s1 + p2 + 1);
    let precision = p1 - s1 + s2 + scale;
    if precision > i32::from(DECIMAL256_MAX_PRECISION) {
        return Err(crate::error::ksql_plan_error(format!(
            "The quotient of DECIMAL({p1}, {s1}) and DECIMAL({p2}, {s2}) needs DECIMAL({precision}, {scale}), wider than 76 digits"
        )));
    }
    Ok(if precision > i32::from(DECIMAL128_MAX_PRECISION) {
        DataType::Decimal256(precision as u8, scale as i8)
    } else {
        DataType::Decimal128(precision as u8, scale as i8)
    })
}

fn precision_scale(t: &DataType) -> Option<(i32, i32)> {
    match t {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => {
            Some((i32::from(*p), i32::from(*s)))
        }
        _ => None,
    }
}

/// A decimal array's unscaled values, widened to 256 bits.
fn unscaled(a: &ArrayRef) -> Result<Vec<Option<i256>>> {
    Ok(match a.data_type() {
        DataType::Decimal128(..) => a
            .as_primitive::<Decimal128Type>()
            .iter()
            .map(|v| v.map(i256::from_i128))
            .collect(),
        DataType::Decimal256(..) => a.as_primitive::<Decimal256Type>().iter().collect(),
        other => return exec_err!("not a decimal: {other}"),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Divide {
    signature: Signature,
}

impl ScalarUDFImpl for Divide {
    fn name(&self) -> &str {
        "ksql_decimal_divide"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        quotient_type(&args[0], &args[1])
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let (left, right) = (args.args[0].to_array(n)?, args.args[1].to_array(n)?);
        let to = args.return_field.data_type().clone();
        let (Some((_, s1)), Some((_, s2)), Some((p, s))) = (
            precision_scale(left.data_type()),
            precision_scale(right.data_type()),
            precision_scale(&to),
        ) else {
            return exec_err!(
                "DECIMAL division of {} by {}",
                left.data_type(),
                right.data_type()
            );
        };
        let ten = i256::from_i128(10);
        // a / b at scale s is a * 10^(s - s1 + s2) / b (the exponent is never negative).
        let shift = ten.wrapping_pow((s - s1 + s2).max(0) as u32);
        let limit = ten.wrapping_pow(p as u32);
        let (a, b) = (unscaled(&left)?, unscaled(&right)?);
        let mut out = Vec::with_capacity(n);
        for (a, b) in a.into_iter().zip(b) {
            let (Some(a), Some(b)) = (a, b) else {
                out.push(None);
                continue;
            };
            if b == i256::ZERO {
                return exec_err!("Division by zero");
            }
            let Some(num) = a.checked_mul(shift) else {
                return exec_err!("Numeric field overflow in a DECIMAL division");
            };
            let (q, r) = (num.wrapping_div(b), num.wrapping_rem(b));
            // Half up: away from zero when the remainder is at least half the divisor.
            let q = if r.wrapping_abs().wrapping_mul(i256::from_i128(2)) >= b.wrapping_abs() {
                if (r < i256::ZERO) == (b < i256::ZERO) {
                    q.wrapping_add(i256::ONE)
                } else {
                    q.wrapping_sub(i256::ONE)
                }
            } else {
                q
            };
            if q.wrapping_abs() >= limit {
                return exec_err!("Numeric field overflow: the quotient does not fit {to}");
            }
            out.push(Some(q));
        }
        let array: ArrayRef = match to {
            DataType::Decimal128(p, s) => Arc::new(
                out.into_iter()
                    .map(|v| v.and_then(|v| v.to_i128()))
                    .collect::<PrimitiveArray<Decimal128Type>>()
                    .with_precision_and_scale(p, s)?,
            ),
            DataType::Decimal256(p, s) => Arc::new(
                out.into_iter()
                    .collect::<PrimitiveArray<Decimal256Type>>()
                    .with_precision_and_scale(p, s)?,
            ),
            other => return exec_err!("not a decimal: {other}"),
        };
        Ok(ColumnarValue::Array(array))
    }
}

#[cfg(test)]
mod tests {
    use super::quotient_type;
    use crate::functions::row::testing::eval;
    use datafusion::arrow::datatypes::DataType;

    #[test]
    fn digits_count_up() {
        let mut d = b"129".to_vec();
        assert!(!super::increment_digits(&mut d));
        assert_eq!(d, b"130");
        let mut d = b"99".to_vec();
        assert!(super::increment_digits(&mut d));
        assert_eq!(d, b"100");
    }

    #[test]
    fn quotients_as_ksqldb_types_them() {
        assert_eq!(
            quotient_type(&DataType::Decimal128(3, 2), &DataType::Decimal128(10, 0)).unwrap(),
            DataType::Decimal128(14, 13)
        );
        assert_eq!(
            quotient_type(&DataType::Decimal128(4, 2), &DataType::Decimal128(2, 1)).unwrap(),
            DataType::Decimal128(9, 6)
        );
        assert_eq!(eval("1.00 / 4").unwrap(), "0.2500000000000");
        assert_eq!(eval("2.00 / 3").unwrap(), "0.6666666666667");
        assert_eq!(eval("-2.00 / 3").unwrap(), "-0.6666666666667");
        assert_eq!(eval("2.00 / -3").unwrap(), "-0.6666666666667");
        assert_eq!(eval("10.5 / 0.5").unwrap(), "21.000000");
        assert_eq!(eval("CAST(NULL AS DECIMAL(3, 1)) / 2").unwrap(), "null");
        assert!(eval("1.5 / 0.0").unwrap_err().contains("Division by zero"));
        // DOUBLE division stays DOUBLE.
        assert_eq!(eval("CAST(1 AS DOUBLE) / 4").unwrap(), "0.25");
    }
}
