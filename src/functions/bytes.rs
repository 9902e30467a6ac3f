//! BYTES: TO_BYTES / FROM_BYTES between strings and bytes in an encoding (hex, utf8, ascii,
//! base64), and INT_ / BIGINT_ / DOUBLE_FROM_BYTES (big-endian unless told LITTLE_ENDIAN).

use super::row::{bytes, row_function, string, text, Arg};
use base64::Engine as _;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::ScalarUDF;

pub fn udfs() -> Vec<ScalarUDF> {
    use Arg::*;
    vec![
        row_function(
            "to_bytes",
            &[&[Str, Str]],
            |_| DataType::Binary,
            |a, _| {
                let (Some(s), Some(enc)) = (text(&a[0]), text(&a[1])) else {
                    return Ok(ScalarValue::Binary(None));
                };
                Ok(ScalarValue::Binary(Some(encode(s, enc)?)))
            },
        ),
        row_function(
            "from_bytes",
            &[&[Bytes, Str]],
            |_| DataType::Utf8,
            |a, _| {
                let (Some(b), Some(enc)) = (bytes(&a[0]), text(&a[1])) else {
                    return Ok(string(None));
                };
                Ok(string(Some(decode(b, enc)?)))
            },
        ),
        row_function(
            "encode",
            &[&[Str, Str, Str]],
            |_| DataType::Utf8,
            |a, _| {
                let (Some(s), Some(from), Some(to)) = (text(&a[0]), text(&a[1]), text(&a[2]))
                else {
                    return Ok(string(None));
                };
                Ok(string(Some(decode(&encode(s, from)?, to)?)))
            },
        ),
        row_function(
            "int_from_bytes",
            &[&[Bytes], &[Bytes, Str]],
            |_| DataType::Int32,
            |a, _| Ok(ScalarValue::Int32(number::<4>(a)?.map(i32::from_be_bytes))),
        ),
        row_function(
            "bigint_from_bytes",
            &[&[Bytes], &[Bytes, Str]],
            |_| DataType::Int64,
            |a, _| Ok(ScalarValue::Int64(number::<8>(a)?.map(i64::from_be_bytes))),
        ),
        row_function(
            "double_from_bytes",
            &[&[Bytes], &[Bytes, Str]],
            |_| DataType::Float64,
            |a, _| {
                Ok(ScalarValue::Float64(
                    number::<8>(a)?.map(f64::from_be_bytes),
                ))
            },
        ),
    ]
}

/// The bytes of a number, in big-endian order; `N` bytes exactly.
fn number<const N: usize>(a: &[ScalarValue]) -> Result<Option<[u8; N]>> {
    let Some(b) = bytes(&a[0]) else {
        return Ok(None);
    };
    let little = match a.get(1).map(text) {
        None => false,
        Some(Some(order)) if order.eq_ignore_ascii_case("BIG_ENDIAN") => false,
        Some(Some(order)) if order.eq_ignore_ascii_case("LITTLE_ENDIAN") => true,
        Some(Some(order)) => {
            return exec_err!("Byte order must be BIG_ENDIAN or LITTLE_ENDIAN, not {order}")
        }
        Some(None) => return Ok(None),
    };
    let Ok(mut fixed) = <[u8; N]>::try_from(b) else {
        return exec_err!(
            "Number of bytes must be equal to {N}, but found {}",
            b.len()
        );
    };
    if little {
        fixed.reverse();
    }
    Ok(Some(fixed))
}

fn encode(s: &str, encoding: &str) -> Result<Vec<u8>> {
    Ok(match encoding.to_ascii_lowercase().as_str() {
        "hex" => {
            if !s.len().is_multiple_of(2) || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
                return exec_err!("'{s}' is not a hex string");
            }
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
                .collect()
        }
        "utf8" => s.as_bytes().to_vec(),
        "ascii" if s.is_ascii() => s.as_bytes().to_vec(),
        "ascii" => return exec_err!("'{s}' is not ASCII"),
        "base64" => match base64::engine::general_purpose::STANDARD.decode(s) {
            Ok(b) => b,
            Err(e) => return exec_err!("'{s}' is not base64: {e}"),
        },
        other => {
            return exec_err!("Supported encodings are: hex, utf8, ascii and base64 (not {other})")
        }
    })
}

fn decode(b: &[u8], encoding: &str) -> Result<String> {
    Ok(match encoding.to_ascii_lowercase().as_str() {
        "hex" => b.iter().map(|x| format!("{x:02X}")).collect(),
        "utf8" => String::from_utf8_lossy(b).into_owned(),
        "ascii" => b
            .iter()
            .map(|&x| if x.is_ascii() { x as char } else { '\u{fffd}' })
            .collect(),
        "base64" => base64::engine::general_purpose::STANDARD.encode(b),
        other => {
            return exec_err!("Supported encodings are: hex, utf8, ascii and base64 (not {other})")
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn strings_to_bytes_and_back() {
        assert_eq!(
            eval("FROM_BYTES(TO_BYTES('1aB2', 'hex'), 'hex')").unwrap(),
            r#""1AB2""#
        );
        assert_eq!(eval("TO_BYTES('!', 'ascii')").unwrap(), r#""IQ==""#);
        assert_eq!(
            eval("FROM_BYTES(TO_BYTES('IQ==', 'base64'), 'utf8')").unwrap(),
            r#""!""#
        );
        assert_eq!(
            eval("FROM_BYTES(TO_BYTES('é', 'utf8'), 'base64')").unwrap(),
            r#""w6k=""#
        );
        assert_eq!(eval("TO_BYTES(NULL, 'hex')").unwrap(), "null");
        assert!(eval("TO_BYTES('xyz', 'hex')").is_err());
        assert!(eval("TO_BYTES('a', 'ebcdic')").is_err());
        assert!(eval("FROM_BYTES('a', 'hex')")
            .unwrap_err()
            .contains("does not accept parameters (STRING, STRING)"));
    }

    #[test]
    fn encodes_between_encodings() {
        assert_eq!(
            eval("ENCODE('hello', 'ascii', 'hex')").unwrap(),
            r#""68656C6C6F""#
        );
        assert_eq!(
            eval("ENCODE('68656C6C6F', 'hex', 'utf8')").unwrap(),
            r#""hello""#
        );
        assert_eq!(
            eval("ENCODE('aGk=', 'base64', 'ascii')").unwrap(),
            r#""hi""#
        );
        assert_eq!(eval("ENCODE(NULL, 'hex', 'utf8')").unwrap(), "null");
        assert!(eval("ENCODE('zz', 'hex', 'utf8')").is_err());
    }

    #[test]
    fn numbers_from_bytes_in_either_order() {
        assert_eq!(
            eval("INT_FROM_BYTES(TO_BYTES('AAAH5Q==', 'base64'))").unwrap(),
            "2021"
        );
        assert_eq!(
            eval("INT_FROM_BYTES(TO_BYTES('5QcAAA==', 'base64'), 'LITTLE_ENDIAN')").unwrap(),
            "2021"
        );
        assert_eq!(
            eval("BIGINT_FROM_BYTES(TO_BYTES('AAAAASoF8gA=', 'base64'))").unwrap(),
            "5000000000"
        );
        assert_eq!(
            eval("DOUBLE_FROM_BYTES(TO_BYTES('QICm/ZvJ9YI=', 'base64'))").unwrap(),
            "532.8738323"
        );
        assert_eq!(eval("INT_FROM_BYTES(NULL)").unwrap(), "null");
        assert!(eval("INT_FROM_BYTES(TO_BYTES('AAE=', 'base64'))").is_err());
    }
}
