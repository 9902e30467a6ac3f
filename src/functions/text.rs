//! String functions evaluated value by value, with ksqlDB's (Java's) semantics: LEN, SUBSTRING
//! (1-based; a negative position counts from the end), INSTR, MD5, CHR, INITCAP and the MASK
//! family.

use super::row::{bytes, int, row_function, string, text, Arg};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::ScalarUDF;

pub fn udfs() -> Vec<ScalarUDF> {
    use Arg::*;
    vec![
        row_function(
            "len",
            &[&[Str], &[Bytes]],
            |_| DataType::Int32,
            |a, _| {
                Ok(ScalarValue::Int32(match (text(&a[0]), bytes(&a[0])) {
                    (Some(s), _) => Some(s.chars().count() as i32),
                    (_, Some(b)) => Some(b.len() as i32),
                    _ => None,
                }))
            },
        ),
        row_function(
            "substring",
            &[
                &[Str, Int],
                &[Str, Int, Int],
                &[Bytes, Int],
                &[Bytes, Int, Int],
            ],
            |args| match args.first() {
                Some(DataType::Binary) => DataType::Binary,
                _ => DataType::Utf8,
            },
            |a, ret| {
                let pos = int(&a[1]);
                let len = a.get(2).map(int);
                if pos.is_none() || len == Some(None) {
                    return ScalarValue::try_from(ret);
                }
                let (pos, len) = (pos.unwrap_or(1), len.flatten());
                if let Some(s) = text(&a[0]) {
                    let chars: Vec<char> = s.chars().collect();
                    let (from, to) = span(chars.len(), pos, len);
                    return Ok(string(Some(chars[from..to].iter().collect())));
                }
                if let Some(b) = bytes(&a[0]) {
                    let (from, to) = span(b.len(), pos, len);
                    return Ok(ScalarValue::Binary(Some(b[from..to].to_vec())));
                }
                ScalarValue::try_from(ret)
            },
        ),
        row_function(
            "instr",
            &[&[Str, Str], &[Str, Str, Int], &[Str, Str, Int, Int]],
            |_| DataType::Int32,
            |a, _| {
                let (Some(s), Some(sub)) = (text(&a[0]), text(&a[1])) else {
                    return Ok(ScalarValue::Int32(None));
                };
                let position = a.get(1 + 1).map(int).unwrap_or(Some(1));
                let occurrence = a.get(3).map(int).unwrap_or(Some(1));
                let (Some(position), Some(occurrence)) = (position, occurrence) else {
                    return Ok(ScalarValue::Int32(None));
                };
                Ok(ScalarValue::Int32(Some(instr(
                    s, sub, position, occurrence,
                ))))
            },
        ),
        row_function(
            "md5",
            &[&[Str]],
            |_| DataType::Utf8,
            |a, _| {
                use md5::Digest;
                Ok(string(text(&a[0]).map(|s| {
                    md5::Md5::digest(s.as_bytes())
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect()
                })))
            },
        ),
        row_function(
            "chr",
            &[&[Int], &[Str]],
            |_| DataType::Utf8,
            |a, _| {
                let code = match (int(&a[0]), text(&a[0])) {
                    (Some(c), _) => Some(c),
                    // `'\u0041'`, or a surrogate pair `'\ud820\udeb8'`
                    (_, Some(s)) => return Ok(string(unescape_utf16(s))),
                    _ => None,
                };
                Ok(string(
                    code.and_then(|c| u32::try_from(c).ok())
                        .and_then(char::from_u32)
                        .map(String::from),
                ))
            },
        ),
        // What `TRIM(s)` becomes: Java's `String.trim`, which strips every character up to
        // U+0020 (tabs and line breaks too) from both ends.
        row_function(
            "ksql_trim",
            &[&[Str]],
            |_| DataType::Utf8,
            |a, _| {
                let trimmed = text(&a[0]).map(|s| s.trim_matches(|c: char| c <= ' ').to_string());
                Ok(string(trimmed))
            },
        ),
        // `x LIKE p ESCAPE '!'` with `p` a column: the pattern rewritten to backslash escapes.
        row_function(
            "like_escape",
            &[&[Str, Str]],
            |_| DataType::Utf8,
            |a, _| {
                let (Some(p), Some(c)) = (text(&a[0]), text(&a[1]).and_then(|c| c.chars().next()))
                else {
                    return Ok(string(None));
                };
                Ok(string(Some(crate::plan::expr::with_backslash_escapes(
                    p, c,
                ))))
            },
        ),
        row_function(
            "initcap",
            &[&[Str]],
            |_| DataType::Utf8,
            |a, _| Ok(string(text(&a[0]).map(initcap))),
        ),
        mask("mask", Side::All),
        mask("mask_left", Side::Left),
        mask("mask_right", Side::Right),
        mask("mask_keep_left", Side::KeepLeft),
        mask("mask_keep_right", Side::KeepRight),
    ]
}

