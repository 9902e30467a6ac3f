//! The JSON format, written the way ksqlDB writes it (doubles as Java prints them, decimals
//! with their scale, bytes in base64, timestamps as epoch milliseconds).

use crate::catalog::types::SqlType;
use crate::error::{Error, Result};
use base64::Engine;
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::*;
use serde_json::Value;

/// Decodes a JSON record into one value per column; field names match case-insensitively.
pub fn decode(
    bytes: &[u8],
    cols: &[(&str, &SqlType)],
    wrapped: bool,
) -> Result<Vec<Value>, String> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("Failed to deserialize JSON: {e}"))?;
    if !wrapped {
        return Ok(vec![v]);
    }
    match v {
        Value::Object(map) => Ok(cols
            .iter()
            .map(|(name, _)| lookup(&map, name).cloned().unwrap_or(Value::Null))
            .collect()),
        Value::Null => Ok(vec![Value::Null; cols.len()]),
        other => Err(format!(
            "Can't convert type. sourceType: {}, requiredType: STRUCT",
            json_type(&other)
        )),
    }
}

/// A field by exact name, else case-insensitively.
pub fn lookup<'a>(map: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Bool(_) => "BOOLEAN",
        Value::Number(_) => "NUMBER",
        Value::String(_) => "STRING",
        Value::Array(_) => "ARRAY",
        Value::Object(_) => "OBJECT",
    }
}

pub fn encode_row(
    arrays: &[(&str, &SqlType, &ArrayRef)],
    row: usize,
    wrapped: bool,
    out: &mut Vec<u8>,
) -> Result<()> {
    if !wrapped {
        let (_, ty, a) = arrays[0];
        return write_value(a, row, ty, out);
    }
    out.push(b'{');
    for (i, (name, ty, a)) in arrays.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(name, out);
        out.push(b':');
        write_value(a, row, ty, out)?;
    }
    out.push(b'}');
    Ok(())
}

