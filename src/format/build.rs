//! Builds Arrow arrays from per-row JSON values, coercing them to the column's SQL type the way
//! ksqlDB's deserializers do. A value that cannot be coerced names its row, so the caller can
//! send that one record to the processing log and keep the rest.

use crate::catalog::types::SqlType;
use base64::Engine;
use datafusion::arrow::array::*;
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{
    ArrowNativeType, ArrowNativeTypeOp, DataType, DecimalType, Field, Fields,
};
use serde_json::Value;
use std::sync::Arc;

/// The row that failed and why.
pub type RowError = (usize, String);

fn cannot(v: &Value, ty: &SqlType) -> String {
    format!(
        "Can't convert type. sourceType: {}, requiredType: {ty}",
        super::json::json_type(v)
    )
}

/// A whole number from JSON: a fraction is dropped toward zero, as Jackson's `longValue()`
/// (ksqlDB's `JsonSerdeUtils`) reads `-1.7` into an INT or BIGINT as -1.
fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.trunc() as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Parses decimal text into an unscaled value at `scale`, rounding half up; `None` if it does
/// not fit `precision` digits.
pub fn parse_decimal<T>(text: &str, precision: u8, scale: i8) -> Option<T::Native>
where
    T: DecimalType,
    T::Native: std::str::FromStr,
{
    let text = text.trim();
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let neg = mantissa.starts_with('-');
    let mantissa = mantissa.trim_start_matches(['-', '+']);
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let digits: String = format!("{int}{frac}");
    // value = digits * 10^(exp - frac.len()); we want value * 10^scale.
    let shift = exp - frac.len() as i32 + scale as i32;
    let ten = T::Native::usize_as(10);
    let mut v: T::Native = digits.parse().ok()?;
    if shift >= 0 {
        v = v.mul_checked(ten.pow_checked(shift as u32).ok()?).ok()?;
    } else {
        // A divisor too large to represent leaves nothing but zero.
        v = match ten.pow_checked((-shift) as u32) {
            Ok(div) => {
                let (q, r) = (v.div_wrapping(div), v.mod_wrapping(div));
                if r.add_wrapping(r) >= div {
                    q.add_wrapping(T::Native::ONE)
                } else {
                    q
                }
            }
            Err(_) => T::Native::ZERO,
        };
    }
    if !T::is_valid_decimal_precision(v, precision) {
        return None;
    }
    Some(if neg { v.neg_wrapping() } else { v })
}

fn prim<T, F>(values: &[&Value], ty: &SqlType, f: F) -> Result<ArrayRef, RowError>
where
    T: datafusion::arrow::datatypes::ArrowPrimitiveType,
    F: Fn(&Value) -> Option<T::Native>,
{
    let mut b = PrimitiveBuilder::<T>::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        match v {
            Value::Null => b.append_null(),
            v => b.append_value(f(v).ok_or_else(|| (i, cannot(v, ty)))?),
        }
    }
    Ok(Arc::new(b.finish().with_data_type(ty.to_arrow())))
}

fn decimals<T>(values: &[&Value], ty: &SqlType, p: u8, s: i8) -> Result<ArrayRef, RowError>
where
    T: DecimalType,
    T::Native: std::str::FromStr,
{
    prim::<T, _>(values, ty, |v| match v {
        Value::Number(n) => parse_decimal::<T>(&n.to_string(), p, s),
        Value::String(x) => parse_decimal::<T>(x, p, s),
        _ => None,
    })
}

