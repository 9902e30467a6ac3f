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
                Ok(string(Some(recode(s, from, to)?)))
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

/// ENCODE: text in one encoding to text in another, as ksqlDB's ENCODE does it (apart from
/// TO_BYTES and FROM_BYTES): lower-case hex that may start with `0x` or be quoted as `X'..'`,
/// `?` for characters ASCII lacks, base64 read leniently (characters outside its alphabet
/// skipped), and no encoding to itself.
fn recode(s: &str, from: &str, to: &str) -> Result<String> {
    const KNOWN: &[&str] = &["hex", "utf8", "ascii", "base64"];
    let (from, to) = (from.to_ascii_lowercase(), to.to_ascii_lowercase());
    if from == to || !KNOWN.contains(&from.as_str()) || !KNOWN.contains(&to.as_str()) {
        return exec_err!("Supported input and output encodings are: hex, utf8, ascii and base64");
    }
    let bytes: Vec<u8> = match from.as_str() {
        "hex" => hex_digits(hex_strip(s).as_ref())?,
        "ascii" => s
            .chars()
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
            .collect(),
        "base64" => lenient_base64(s),
        _ => s.as_bytes().to_vec(),
    };
    Ok(match to.as_str() {
        "hex" => bytes.iter().map(|x| format!("{x:02x}")).collect(),
        "base64" => base64::engine::general_purpose::STANDARD.encode(&bytes),
        "ascii" => ascii_text(&bytes),
        _ => String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// Hex without its `0x` prefix (a digit short gets a leading zero) or `X'..'` quotes.
fn hex_strip(s: &str) -> std::borrow::Cow<'_, str> {
    if let Some(rest) = s.strip_prefix("0x") {
        if s.len() % 2 == 1 {
            return format!("0{rest}").into();
        }
        return rest.into();
    }
    let quoted = (s.starts_with("x'") || s.starts_with("X'")) && s.len() >= 3 && s.ends_with('\'');
    if quoted {
        return s[2..s.len() - 1].into();
    }
    s.into()
}

fn hex_digits(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return exec_err!("Odd number of characters.");
    }
    if let Some((i, c)) = s.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return exec_err!("Illegal hexadecimal character {c} at index {i}");
    }
    Ok((0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
        .collect())
}

/// Base64 as Commons Codec reads it: URL-safe letters too, other characters skipped, padding
/// optional, a dangling character dropped.
fn lenient_base64(s: &str) -> Vec<u8> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let mut clean: Vec<u8> = s
        .bytes()
        .filter_map(|c| match c {
            b'-' => Some(b'+'),
            b'_' => Some(b'/'),
            c if c.is_ascii_alphanumeric() || c == b'+' || c == b'/' => Some(c),
            _ => None,
        })
        .collect();
    clean.truncate(clean.len() - usize::from(clean.len() % 4 == 1));
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    engine.decode(&clean).unwrap_or_default()
}

/// Bytes read as US-ASCII: anything above 127 is the replacement character.
fn ascii_text(b: &[u8]) -> String {
    b.iter()
        .map(|&x| if x.is_ascii() { x as char } else { '\u{fffd}' })
        .collect()
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
        "ascii" => ascii_text(b),
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
        let e = |sql: &str| eval(&format!("ENCODE({sql})")).unwrap();
        assert_eq!(e("'hello', 'ascii', 'hex'"), r#""68656c6c6f""#);
        assert_eq!(e("'68656C6C6F', 'hex', 'utf8'"), r#""hello""#);
        assert_eq!(e("'0x6869', 'hex', 'utf8'"), r#""hi""#);
        assert_eq!(e("'0x869', 'hex', 'base64'"), r#""CGk=""#);
        assert_eq!(e("'X''6869''', 'hex', 'ascii'"), r#""hi""#);
        assert_eq!(e("'aGk=', 'base64', 'ascii'"), r#""hi""#);
        assert_eq!(e("'aG k', 'base64', 'utf8'"), r#""hi""#);
        assert_eq!(e("'é', 'ascii', 'hex'"), r#""3f""#);
        assert_eq!(e("'é', 'utf8', 'ascii'"), "\"\u{fffd}\u{fffd}\"");
        assert_eq!(e("NULL, 'hex', 'utf8'"), "null");
        assert_eq!(e("'a', NULL, 'utf8'"), "null");
        let err = |sql: &str| eval(&format!("ENCODE({sql})")).unwrap_err();
        assert!(err("'zz', 'hex', 'utf8'").contains("Illegal hexadecimal character z at index 0"));
        assert!(err("'abc', 'hex', 'utf8'").contains("Odd number of characters."));
        assert!(err("'a', 'utf8', 'utf8'").contains("Supported input and output encodings"));
        assert!(err("'a', 'utf16', 'hex'").contains("Supported input and output encodings"));
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