pub fn write_str(s: &str, out: &mut Vec<u8>) {
    // Most strings need no escaping: copy them whole.
    // (A fold without early exit, which the compiler vectorizes.)
    let escapes = s.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !escapes {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    // serde_json's escaping into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_int<I: itoa::Integer>(out: &mut Vec<u8>, v: I) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Java's `Double.toString`: `1.0`, `0.001`, `1.0E7`, `1.234E-5`.
pub fn java_double(d: f64, out: &mut Vec<u8>) {
    use std::io::Write;
    if d.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if d.is_infinite() {
        out.extend_from_slice(if d > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
    } else if d.abs() == f64::from_bits(1) {
        // The least subnormal: Java writes 4.9E-324 where the shortest round trip is 5E-324.
        out.extend_from_slice(if d > 0.0 { b"4.9E-324" } else { b"-4.9E-324" });
    } else if d == 0.0 || (1e-3..1e7).contains(&d.abs()) {
        let at = out.len();
        let _ = write!(out, "{d}");
        if !out[at..].contains(&b'.') {
            out.extend_from_slice(b".0");
        }
    } else {
        // Rust writes `1E20` where Java writes `1.0E20`.
        let at = out.len();
        let _ = write!(out, "{d:E}");
        let e = out[at..]
            .iter()
            .position(|&c| c == b'E')
            .map_or(out.len(), |i| at + i);
        if !out[at..e].contains(&b'.') {
            out.splice(e..e, *b".0");
        }
    }
}

/// Writes an unscaled decimal with its scale: `1230, 2` → `12.30`.
pub fn decimal_text(v: i128, scale: i8) -> String {
    let mut out = Vec::with_capacity(40);
    write_decimal(&mut out, v, scale);
    String::from_utf8(out).unwrap_or_default()
}

/// A decimal's digits with `scale` of them after the point (`0.05`, `-12.300`), as ksqlDB
/// writes it; written in place, without intermediate strings.
pub fn write_decimal(out: &mut Vec<u8>, v: i128, scale: i8) {
    if v < 0 {
        out.push(b'-');
    }
    write_scaled(
        out,
        itoa::Buffer::new().format(v.unsigned_abs()).as_bytes(),
        scale,
    );
}

/// [`write_decimal`] for decimals wider than 38 digits.
pub fn write_decimal256(out: &mut Vec<u8>, v: i256, scale: i8) {
    let text = v.to_string();
    let digits = text.strip_prefix('-').map_or(text.as_str(), |d| {
        out.push(b'-');
        d
    });
    write_scaled(out, digits.as_bytes(), scale);
}

/// Unsigned digits with the point `scale` places from the right.
fn write_scaled(out: &mut Vec<u8>, digits: &[u8], scale: i8) {
    if scale <= 0 {
        out.extend_from_slice(digits);
        if digits != b"0" {
            out.resize(out.len() + scale.unsigned_abs() as usize, b'0');
        }
        return;
    }
    let s = scale as usize;
    if digits.len() <= s {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + s - digits.len(), b'0');
        out.extend_from_slice(digits);
    } else {
        let (int, frac) = digits.split_at(digits.len() - s);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    }
}

/// A row's columns as the JSON values the JSON format writes (the way the formats with
/// schemas build their records), named.
pub fn row_values(
    arrays: &[(&str, &SqlType, &ArrayRef)],
    row: usize,
) -> Result<Vec<(String, Value)>> {
    let mut text = Vec::new();
    arrays
        .iter()
        .map(|(name, ty, a)| {
            text.clear();
            write_value(a, row, ty, &mut text)?;
            let v = serde_json::from_slice(&text).map_err(|e| Error::generic(e.to_string()))?;
            Ok((name.to_string(), v))
        })
        .collect()
}

pub fn write_value(a: &ArrayRef, row: usize, ty: &SqlType, out: &mut Vec<u8>) -> Result<()> {
    if a.is_null(row) {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    match ty {
        SqlType::Boolean => out.extend_from_slice(if a.as_boolean().value(row) {
            b"true"
        } else {
            b"false"
        }),
        SqlType::Int => {
            write_int(out, a.as_primitive::<Int32Type>().value(row));
        }
        SqlType::Bigint => {
            write_int(out, a.as_primitive::<Int64Type>().value(row));
        }
        SqlType::Double => java_double(a.as_primitive::<Float64Type>().value(row), out),
        SqlType::Decimal(_, s) => match a.data_type() {
            DataType::Decimal256(..) => {
                write_decimal256(out, a.as_primitive::<Decimal256Type>().value(row), *s)
            }
            _ => write_decimal(out, a.as_primitive::<Decimal128Type>().value(row), *s),
        },
        SqlType::String => write_str(a.as_string::<i32>().value(row), out),
        SqlType::Bytes => write_str(
            &base64::engine::general_purpose::STANDARD.encode(a.as_binary::<i32>().value(row)),
            out,
        ),
        SqlType::Timestamp => {
            write_int(out, a.as_primitive::<TimestampMillisecondType>().value(row));
        }
        SqlType::Date => {
            write_int(out, a.as_primitive::<Date32Type>().value(row));
        }
        SqlType::Time => {
            write_int(out, a.as_primitive::<Time32MillisecondType>().value(row));
        }
        SqlType::Array(elem) => {
            let list = a.as_list::<i32>();
            let values = list.value(row);
            out.push(b'[');
            for i in 0..values.len() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(&values, i, elem, out)?;
            }
            out.push(b']');
        }
        SqlType::Map(kt, vt) => {
            let map = a.as_map();
            let entries = map.value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            out.push(b'{');
            for i in 0..entries.len() {
                if i > 0 {
                    out.push(b',');
                }
                let mut key = Vec::new();
                write_value(keys, i, kt, &mut key)?;
                if key.first() == Some(&b'"') {
                    out.extend_from_slice(&key);
                } else {
                    write_str(&String::from_utf8_lossy(&key), out);
                }
                out.push(b':');
                write_value(values, i, vt, out)?;
            }
            out.push(b'}');
        }
        SqlType::Struct(fields) => {
            let s = a.as_struct();
            out.push(b'{');
            for (i, (name, fty)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(name, out);
                out.push(b':');
                let col = s.column(i);
                write_value(col, row, fty, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Checks, once for a batch, that the columns to encode have the Arrow types of their SQL
/// types (a plan that produced another type is a bug; it must not write wrong bytes).
pub fn check_types(arrays: &[(&str, &SqlType, &ArrayRef)]) -> Result<()> {
    for (_, ty, a) in arrays {
        if ty.is_primitive() && a.data_type() != &ty.to_arrow() {
            return Err(Error::generic(format!(
                "internal: column type {} does not match {ty}",
                a.data_type()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_their_scale() {
        let d = |v, s| decimal_text(v, s);
        assert_eq!(d(5, 2), "0.05");
        assert_eq!(d(-5, 2), "-0.05");
        assert_eq!(d(12300, 3), "12.300");
        assert_eq!(d(-123456, 3), "-123.456");
        assert_eq!(d(0, 1), "0.0");
        assert_eq!(d(7, 0), "7");
        assert_eq!(d(7, -2), "700");
        assert_eq!(d(0, -2), "0");
        let wide = |v: &str, s| {
            let mut out = Vec::new();
            write_decimal256(&mut out, v.parse().unwrap(), s);
            String::from_utf8(out).unwrap()
        };
        let digits = "12345678901234567890123456789012345678901234567890";
        assert_eq!(
            wide(digits, 30),
            "12345678901234567890.123456789012345678901234567890"
        );
        assert_eq!(wide(&format!("-{digits}"), 52), format!("-0.00{digits}"));
        assert_eq!(wide("-7", 0), "-7");
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in [
            "plain",
            "",
            "quote\"",
            "back\\slash",
            "tab\t",
            "nl\n",
            "é ü 漢",
            "\u{1}",
            "\u{7f}",
        ] {
            let mut out = Vec::new();
            write_str(s, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    #[test]
    fn doubles_print_like_java() {
        let p = |d: f64| {
            let mut v = Vec::new();
            java_double(d, &mut v);
            String::from_utf8(v).unwrap()
        };
        assert_eq!(p(1.0), "1.0");
        assert_eq!(p(-2.5), "-2.5");
        assert_eq!(p(1e10), "1.0E10");
        assert_eq!(p(1.234e-5), "1.234E-5");
        assert_eq!(p(0.0), "0.0");
        assert_eq!(decimal_text(1230, 2), "12.30");
        assert_eq!(decimal_text(-5, 3), "-0.005");
        assert_eq!(decimal_text(7, 0), "7");
    }
}
