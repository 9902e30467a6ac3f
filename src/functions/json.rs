//! Functions over JSON text: EXTRACTJSONFIELD (a JSONPath subset: `$`, `.name`, `['name']`,
//! `[index]`), JSON_ARRAY_LENGTH, JSON_ITEMS, JSON_KEYS, JSON_RECORDS, IS_JSON_STRING,
//! JSON_CONCAT, TO_JSON_STRING. Text that is not JSON gives NULL.

use super::row::{map_scalar, map_type, row_function, string, string_list, strings, text, Arg};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::ScalarUDF;
use serde_json::Value;

pub fn udfs() -> Vec<ScalarUDF> {
    use Arg::*;
    vec![
        row_function(
            "extractjsonfield",
            &[&[Str, Str]],
            |_| DataType::Utf8,
            |a, _| {
                let (Some(json), Some(path)) = (text(&a[0]), text(&a[1])) else {
                    return Ok(string(None));
                };
                let found = parse(json).and_then(|v| select(&v, path).cloned());
                Ok(string(found.and_then(|v| match v {
                    Value::Null => None,
                    Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                })))
            },
        ),
        row_function(
            "json_array_length",
            &[&[Str]],
            |_| DataType::Int32,
            |a, _| {
                Ok(ScalarValue::Int32(
                    text(&a[0])
                        .and_then(parse)
                        .and_then(|v| v.as_array().map(|a| a.len() as i32)),
                ))
            },
        ),
        row_function(
            "json_items",
            &[&[Str]],
            |_| string_list(),
            |a, _| {
                Ok(strings(text(&a[0]).and_then(parse).and_then(|v| match v {
                    Value::Array(items) => {
                        Some(items.iter().map(|i| Some(i.to_string())).collect())
                    }
                    _ => None,
                })))
            },
        ),
        row_function(
            "json_keys",
            &[&[Str]],
            |_| string_list(),
            |a, _| {
                Ok(strings(text(&a[0]).and_then(parse).and_then(|v| match v {
                    Value::Object(o) => Some(o.keys().map(|k| Some(k.clone())).collect()),
                    _ => None,
                })))
            },
        ),
        row_function(
            "json_records",
            &[&[Str]],
            |_| map_type(DataType::Utf8, DataType::Utf8),
            |a, ret| {
                let Some(Value::Object(o)) = text(&a[0]).and_then(parse) else {
                    return ScalarValue::try_from(ret);
                };
                // A string value is its text; any other value its JSON.
                let entries = o
                    .into_iter()
                    .map(|(k, v)| {
                        let text = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (string(Some(k)), string(Some(text)))
                    })
                    .collect();
                map_scalar(entries, ret)
            },
        ),
        row_function(
            "json_array_contains",
            &[&[Str, Any]],
            |_| DataType::Boolean,
            |a, _| {
                let Some(Value::Array(items)) = text(&a[0]).and_then(parse) else {
                    return Ok(ScalarValue::Boolean(Some(false)));
                };
                let wanted: Value = match &a[1] {
                    v if v.is_null() => Value::Null,
                    ScalarValue::Utf8(Some(s)) => Value::String(s.clone()),
                    ScalarValue::Boolean(Some(b)) => Value::Bool(*b),
                    v => match serde_json::from_str(&v.to_string()) {
                        Ok(n) => n,
                        Err(_) => return Ok(ScalarValue::Boolean(Some(false))),
                    },
                };
                let same = |x: &Value| match (x, &wanted) {
                    (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                    (a, b) => a == b,
                };
                Ok(ScalarValue::Boolean(Some(items.iter().any(same))))
            },
        ),
        row_function(
            "is_json_string",
            &[&[Str]],
            |_| DataType::Boolean,
            |a, _| {
                Ok(ScalarValue::Boolean(Some(
                    text(&a[0]).and_then(parse).is_some(),
                )))
            },
        ),
        row_function(
            "json_concat",
            &[
                &[Str, Str],
                &[Str, Str, Str],
                &[Str, Str, Str, Str],
                &[Str, Str, Str, Str, Str],
            ],
            |_| DataType::Utf8,
            |a, _| {
                let mut parsed = Vec::with_capacity(a.len());
                for v in a {
                    match text(v).and_then(parse) {
                        Some(v) => parsed.push(v),
                        None => return Ok(string(None)),
                    }
                }
                Ok(string(concat(parsed).map(|v| v.to_string())))
            },
        ),
        row_function(
            "to_json_string",
            &[&[Any]],
            |_| DataType::Utf8,
            |a, _| {
                let array = a[0].to_array()?;
                // Dates and times are written as ksqlDB writes them in JSON: as text.
                let textual = temporal_as_text(array.data_type());
                let array = if &textual == array.data_type() {
                    array
                } else {
                    super::cast::cast(&array, &textual)?
                };
                let Some(ty) = crate::catalog::types::SqlType::from_arrow(array.data_type()) else {
                    return Ok(string(None));
                };
                let mut out = Vec::new();
                crate::format::json::write_value(&array, 0, &ty, &mut out)
                    .map_err(|e| datafusion::error::DataFusionError::Execution(format!("{e:?}")))?;
                Ok(string(Some(String::from_utf8_lossy(&out).into_owned())))
            },
        ),
    ]
}

/// `t` with every DATE, TIME and TIMESTAMP in it (nested too) a STRING.
fn temporal_as_text(t: &DataType) -> DataType {
    use datafusion::arrow::datatypes::{Field, Fields};
    use std::sync::Arc;
    match t {
        DataType::Date32 | DataType::Time32(_) | DataType::Timestamp(..) => DataType::Utf8,
        DataType::List(f) => DataType::List(Arc::new(Field::new(
            f.name(),
            temporal_as_text(f.data_type()),
            true,
        ))),
        DataType::Struct(fields) => DataType::Struct(Fields::from(
            fields
                .iter()
                .map(|f| Field::new(f.name(), temporal_as_text(f.data_type()), true))
                .collect::<Vec<_>>(),
        )),
        DataType::Map(entries, sorted) => match entries.data_type() {
            DataType::Struct(kv) => DataType::Map(
                Arc::new(Field::new(
                    entries.name(),
                    DataType::Struct(Fields::from(vec![
                        Field::new(kv[0].name(), temporal_as_text(kv[0].data_type()), false),
                        Field::new(kv[1].name(), temporal_as_text(kv[1].data_type()), true),
                    ])),
                    false,
                )),
                *sorted,
            ),
            _ => t.clone(),
        },
        _ => t.clone(),
    }
}

/// The JSON value the text starts with (what follows it is ignored, as Jackson does).
fn parse(text: &str) -> Option<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .next()?
        .ok()
}