/// Java's substring bounds for ksqlDB's 1-based `pos` (negative: from the end) and `len`.
fn span(n: usize, pos: i64, len: Option<i64>) -> (usize, usize) {
    let n = n as i64;
    let start = if pos >= 0 {
        (pos - 1).max(0).min(n)
    } else {
        (n + pos).max(0)
    };
    let end = match len {
        None => n,
        Some(l) => start.max(n.min(start.saturating_add(l))),
    };
    (start as usize, end as usize)
}

/// 1-based index of the `occurrence`th `sub` in `s` searching from `position` (negative:
/// backwards from the end); 0 when there is none.
fn instr(s: &str, sub: &str, position: i64, occurrence: i64) -> i32 {
    let chars: Vec<char> = s.chars().collect();
    let needle: Vec<char> = sub.chars().collect();
    let n = chars.len() as i64;
    if occurrence <= 0 || position == 0 || needle.is_empty() && n == 0 {
        return 0;
    }
    let at = |i: i64| -> bool {
        i >= 0
            && i + needle.len() as i64 <= n
            && chars[i as usize..i as usize + needle.len()] == needle[..]
    };
    let mut left = occurrence;
    if position > 0 {
        let mut i = position - 1;
        while i + needle.len() as i64 <= n {
            if at(i) {
                left -= 1;
                if left == 0 {
                    return (i + 1) as i32;
                }
            }
            i += 1;
        }
    } else {
        let mut i = n + position;
        while i >= 0 {
            if at(i) {
                left -= 1;
                if left == 0 {
                    return (i + 1) as i32;
                }
            }
            i -= 1;
        }
    }
    0
}

fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = c.is_whitespace();
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Side {
    All,
    Left,
    Right,
    KeepLeft,
    KeepRight,
}

/// ksqlDB's masks: upper-case letters become `X`, lower-case `x`, digits `n`, anything else
/// `-` (each replaceable by an argument; a NULL argument keeps that kind of character).
fn mask(name: &'static str, side: Side) -> ScalarUDF {
    use Arg::*;
    let eval = match side {
        Side::All => |a: &[ScalarValue], _: &DataType| masked(a, Side::All),
        Side::Left => |a: &[ScalarValue], _: &DataType| masked(a, Side::Left),
        Side::Right => |a: &[ScalarValue], _: &DataType| masked(a, Side::Right),
        Side::KeepLeft => |a: &[ScalarValue], _: &DataType| masked(a, Side::KeepLeft),
        Side::KeepRight => |a: &[ScalarValue], _: &DataType| masked(a, Side::KeepRight),
    };
    if side == Side::All {
        row_function(
            name,
            &[
                &[Str],
                &[Str, Str],
                &[Str, Str, Str],
                &[Str, Str, Str, Str],
                &[Str, Str, Str, Str, Str],
            ],
            |_| DataType::Utf8,
            eval,
        )
    } else {
        row_function(
            name,
            &[
                &[Str, Int],
                &[Str, Int, Str],
                &[Str, Int, Str, Str],
                &[Str, Int, Str, Str, Str],
                &[Str, Int, Str, Str, Str, Str],
            ],
            |_| DataType::Utf8,
            eval,
        )
    }
}