/// Builds one column from one JSON value per row (`Value::Null` is SQL NULL).
pub fn build_column(values: &[&Value], ty: &SqlType) -> Result<ArrayRef, RowError> {
    use datafusion::arrow::datatypes as t;
    Ok(match ty {
        SqlType::Boolean => {
            let mut b = BooleanBuilder::with_capacity(values.len());
            for (i, v) in values.iter().enumerate() {
                match v {
                    Value::Null => b.append_null(),
                    Value::Bool(x) => b.append_value(*x),
                    Value::String(s) if s.eq_ignore_ascii_case("true") => b.append_value(true),
                    Value::String(s) if s.eq_ignore_ascii_case("false") => b.append_value(false),
                    v => return Err((i, cannot(v, ty))),
                }
            }
            Arc::new(b.finish())
        }
        SqlType::Int => prim::<t::Int32Type, _>(values, ty, |v| {
            as_i64(v).and_then(|x| i32::try_from(x).ok())
        })?,
        SqlType::Bigint => prim::<t::Int64Type, _>(values, ty, as_i64)?,
        SqlType::Double => prim::<t::Float64Type, _>(values, ty, as_f64)?,
        SqlType::Timestamp => prim::<t::TimestampMillisecondType, _>(values, ty, as_i64)?,
        SqlType::Date => prim::<t::Date32Type, _>(values, ty, |v| {
            as_i64(v).and_then(|x| i32::try_from(x).ok())
        })?,
        SqlType::Time => prim::<t::Time32MillisecondType, _>(values, ty, |v| {
            as_i64(v).and_then(|x| i32::try_from(x).ok())
        })?,
        SqlType::Decimal(p, s) if matches!(ty.to_arrow(), DataType::Decimal256(..)) => {
            decimals::<t::Decimal256Type>(values, ty, *p, *s)?
        }
        SqlType::Decimal(p, s) => decimals::<t::Decimal128Type>(values, ty, *p, *s)?,
        SqlType::String => {
            let mut b = StringBuilder::with_capacity(values.len(), values.len() * 16);
            for v in values {
                match v {
                    Value::Null => b.append_null(),
                    Value::String(s) => b.append_value(s),
                    other => b.append_value(other.to_string()),
                }
            }
            Arc::new(b.finish())
        }
        SqlType::Bytes => {
            let mut b = BinaryBuilder::with_capacity(values.len(), values.len() * 16);
            for (i, v) in values.iter().enumerate() {
                match v {
                    Value::Null => b.append_null(),
                    Value::String(s) => b.append_value(
                        base64::engine::general_purpose::STANDARD
                            .decode(s)
                            .map_err(|e| (i, format!("Invalid base64: {e}")))?,
                    ),
                    v => return Err((i, cannot(v, ty))),
                }
            }
            Arc::new(b.finish())
        }
        SqlType::Array(elem) => {
            let mut offsets = Vec::with_capacity(values.len() + 1);
            offsets.push(0i32);
            let mut flat: Vec<&Value> = Vec::new();
            let mut rows = Vec::with_capacity(values.len());
            for (i, v) in values.iter().enumerate() {
                match v {
                    Value::Null => {}
                    Value::Array(items) => {
                        for _ in items {
                            rows.push(i);
                        }
                        flat.extend(items.iter());
                    }
                    v => return Err((i, cannot(v, ty))),
                }
                offsets.push(flat.len() as i32);
            }
            let child = build_column(&flat, elem).map_err(|(j, m)| (rows[j], m))?;
            let field = Arc::new(Field::new("item", elem.to_arrow(), true));
            Arc::new(ListArray::new(
                field,
                OffsetBuffer::new(offsets.into()),
                child,
                nulls(values),
            ))
        }
        SqlType::Map(kt, vt) => {
            let mut offsets = vec![0i32];
            let (mut keys, mut vals, mut rows) = (Vec::new(), Vec::new(), Vec::new());
            for (i, v) in values.iter().enumerate() {
                match v {
                    Value::Null => {}
                    Value::Object(m) => {
                        for (k, x) in m {
                            keys.push(Value::String(k.clone()));
                            vals.push(x);
                            rows.push(i);
                        }
                    }
                    v => return Err((i, cannot(v, ty))),
                }
                offsets.push(keys.len() as i32);
            }
            let key_refs: Vec<&Value> = keys.iter().collect();
            let k = build_column(&key_refs, kt).map_err(|(j, m)| (rows[j], m))?;
            let v = build_column(&vals, vt).map_err(|(j, m)| (rows[j], m))?;
            let DataType::Map(entries_field, _) = ty.to_arrow() else {
                unreachable!("a map type")
            };
            let DataType::Struct(kv) = entries_field.data_type().clone() else {
                unreachable!("map entries")
            };
            let entries = StructArray::new(kv, vec![k, v], None);
            Arc::new(MapArray::new(
                entries_field,
                OffsetBuffer::new(offsets.into()),
                entries,
                nulls(values),
                false,
            ))
        }
        SqlType::Struct(fields) => {
            let mut children = Vec::with_capacity(fields.len());
            for (name, fty) in fields {
                let col: Vec<&Value> = values
                    .iter()
                    .map(|v| match v {
                        Value::Object(m) => super::json::lookup(m, name).unwrap_or(&Value::Null),
                        _ => &Value::Null,
                    })
                    .collect();
                children.push(build_column(&col, fty)?);
            }
            if let Some(i) = values
                .iter()
                .position(|v| !matches!(v, Value::Null | Value::Object(_)))
            {
                return Err((i, cannot(values[i], ty)));
            }
            let arrow_fields: Fields = fields
                .iter()
                .map(|(n, t)| Field::new(n, t.to_arrow(), true))
                .collect();
            if arrow_fields.is_empty() {
                Arc::new(StructArray::new_empty_fields(values.len(), nulls(values)))
            } else {
                Arc::new(StructArray::new(arrow_fields, children, nulls(values)))
            }
        }
    })
}

