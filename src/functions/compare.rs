//! GREATEST and LEAST with ksqlDB's overload resolution in front of DataFusion's: arguments of
//! one type, or numbers that only DOUBLE can hold together; INT with BIGINT (which BIGINT,
//! DECIMAL and DOUBLE could all take) is ambiguous, as are NULLs only; numbers with strings are
//! refused.

use super::delegate::delegate;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::ScalarUDF;

pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        delegate(
            "greatest",
            datafusion::functions::core::greatest(),
            Some(resolve),
        ),
        delegate("least", datafusion::functions::core::least(), Some(resolve)),
    ]
}

fn sql_name(t: &DataType) -> String {
    match t {
        DataType::Null => "null".to_string(),
        t => crate::catalog::types::SqlType::from_arrow(t).map_or(t.to_string(), |s| s.to_string()),
    }
}

/// ksqlDB's resolution: an error, DOUBLE for all, or `None` (DataFusion coerces).
fn resolve(name: &str, args: &[DataType]) -> Result<Option<Vec<DataType>>> {
    let listed = || args.iter().map(sql_name).collect::<Vec<_>>().join(", ");
    let typed: Vec<&DataType> = args.iter().filter(|t| !t.is_null()).collect();
    if args.is_empty() {
        return plan_err!("Function '{name}' does not accept parameters ().");
    }
    if typed.is_empty() {
        return plan_err!(
            "Function '{name}' cannot be resolved due to ambiguous method parameters ({}).",
            listed()
        );
    }
    let numeric = typed.iter().filter(|t| t.is_numeric()).count();
    if numeric > 0 && numeric < typed.len() {
        // A string literal may stand for a date or time, not for a number.
        return plan_err!(
            "Function '{name}' does not accept parameters ({}).",
            listed()
        );
    }
    if numeric > 0 && !typed.windows(2).all(|w| w[0] == w[1]) {
        let double = typed
            .iter()
            .any(|t| matches!(t, DataType::Float32 | DataType::Float64));
        let decimal = typed.iter().any(|t| t.is_decimal());
        let integers = typed.iter().all(|t| t.is_integer());
        if double {
            return Ok(Some(vec![DataType::Float64; args.len()]));
        }
        if integers || decimal {
            let decimals_only = typed.iter().all(|t| t.is_decimal());
            if !decimals_only {
                return plan_err!(
                    "Function '{name}' cannot be resolved due to ambiguous method parameters ({}).",
                    listed()
                );
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn resolves_as_ksqldb() {
        assert_eq!(eval("LEAST(3, 1, NULL, 2)").unwrap(), "1");
        assert_eq!(eval("GREATEST('a', 'c', 'b')").unwrap(), r#""c""#);
        assert_eq!(eval("LEAST(1, CAST(2 AS DOUBLE))").unwrap(), "1.0");
        assert_eq!(eval("LEAST(1.25, 0.5)").unwrap(), "0.50");
        let err = |sql: &str| eval(sql).unwrap_err();
        assert!(err("LEAST(1, CAST(2 AS BIGINT))")
            .contains("ambiguous method parameters (INTEGER, BIGINT)"));
        assert!(err("LEAST(NULL, NULL)").contains("ambiguous method parameters (null, null)"));
        assert!(err("GREATEST('a', 1)").contains("does not accept parameters (STRING, INTEGER)"));
    }
}