fn masked(a: &[ScalarValue], side: Side) -> Result<ScalarValue> {
    let Some(s) = text(&a[0]) else {
        return Ok(string(None));
    };
    let (n, first_repl) = if side == Side::All {
        (None, 1)
    } else {
        match int(&a[1]) {
            Some(n) => (Some(n.max(0) as usize), 2),
            None => return Ok(string(None)),
        }
    };
    let repl = |i: usize, default: char| -> Option<char> {
        match a.get(first_repl + i) {
            None => Some(default),
            Some(v) => text(v).and_then(|t| t.chars().next()),
        }
    };
    let (upper, lower, digit, other) = (repl(0, 'X'), repl(1, 'x'), repl(2, 'n'), repl(3, '-'));
    // Counting characters is needed only to mask or keep from the right.
    let len = match side {
        Side::Right | Side::KeepRight => s.chars().count(),
        _ => 0,
    };
    let masked_at = |i: usize| -> bool {
        match (side, n) {
            (Side::All, _) => true,
            (Side::Left, Some(n)) => i < n,
            (Side::Right, Some(n)) => i + n >= len,
            (Side::KeepLeft, Some(n)) => i >= n,
            (Side::KeepRight, Some(n)) => i + n < len,
            _ => false,
        }
    };
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        if !masked_at(i) {
            out.push(c);
            continue;
        }
        let r = if c.is_uppercase() {
            upper
        } else if c.is_lowercase() {
            lower
        } else if c.is_ascii_digit() {
            digit
        } else {
            other
        };
        out.push(r.unwrap_or(c));
    }
    Ok(string(Some(out)))
}

