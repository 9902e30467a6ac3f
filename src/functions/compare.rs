//! GREATEST and LEAST with ksqlDB's overload resolution in front of DataFusion's: arguments of
//! one type, or numbers that only DOUBLE can hold together; INT with BIGINT (which BIGINT,
//! DECIMAL and DOUBLE could all take) is ambiguous, as are NULLs only; numbers with strings are
//! refused.

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::FieldRef;
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use std::sync::Arc;

pub fn udfs() -> Vec<ScalarUDF> {
    [
        datafusion::functions::core::greatest(),
        datafusion::functions::core::least(),
    ]
    .into_iter()
    .map(|inner| {
        ScalarUDF::from(Resolved {
            inner,
            signature: Signature::user_defined(Volatility::Immutable),
        })
    })
    .collect()
}

#[derive(Debug)]
struct Resolved {
    inner: Arc<ScalarUDF>,
    signature: Signature,
}

impl PartialEq for Resolved {
    fn eq(&self, other: &Self) -> bool {
        self.inner.name() == other.inner.name()
    }
}
impl Eq for Resolved {}
impl std::hash::Hash for Resolved {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.name().hash(state);
    }
}

fn sql_name(t: &DataType) -> String {
    match t {
        DataType::Null => "null".to_string(),
        t => crate::catalog::types::SqlType::from_arrow(t).map_or(t.to_string(), |s| s.to_string()),
    }
}

impl ScalarUDFImpl for Resolved {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.inner.name();
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
            let decimal = typed.iter().any(|t| matches!(t, DataType::Decimal128(..)));
            let integers = typed.iter().all(|t| t.is_integer());
            if double {
                return Ok(vec![DataType::Float64; args.len()]);
            }
            if integers || decimal {
                let decimals_only = typed.iter().all(|t| matches!(t, DataType::Decimal128(..)));
                if !decimals_only {
                    return plan_err!(
                        "Function '{name}' cannot be resolved due to ambiguous method parameters ({}).",
                        listed()
                    );
                }
            }
        }
        self.inner.inner().coerce_types(args)
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        self.inner.return_type(args)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.inner.invoke_with_args(args)
    }
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
