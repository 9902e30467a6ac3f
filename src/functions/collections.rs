//! Collection functions with ksqlDB's semantics where DataFusion's differ: ARRAY_JOIN (every
//! element, NULL written as `null`, numbers as ksqlDB writes them).

use super::row::{row_function, string, text, Arg};
use datafusion::arrow::array::{Array, AsArray};

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, ScalarValue};
use datafusion::logical_expr::ScalarUDF;

pub fn udfs() -> Vec<ScalarUDF> {
    use Arg::*;
    vec![row_function(
        "array_join",
        &[&[Any], &[Any, Str]],
        |_| DataType::Utf8,
        |a, _| {
            let ScalarValue::List(list) = &a[0] else {
                if a[0].is_null() {
                    return Ok(string(None));
                }
                return exec_err!("ARRAY_JOIN needs an ARRAY, not {}", a[0].data_type());
            };
            if list.is_null(0) {
                return Ok(string(None));
            }
            let delimiter = match a.get(1) {
                None => ",",
                Some(d) => text(d).unwrap_or(""),
            };
            let items = list.value(0);
            let Some(ty) = crate::catalog::types::SqlType::from_arrow(items.data_type()) else {
                return exec_err!("ARRAY_JOIN cannot write {}", items.data_type());
            };
            let mut parts = Vec::with_capacity(items.len());
            for i in 0..items.len() {
                if let (false, Some(s)) = (items.is_null(i), items.as_string_opt::<i32>()) {
                    parts.push(s.value(i).to_string());
                    continue;
                }
                let mut out = Vec::new();
                crate::format::json::write_value(&items, i, &ty, &mut out)
                    .map_err(|e| datafusion::error::DataFusionError::Execution(format!("{e:?}")))?;
                parts.push(String::from_utf8_lossy(&out).into_owned());
            }
            Ok(string(Some(parts.join(delimiter))))
        },
    )]
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn joins_every_element() {
        assert_eq!(
            eval("ARRAY_JOIN(ARRAY[true, NULL, false])").unwrap(),
            r#""true,null,false""#
        );
        assert_eq!(
            eval("ARRAY_JOIN(ARRAY[1, 23, -42], '?')").unwrap(),
            r#""1?23?-42""#
        );
        assert_eq!(
            eval("ARRAY_JOIN(ARRAY[CAST(1.5 AS DOUBLE), CAST(0 AS DOUBLE)], ' ')").unwrap(),
            r#""1.5 0.0""#
        );
        assert_eq!(
            eval("ARRAY_JOIN(ARRAY['a', '', 'b'], NULL)").unwrap(),
            r#""ab""#
        );
        assert_eq!(
            eval("ARRAY_JOIN(CAST(NULL AS ARRAY<INT>))").unwrap(),
            "null"
        );
    }
}
