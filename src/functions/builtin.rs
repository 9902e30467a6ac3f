//! DataFusion's own functions that serve under ksqlDB's names: each is kept only where its
//! results match ksqlDB's, which this test checks (values, NULLs, edge cases). Where they did
//! not (ROUND, CEIL, FLOOR, LOG, ARRAY_REMOVE, ARRAY_SORT, ARRAY_JOIN, SUBSTRING,
//! REGEXP_REPLACE, GREATEST, LEAST), Brooklet has its own.

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    fn check(cases: &[(&str, &str)]) {
        for (sql, want) in cases {
            assert_eq!(eval(sql).as_deref(), Ok(*want), "{sql}");
        }
    }

    #[test]
    fn math() {
        check(&[
            ("ABS(-3)", "3"),
            ("ABS(-1.5)", "1.5"),
            ("ABS(CAST(NULL AS INT))", "null"),
            ("SQRT(16)", "4.0"),
            ("SQRT(NULL)", "null"),
            ("EXP(0)", "1.0"),
            ("LN(1)", "0.0"),
            ("POWER(2, 3)", "8.0"),
            ("CBRT(27)", "3.0"),
            ("DEGREES(PI())", "180.0"),
            ("RADIANS(180) = PI()", "true"),
            ("SIN(0)", "0.0"),
            ("COS(0)", "1.0"),
            ("TAN(0)", "0.0"),
            ("ASIN(0)", "0.0"),
            ("ACOS(1)", "0.0"),
            ("ATAN(0)", "0.0"),
            ("ATAN2(0, 1)", "0.0"),
            ("SINH(0)", "0.0"),
            ("COSH(0)", "1.0"),
            ("TANH(0)", "0.0"),
            ("COT(NULL)", "null"),
            ("RANDOM() >= 0 AND RANDOM() < 1", "true"),
        ]);
    }

    #[test]
    fn strings_and_nulls() {
        check(&[
            ("CONCAT('a', NULL, 'b')", r#""ab""#),
            ("CONCAT('a', 'b', 'c', 'd')", r#""abcd""#),
            ("CONCAT_WS('-', 'a', NULL, 'b')", r#""a-b""#),
            ("CONCAT_WS(NULL, 'a', 'b')", "null"),
            ("REPLACE('anaconda', 'a', 'o')", r#""onocondo""#),
            ("REPLACE('abc', NULL, 'o')", "null"),
            ("TRIM('  a b  ')", r#""a b""#),
            ("TRIM(NULL)", "null"),
            ("UCASE('aBc')", r#""ABC""#),
            ("LCASE('aBc')", r#""abc""#),
            ("LENGTH(UUID())", "36"),
            ("IFNULL(NULL, 3)", "3"),
            ("IFNULL(1, 3)", "1"),
            ("NULLIF(1, 1)", "null"),
            ("NULLIF(1, 2)", "1"),
            ("COALESCE(NULL, NULL, 2)", "2"),
        ]);
    }

    #[test]
    fn arrays_and_maps() {
        check(&[
            ("ARRAY_LENGTH(ARRAY[1, 2])", "2"),
            ("ARRAY_CONTAINS(ARRAY[1, 2], 2)", "true"),
            ("ARRAY_CONTAINS(ARRAY[1, 2], 5)", "false"),
            ("ARRAY_DISTINCT(ARRAY[1, 1, NULL, NULL, 2])", "[1,null,2]"),
            ("ARRAY_MAX(ARRAY[1, NULL, 3])", "3"),
            ("ARRAY_MIN(ARRAY[1, NULL, 3])", "1"),
            ("ARRAY_UNION(ARRAY[1, 2], ARRAY[2, 3])", "[1,2,3]"),
            ("ARRAY_INTERSECT(ARRAY[1, 2], ARRAY[2, 3])", "[2]"),
            ("ARRAY_EXCEPT(ARRAY[1, 2], ARRAY[2, 3])", "[1]"),
            ("ARRAY_CONCAT(ARRAY[1], ARRAY[2, 3])", "[1,2,3]"),
            ("GENERATE_SERIES(1, 3)", "[1,2,3]"),
            ("GENERATE_SERIES(1, 6, 2)", "[1,3,5]"),
            ("MAP_KEYS(MAP('a' := 1, 'b' := 2))", r#"["a","b"]"#),
            ("MAP_VALUES(MAP('a' := 1, 'b' := 2))", "[1,2]"),
        ]);
    }
}
