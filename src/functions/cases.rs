//! Runs `cases.txt`: every scalar function of ksqlDB's library, called with NULLs and at its
//! edges, against the value ksqlDB gives. Many are DataFusion's own functions serving under
//! ksqlDB's names (ABS, SQRT, the trigonometry, CONCAT, CONCAT_WS, TRIM, UCASE, LCASE, UUID,
//! COALESCE, IFNULL, NULLIF, ARRAY_LENGTH, ARRAY_DISTINCT, ARRAY_MAX, ARRAY_MIN, ARRAY_UNION,
//! ARRAY_INTERSECT, ARRAY_EXCEPT, ARRAY_CONCAT, MAP_KEYS, MAP_VALUES): these cases are what
//! keeps them; where DataFusion's differed, Brooklet has its own.

use super::row::testing::eval;

/// ksqlDB's built-in scalar functions (its docs' function reference).
const KSQLDB_FUNCTIONS: &[&str] = &[
    // math
    "ABS",
    "ACOS",
    "ASIN",
    "ATAN",
    "ATAN2",
    "CBRT",
    "CEIL",
    "COS",
    "COSH",
    "COT",
    "DEGREES",
    "EXP",
    "FLOOR",
    "GREATEST",
    "LEAST",
    "LN",
    "LOG",
    "PI",
    "POWER",
    "RADIANS",
    "RANDOM",
    "ROUND",
    "SIGN",
    "SIN",
    "SINH",
    "SQRT",
    "TAN",
    "TANH",
    "TRUNC",
    "GEO_DISTANCE",
    // strings
    "CHR",
    "CONCAT",
    "CONCAT_WS",
    "ELT",
    "ENCODE",
    "FIELD",
    "FROM_BYTES",
    "INITCAP",
    "INSTR",
    "LCASE",
    "LEN",
    "LPAD",
    "MASK",
    "MASK_KEEP_LEFT",
    "MASK_KEEP_RIGHT",
    "MASK_LEFT",
    "MASK_RIGHT",
    "MD5",
    "REPLACE",
    "RPAD",
    "SPLIT",
    "SPLIT_TO_MAP",
    "SUBSTRING",
    "TO_BYTES",
    "TRIM",
    "UCASE",
    "UUID",
    // regular expressions
    "REGEXP_EXTRACT",
    "REGEXP_EXTRACT_ALL",
    "REGEXP_REPLACE",
    "REGEXP_SPLIT_TO_ARRAY",
    // bytes
    "BIGINT_FROM_BYTES",
    "DOUBLE_FROM_BYTES",
    "INT_FROM_BYTES",
    // nulls
    "COALESCE",
    "IFNULL",
    "NULLIF",
    // dates and times
    "CONVERT_TZ",
    "DATEADD",
    "DATESUB",
    "FORMAT_DATE",
    "FORMAT_TIME",
    "FORMAT_TIMESTAMP",
    "FROM_DAYS",
    "FROM_UNIXTIME",
    "PARSE_DATE",
    "PARSE_TIME",
    "PARSE_TIMESTAMP",
    "TIMEADD",
    "TIMESUB",
    "TIMESTAMPADD",
    "TIMESTAMPSUB",
    "UNIX_DATE",
    "UNIX_TIMESTAMP",
    "DATETOSTRING",
    "STRINGTODATE",
    "STRINGTOTIMESTAMP",
    "TIMESTAMPTOSTRING",
    // JSON
    "EXTRACTJSONFIELD",
    "IS_JSON_STRING",
    "JSON_ARRAY_CONTAINS",
    "JSON_ARRAY_LENGTH",
    "JSON_CONCAT",
    "JSON_ITEMS",
    "JSON_KEYS",
    "JSON_RECORDS",
    "TO_JSON_STRING",
    // arrays
    "ARRAY_CONCAT",
    "ARRAY_CONTAINS",
    "ARRAY_DISTINCT",
    "ARRAY_EXCEPT",
    "ARRAY_INTERSECT",
    "ARRAY_JOIN",
    "ARRAY_LENGTH",
    "ARRAY_MAX",
    "ARRAY_MIN",
    "ARRAY_REMOVE",
    "ARRAY_SORT",
    "ARRAY_UNION",
    "GENERATE_SERIES",
    "SLICE",
    // maps
    "AS_MAP",
    "ENTRIES",
    "MAP_KEYS",
    "MAP_UNION",
    "MAP_VALUES",
    // lambdas
    "TRANSFORM",
    "REDUCE",
    "FILTER",
    // URLs
    "URL_DECODE_PARAM",
    "URL_ENCODE_PARAM",
    "URL_EXTRACT_FRAGMENT",
    "URL_EXTRACT_HOST",
    "URL_EXTRACT_PARAMETER",
    "URL_EXTRACT_PATH",
    "URL_EXTRACT_PORT",
    "URL_EXTRACT_PROTOCOL",
    "URL_EXTRACT_QUERY",
    // special
    "AS_VALUE",
];

/// Functions without arguments, which have no NULL to be called with.
const NO_ARGUMENTS: &[&str] = &["PI", "RANDOM", "UUID"];

struct Case {
    line: usize,
    expr: &'static str,
    expected: &'static str,
}

fn cases() -> Vec<Case> {
    include_str!("cases.txt")
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with("--"))
        .map(|(i, l)| {
            // The last ` => ` separates: lambdas use the arrow too.
            let (expr, expected) = l
                .rsplit_once(" => ")
                .unwrap_or_else(|| panic!("cases.txt:{}: no ` => `", i + 1));
            Case {
                line: i + 1,
                expr,
                expected,
            }
        })
        .collect()
}

/// Whether `expr` calls `name` (not merely a function whose name ends in it).
fn calls(expr: &str, name: &str) -> bool {
    let up = expr.to_uppercase();
    up.match_indices(&format!("{name}(")).any(|(i, _)| {
        !up[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Whether `expr` has a NULL literal (not merely a name such as IFNULL).
fn has_null(expr: &str) -> bool {
    let up = expr.to_uppercase();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    up.match_indices("NULL")
        .any(|(i, _)| !word(up[..i].chars().next_back()) && !word(up[i + 4..].chars().next()))
}

#[test]
fn every_case_gives_ksqldbs_answer() {
    let mut wrong = Vec::new();
    for c in cases() {
        let got = eval(c.expr);
        let ok = match (c.expected.strip_prefix("error: "), &got) {
            (Some(text), Err(e)) => e.contains(text),
            (None, Ok(v)) => v == c.expected,
            _ => false,
        };
        if !ok {
            wrong.push(format!(
                "cases.txt:{}: {} => {:?}, expected {}",
                c.line, c.expr, got, c.expected
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_function_has_cases_with_and_without_nulls() {
    let cases = cases();
    let listed = super::names();
    let mut missing = Vec::new();
    for f in KSQLDB_FUNCTIONS {
        if !listed.iter().any(|n| n == f) {
            missing.push(format!("{f} is not in SHOW FUNCTIONS"));
        }
        let mine: Vec<&Case> = cases.iter().filter(|c| calls(c.expr, f)).collect();
        if !mine.iter().any(|c| !has_null(c.expr)) {
            missing.push(format!("{f} has no case without NULL"));
        }
        let starts = |c: &&&Case| c.expr.to_uppercase().starts_with(&format!("{f}("));
        if !NO_ARGUMENTS.contains(f) && !mine.iter().filter(starts).any(|c| has_null(c.expr)) {
            missing.push(format!("{f} has no case called with NULL"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