/// JSON_CONCAT: objects merge (later keys win), arrays append; anything else is wrapped in an
/// array and appended.
fn concat(values: Vec<Value>) -> Option<Value> {
    if values.iter().all(Value::is_object) {
        let mut out = serde_json::Map::new();
        for v in values {
            if let Value::Object(o) = v {
                out.extend(o);
            }
        }
        return Some(Value::Object(out));
    }
    let mut out = Vec::new();
    for v in values {
        match v {
            Value::Array(items) => out.extend(items),
            other => out.push(other),
        }
    }
    Some(Value::Array(out))
}

/// The value at a JSONPath (`$.a.b[0]`, `$['a']`); `None` when there is none.
fn select<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut at = root;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            at = at.get(&r[..end])?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inside = r[..end].trim();
            at = match inside.strip_prefix(['\'', '"']) {
                Some(quoted) => at.get(quoted.trim_end_matches(['\'', '"']))?,
                None => at.get(inside.parse::<usize>().ok()?)?,
            };
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn extracts_fields_by_path() {
        let j = r#"'{"name": "cdc", "n": 1.23450, "a": [1, {"x": "y"}], "@type": "T", "z": null}'"#;
        let f = |path: &str| eval(&format!("EXTRACTJSONFIELD({j}, '{path}')")).unwrap();
        assert_eq!(f("$.name"), r#""cdc""#);
        assert_eq!(f("$.n"), r#""1.23450""#);
        assert_eq!(f("$.@type"), r#""T""#);
        assert_eq!(f("$.a[0]"), r#""1""#);
        assert_eq!(f("$.a[1].x"), r#""y""#);
        assert_eq!(f("$[''a''][1]"), r#""{\"x\":\"y\"}""#);
        assert_eq!(f("$.a[-1]"), "null");
        assert_eq!(f("$.a[5]"), "null");
        assert_eq!(f("$.z"), "null");
        assert_eq!(f("$.missing"), "null");
        assert_eq!(eval("EXTRACTJSONFIELD('not json', '$.a')").unwrap(), "null");
        assert_eq!(eval("EXTRACTJSONFIELD(NULL, '$.a')").unwrap(), "null");
    }

    #[test]
    fn reads_arrays_objects_and_validity() {
        assert_eq!(eval(r#"JSON_ARRAY_LENGTH('[1, [2], 3]')"#).unwrap(), "3");
        assert_eq!(eval(r#"JSON_ARRAY_LENGTH('{}')"#).unwrap(), "null");
        assert_eq!(eval(r#"JSON_ARRAY_LENGTH(NULL)"#).unwrap(), "null");
        assert_eq!(
            eval(r#"JSON_ITEMS('[{"a": 1}, "x"]')"#).unwrap(),
            r#"["{\"a\":1}","\"x\""]"#
        );
        assert_eq!(eval(r#"JSON_ITEMS('[]')"#).unwrap(), "[]");
        assert_eq!(
            eval(r#"JSON_KEYS('{"b": 1, "a": 2}')"#).unwrap(),
            r#"["b","a"]"#
        );
        assert_eq!(eval(r#"JSON_KEYS('[1]')"#).unwrap(), "null");
        assert_eq!(
            eval(r#"JSON_RECORDS('{"a": 1, "b": "x"}')"#).unwrap(),
            r#"{"a":"1","b":"x"}"#
        );
        assert_eq!(
            eval(r#"JSON_ARRAY_CONTAINS('[1, "a", null]', 1)"#).unwrap(),
            "true"
        );
        assert_eq!(
            eval(r#"JSON_ARRAY_CONTAINS('[1, "a", null]', 'a')"#).unwrap(),
            "true"
        );
        assert_eq!(
            eval(r#"JSON_ARRAY_CONTAINS('[1, "a"]', 2)"#).unwrap(),
            "false"
        );
        assert_eq!(eval(r#"JSON_ARRAY_CONTAINS('nope', 2)"#).unwrap(), "false");
        assert_eq!(eval(r#"IS_JSON_STRING('{"a": 1}')"#).unwrap(), "true");
        assert_eq!(eval(r#"IS_JSON_STRING('{a')"#).unwrap(), "false");
        assert_eq!(eval(r#"IS_JSON_STRING(NULL)"#).unwrap(), "false");
    }

    #[test]
    fn concatenates_and_writes_json() {
        assert_eq!(
            eval(r#"JSON_CONCAT('{"a": 1}', '{"a": 2, "b": 3}')"#).unwrap(),
            r#""{\"a\":2,\"b\":3}""#
        );
        assert_eq!(eval(r#"JSON_CONCAT('[1]', '2')"#).unwrap(), r#""[1,2]""#);
        assert_eq!(eval(r#"JSON_CONCAT('[1]', NULL)"#).unwrap(), "null");
        assert_eq!(eval("TO_JSON_STRING(1.5)").unwrap(), r#""1.5""#);
        assert_eq!(
            eval("TO_JSON_STRING(ARRAY['a', NULL])").unwrap(),
            r#""[\"a\",null]""#
        );
    }
}