/// CHR of a text code, as ksqlDB's (`StringEscapeUtils.unescapeJava` of a text starting
/// `\u` and at least 6 long): each `\uXXXX` is a UTF-16 unit, so a surrogate pair makes one
/// supplementary character; NULL when the units do not make characters.
fn unescape_utf16(s: &str) -> Option<String> {
    if s.len() < 6 || !s.starts_with("\\u") {
        return None;
    }
    let mut units: Vec<u16> = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(hex) = rest.strip_prefix("\\u") {
            let digits = hex.get(..4)?;
            units.push(u16::from_str_radix(digits, 16).ok()?);
            rest = &hex[4..];
        } else {
            let c = rest.chars().next()?;
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            rest = &rest[c.len_utf8()..];
        }
    }
    String::from_utf16(&units).ok()
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn chr_of_text_codes_reads_utf16_units() {
        use super::unescape_utf16 as u;
        assert_eq!(u("\\u004b").as_deref(), Some("K"));
        assert_eq!(u("\\u597d").as_deref(), Some("\u{597d}"));
        assert_eq!(u("\\ud820\\udeb8").as_deref(), Some("\u{182b8}"));
        assert_eq!(u("\\ud820"), None, "a lone surrogate is no character");
        assert_eq!(u("004b"), None);
        assert_eq!(u("\\u00"), None);
        assert_eq!(u("\\u00zz"), None);
    }

    #[test]
    fn lengths_of_strings_and_bytes() {
        assert_eq!(eval("LEN('ABC')").unwrap(), "3");
        assert_eq!(eval("LEN('héllo')").unwrap(), "5");
        assert_eq!(eval("LEN('')").unwrap(), "0");
        assert_eq!(eval("LEN(CAST(NULL AS STRING))").unwrap(), "null");
        assert_eq!(eval("LEN(TO_BYTES('abc', 'utf8'))").unwrap(), "3");
    }

    #[test]
    fn substrings_are_one_based_and_count_back_from_negative_positions() {
        let s = |args: &str| eval(&format!("SUBSTRING({args})")).unwrap();
        assert_eq!(s("'hello', 2"), r#""ello""#);
        assert_eq!(s("'hello', 2, 3"), r#""ell""#);
        assert_eq!(s("'hello', 0, 2"), r#""he""#);
        assert_eq!(s("'hello', -3"), r#""llo""#);
        assert_eq!(s("'hello', -3, 2"), r#""ll""#);
        assert_eq!(s("'hello', 10"), r#""""#);
        assert_eq!(s("'hello', 2, -1"), r#""""#);
        assert_eq!(s("'hello', -10, 2"), r#""he""#);
        assert_eq!(s("NULL, 1"), "null");
        assert_eq!(s("'hello', NULL"), "null");
        assert_eq!(s("'hello', 1, NULL"), "null");
    }

    #[test]
    fn instr_finds_occurrences_either_way() {
        assert_eq!(eval("INSTR('CORPORATE FLOOR', 'OR')").unwrap(), "2");
        assert_eq!(eval("INSTR('CORPORATE FLOOR', 'OR', 3)").unwrap(), "5");
        assert_eq!(eval("INSTR('CORPORATE FLOOR', 'OR', 3, 2)").unwrap(), "14");
        assert_eq!(eval("INSTR('CORPORATE FLOOR', 'OR', -3, 2)").unwrap(), "2");
        assert_eq!(eval("INSTR('CORPORATE FLOOR', 'MOM')").unwrap(), "0");
        assert_eq!(eval("INSTR(NULL, 'OR')").unwrap(), "null");
    }

    #[test]
    fn like_escapes_known_at_run_time() {
        assert_eq!(
            eval("CONCAT('%', 'x') LIKE CONCAT('!', '%x') ESCAPE '!'").unwrap(),
            "true"
        );
        assert_eq!(
            eval("CONCAT('a', 'x') LIKE CONCAT('!', '%x') ESCAPE '!'").unwrap(),
            "false"
        );
        assert_eq!(
            eval("CONCAT('a', 'b') LIKE CONCAT('a', NULL) ESCAPE '!'").unwrap(),
            "false"
        );
    }

    #[test]
    fn hashes_characters_and_capitals() {
        assert_eq!(
            eval("MD5('r1')").unwrap(),
            r#""7c92cf1eee8d99cc85f8355a3d6e4b86""#
        );
        assert_eq!(eval("MD5(NULL)").unwrap(), "null");
        assert_eq!(eval("CHR(75)").unwrap(), r#""K""#);
        assert_eq!(eval("CHR('\\u004b')").unwrap(), r#""K""#);
        assert_eq!(eval("CHR(-1)").unwrap(), "null");
        assert_eq!(
            eval("INITCAP('the FIRST  word')").unwrap(),
            r#""The First  Word""#
        );
        assert_eq!(eval("INITCAP(NULL)").unwrap(), "null");
    }

    #[test]
    fn masks_characters_by_kind() {
        assert_eq!(eval("MASK('AbCd#$123xy Z')").unwrap(), r#""XxXx--nnnxx-X""#);
        assert_eq!(
            eval("MASK('AbCd#$123xy Z', 'Q', 'q', '9', '@')").unwrap(),
            r#""QqQq@@999qq@Q""#
        );
        assert_eq!(eval("MASK('Ab1', NULL)").unwrap(), r#""Axn""#);
        assert_eq!(
            eval("MASK_LEFT('AbCd#$123xy Z', 5)").unwrap(),
            r#""XxXx-$123xy Z""#
        );
        assert_eq!(
            eval("MASK_RIGHT('AbCd#$123xy Z', 5)").unwrap(),
            r#""AbCd#$12nxx-X""#
        );
        assert_eq!(
            eval("MASK_KEEP_LEFT('AbCd#$123xy Z', 5)").unwrap(),
            r#""AbCd#-nnnxx-X""#
        );
        assert_eq!(
            eval("MASK_KEEP_RIGHT('AbCd#$123xy Z', 5)").unwrap(),
            r#""XxXx--nn3xy Z""#
        );
        assert_eq!(eval("MASK(NULL)").unwrap(), "null");
    }
}
