//! Collection functions with ksqlDB's semantics where DataFusion's differ: ARRAY_JOIN (every
//! element, NULL written as `null`, numbers as ksqlDB writes them), ARRAY_SORT (NULLs last
//! either way), MAP_UNION (the second map's entries win).

use super::row::{list_items, list_scalar, map_from_arrays, row_function, string, text, Arg};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, ScalarValue};
use datafusion::logical_expr::ScalarUDF;

pub fn udfs() -> Vec<ScalarUDF> {
    use Arg::*;
    vec![
        row_function(
            "array_sort",
            &[&[Any], &[Any, Str]],
            |a| a[0].clone(),
            |a, ret| {
                let Some(items) = list_items(&a[0]) else {
                    return ScalarValue::try_from(ret);
                };
                let descending = match a.get(1) {
                    None => false,
                    Some(d) => match text(d).map(str::to_ascii_uppercase).as_deref() {
                        Some("ASC") => false,
                        Some("DESC") => true,
                        _ => return ScalarValue::try_from(ret),
                    },
                };
                let options = datafusion::arrow::compute::SortOptions {
                    descending,
                    nulls_first: false,
                };
                let sorted = datafusion::arrow::compute::sort(&items, Some(options))?;
                list_scalar(ret, sorted)
            },
        ),
        row_function(
            "map_union",
            &[&[Any, Any]],
            |a| a[0].clone(),
            |a, ret| {
                let maps: Vec<_> = a
                    .iter()
                    .filter_map(|v| match v {
                        ScalarValue::Map(m) if !m.is_null(0) => Some(m.value(0)),
                        _ => None,
                    })
                    .collect();
                if maps.is_empty() {
                    return ScalarValue::try_from(ret);
                }
                // Every key once, where it first appears; its value from the last map holding it.
                let keys: Vec<ArrayRef> = maps.iter().map(|m| m.column(0).clone()).collect();
                let values: Vec<ArrayRef> = maps.iter().map(|m| m.column(1).clone()).collect();
                let key_refs: Vec<&dyn Array> = keys.iter().map(|k| k.as_ref()).collect();
                let value_refs: Vec<&dyn Array> = values.iter().map(|v| v.as_ref()).collect();
                let all_keys = datafusion::arrow::compute::concat(&key_refs)?;
                let all_values = datafusion::arrow::compute::concat(&value_refs)?;
                let mut order: Vec<ScalarValue> = Vec::new();
                let mut pick: Vec<u32> = Vec::new();
                for i in 0..all_keys.len() {
                    let k = ScalarValue::try_from_array(&all_keys, i)?;
                    match order.iter().position(|o| o == &k) {
                        Some(at) => pick[at] = i as u32,
                        None => {
                            order.push(k);
                            pick.push(i as u32);
                        }
                    }
                }
                let idx = datafusion::arrow::array::UInt32Array::from(pick);
                map_from_arrays(
                    ret,
                    datafusion::arrow::compute::take(&all_keys, &idx, None)?,
                    datafusion::arrow::compute::take(&all_values, &idx, None)?,
                )
            },
        ),
        row_function(
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
                    crate::format::json::write_value(&items, i, &ty, &mut out).map_err(|e| {
                        datafusion::error::DataFusionError::Execution(format!("{e:?}"))
                    })?;
                    parts.push(String::from_utf8_lossy(&out).into_owned());
                }
                Ok(string(Some(parts.join(delimiter))))
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn sorts_with_nulls_last_and_unites_maps() {
        assert_eq!(eval("ARRAY_SORT(ARRAY[3, NULL, 1])").unwrap(), "[1,3,null]");
        assert_eq!(
            eval("ARRAY_SORT(ARRAY[3, NULL, 1], 'desc')").unwrap(),
            "[3,1,null]"
        );
        assert_eq!(eval("ARRAY_SORT(ARRAY['b', 'a'])").unwrap(), r#"["a","b"]"#);
        assert_eq!(
            eval("ARRAY_SORT(CAST(NULL AS ARRAY<INT>))").unwrap(),
            "null"
        );
        assert_eq!(
            eval("MAP_UNION(MAP('foo' := 10, 'bar' := 20), MAP('foo' := 99, 'apple' := -1))")
                .unwrap(),
            r#"{"foo":99,"bar":20,"apple":-1}"#
        );
        assert_eq!(
            eval("MAP_UNION(MAP('a' := 1, 'b' := 2), MAP('b' := 3))").unwrap(),
            r#"{"a":1,"b":3}"#
        );
    }

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
