//! Regular expressions, with Java's semantics where ksqlDB's differ from DataFusion's
//! (REGEXP_REPLACE replaces every match; extraction is by group number).

use super::row::{int, row_function, string, string_list, strings, text, Arg};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::ScalarUDF;
use regex::Regex;
use std::cell::RefCell;

pub fn udfs() -> Vec<ScalarUDF> {
    use Arg::*;
    vec![
        row_function(
            "regexp_extract",
            &[&[Str, Str], &[Str, Str, Int]],
            |_| DataType::Utf8,
            |a, _| {
                let found = matches(a, |re, s, group| {
                    re.captures(s)
                        .map(|c| c.get(group).map(|m| m.as_str().to_string()))
                })?;
                Ok(string(found.flatten().flatten()))
            },
        ),
        row_function(
            "regexp_extract_all",
            &[&[Str, Str], &[Str, Str, Int]],
            |_| string_list(),
            |a, _| {
                let found = matches(a, |re, s, group| {
                    Some(
                        re.captures_iter(s)
                            .map(|c| c.get(group).map(|m| m.as_str().to_string()))
                            .collect::<Vec<_>>(),
                    )
                })?;
                Ok(strings(found.flatten()))
            },
        ),
        row_function(
            "regexp_replace",
            &[&[Str, Str, Str]],
            |_| DataType::Utf8,
            |a, _| {
                let (Some(s), Some(p), Some(with)) = (text(&a[0]), text(&a[1]), text(&a[2])) else {
                    return Ok(string(None));
                };
                // Java's `$1` group references; a literal `$` is `\$`.
                let with = with.replace("\\$", "$$");
                let out = with_compiled(p, |re| re.replace_all(s, with.as_str()).into_owned())?;
                Ok(string(Some(out)))
            },
        ),
        row_function(
            "regexp_split_to_array",
            &[&[Str, Str]],
            |_| string_list(),
            |a, _| {
                let (Some(s), Some(p)) = (text(&a[0]), text(&a[1])) else {
                    return Ok(strings(None));
                };
                let parts =
                    with_compiled(p, |re| re.split(s).map(|p| Some(p.to_string())).collect())?;
                Ok(strings(Some(parts)))
            },
        ),
    ]
}

/// `(pattern, string[, group])`: `f` with the compiled pattern; `None` when an argument is NULL.
fn matches<T>(
    a: &[ScalarValue],
    f: impl Fn(&Regex, &str, usize) -> Option<T>,
) -> Result<Option<Option<T>>> {
    let (Some(p), Some(s)) = (text(&a[0]), text(&a[1])) else {
        return Ok(None);
    };
    let group = match a.get(2) {
        None => 0,
        Some(g) => match int(g) {
            Some(g) if g >= 0 => g as usize,
            Some(g) => return exec_err!("Invalid regex group {g}"),
            None => return Ok(None),
        },
    };
    with_compiled(p, |re| Some(f(re, s, group)))
}

thread_local! {
    /// The last patterns compiled on this thread (queries call with the same few patterns).
    static CACHE: RefCell<Vec<(String, Regex)>> = const { RefCell::new(Vec::new()) };
}

/// `f` over `pattern` compiled. The compiled pattern is lent, not cloned: a clone of a `Regex`
/// gets a fresh matching cache, which made every row rebuild its automaton.
fn with_compiled<T>(pattern: &str, f: impl FnOnce(&Regex) -> T) -> Result<T> {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let at = match c.iter().position(|(p, _)| p == pattern) {
            Some(at) => at,
            None => {
                let re = match Regex::new(pattern) {
                    Ok(re) => re,
                    Err(e) => return exec_err!("Invalid regular expression '{pattern}': {e}"),
                };
                if c.len() >= 16 {
                    c.remove(0);
                }
                c.push((pattern.to_string(), re));
                c.len() - 1
            }
        };
        Ok(f(&c[at].1))
    })
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn extracts_groups_and_all_matches() {
        assert_eq!(
            eval("REGEXP_EXTRACT('test.', 'some_test_string')").unwrap(),
            r#""test_""#
        );
        assert_eq!(eval("REGEXP_EXTRACT('test.', 'nothing')").unwrap(), "null");
        assert_eq!(
            eval("REGEXP_EXTRACT('(.*) (.*)', 'andy coates', 2)").unwrap(),
            r#""coates""#
        );
        assert_eq!(eval("REGEXP_EXTRACT('(.*)', 'x', 5)").unwrap(), "null");
        assert_eq!(eval("REGEXP_EXTRACT(NULL, 'x')").unwrap(), "null");
        assert_eq!(
            eval("REGEXP_EXTRACT_ALL('(\\w+) (\\w*)', 'apurva mehta agavra ', 2)").unwrap(),
            r#"["mehta",""]"#
        );
        assert_eq!(
            eval("REGEXP_EXTRACT_ALL('test.', 'nothing')").unwrap(),
            "[]"
        );
        assert_eq!(
            eval("REGEXP_EXTRACT_ALL('test.', CAST(NULL AS STRING))").unwrap(),
            "null"
        );
        assert!(eval("REGEXP_EXTRACT('(', 'x')").is_err());
    }

    #[test]
    fn replaces_every_match_and_splits() {
        assert_eq!(
            eval("REGEXP_REPLACE('baabbabaa', '(ab)+', 'cat')").unwrap(),
            r#""bacatbcataa""#
        );
        assert_eq!(
            eval("REGEXP_REPLACE('abc', 'b', '[$0]')").unwrap(),
            r#""a[b]c""#
        );
        assert_eq!(eval("REGEXP_REPLACE('abc', NULL, 'x')").unwrap(), "null");
        assert_eq!(
            eval("REGEXP_SPLIT_TO_ARRAY('a1b22c', '[0-9]+')").unwrap(),
            r#"["a","b","c"]"#
        );
        assert_eq!(eval("REGEXP_SPLIT_TO_ARRAY(NULL, 'x')").unwrap(), "null");
    }
}
