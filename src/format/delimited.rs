//! The DELIMITED format: one line of fields, `,` by default, `"` quoting, an empty field is null.

use crate::catalog::types::SqlType;
use crate::error::Result;
use datafusion::arrow::array::{Array, ArrayRef};
use serde_json::Value;

fn split(line: &str, delim: char) -> Vec<Option<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut in_quotes, mut chars) = (false, false, line.chars().peekable());
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && cur.is_empty() {
            in_quotes = true;
            quoted = true;
        } else if c == delim {
            fields.push(if cur.is_empty() && !quoted {
                None
            } else {
                Some(std::mem::take(&mut cur))
            });
            quoted = false;
        } else {
            cur.push(c);
        }
    }
    fields.push(if cur.is_empty() && !quoted {
        None
    } else {
        Some(cur)
    });
    fields
}

pub fn decode(bytes: &[u8], cols: &[(&str, &SqlType)], delim: char) -> Result<Vec<Value>, String> {
    let line = std::str::from_utf8(bytes)
        .map_err(|e| format!("Failed to deserialize delimited data: {e}"))?;
    let fields = split(line.trim_end_matches(['\r', '\n']), delim);
    if fields.len() != cols.len() {
        return Err(format!(
            "Unexpected field count, csvFields:{} schemaFields:{} line: {line}",
            fields.len(),
            cols.len()
        ));
    }
    Ok(fields
        .into_iter()
        .map(|f| f.map_or(Value::Null, Value::String))
        .collect())
}

/// Apache Commons CSV's MINIMAL quoting, as ksqlDB writes: a record's first value unless it
/// starts with a letter or digit, any value starting with a character up to `#` or ending in
/// whitespace, and values holding the delimiter, a quote or a line break.
fn needs_quotes(text: &str, first: bool, delim: char) -> bool {
    let Some(c) = text.chars().next() else {
        return first;
    };
    (first && !c.is_ascii_alphanumeric())
        || c <= '#'
        || text.contains([delim, '"', '\n', '\r'])
        || text.ends_with(|c: char| c <= ' ')
}

pub fn encode_row(
    arrays: &[(&str, &SqlType, &ArrayRef)],
    row: usize,
    delim: char,
    out: &mut Vec<u8>,
) -> Result<()> {
    for (i, (_, ty, a)) in arrays.iter().enumerate() {
        if i > 0 {
            let mut b = [0u8; 4];
            out.extend_from_slice(delim.encode_utf8(&mut b).as_bytes());
        }
        if a.is_null(row) {
            continue;
        }
        let mut v = Vec::new();
        super::json::write_value(a, row, ty, &mut v)?;
        let text = match ty {
            SqlType::String | SqlType::Bytes => {
                serde_json::from_slice::<String>(&v).unwrap_or_default()
            }
            _ => String::from_utf8_lossy(&v).into_owned(),
        };
        if needs_quotes(&text, i == 0, delim) {
            out.push(b'"');
            out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(text.as_bytes());
        }
    }
    Ok(())
}