fn nulls(values: &[&Value]) -> Option<NullBuffer> {
    let valid: Vec<bool> = values.iter().map(|v| !v.is_null()).collect();
    valid.iter().any(|v| !v).then(|| NullBuffer::from(valid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_with_scale_and_rounding() {
        use datafusion::arrow::datatypes::{i256, Decimal128Type, Decimal256Type};
        let d = parse_decimal::<Decimal128Type>;
        assert_eq!(d("12.3", 4, 2), Some(1230));
        assert_eq!(d("-1.005", 4, 2), Some(-101));
        assert_eq!(d("1e2", 5, 1), Some(1000));
        assert_eq!(d("0.004", 3, 2), Some(0));
        assert_eq!(d("123.4", 3, 1), None);
        assert_eq!(d("abc", 3, 1), None);
        assert_eq!(d("1e-60", 3, 1), Some(0));
        // Wider than 38 digits: 256-bit values.
        let wide = "12345678901234567890.123456789012345678901234567890";
        assert_eq!(
            parse_decimal::<Decimal256Type>(wide, 50, 30).map(|v| v.to_string()),
            Some("12345678901234567890123456789012345678901234567890".into())
        );
        assert_eq!(parse_decimal::<Decimal256Type>(wide, 49, 30), None);
        assert_eq!(
            parse_decimal::<Decimal256Type>("-0.5", 40, 0),
            Some(i256::from_i128(-1))
        );
    }

    #[test]
    fn nested_columns_build_and_bad_rows_are_named() {
        let ty = SqlType::Array(Box::new(SqlType::Struct(vec![("A".into(), SqlType::Int)])));
        let rows: Vec<Value> = vec![
            serde_json::json!([{"a": 1}, {"A": 2}]),
            Value::Null,
            serde_json::json!([]),
        ];
        let refs: Vec<&Value> = rows.iter().collect();
        let arr = build_column(&refs, &ty).unwrap();
        assert_eq!(arr.len(), 3);
        assert!(arr.is_null(1));
        let bad: Vec<Value> = vec![
            serde_json::json!([{"a": 1}]),
            serde_json::json!([{"a": "x"}]),
        ];
        let refs: Vec<&Value> = bad.iter().collect();
        assert_eq!(build_column(&refs, &ty).unwrap_err().0, 1);
    }
}
