//! Splitting and picking: SPLIT, SPLIT_TO_MAP, AS_MAP, ENTRIES, SLICE (1-based, inclusive),
//! GENERATE_SERIES, ELT and FIELD.

use super::row::{
    bytes, int, list_items, list_scalar, map_scalar, map_type, row_function, string, string_list,
    strings, text, Arg,
};
use datafusion::arrow::array::{Array, ArrayRef, Int32Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::ScalarUDF;
use std::sync::Arc;

use Arg::*;

/// ELT and FIELD take a value and up to this many candidates.
const VARIADIC: &[&[Arg]] = &[
    &[Str],
    &[Str, Str],
    &[Str, Str, Str],
    &[Str, Str, Str, Str],
    &[Str, Str, Str, Str, Str],
    &[Str, Str, Str, Str, Str, Str],
    &[Str, Str, Str, Str, Str, Str, Str],
    &[Str, Str, Str, Str, Str, Str, Str, Str],
    &[Str, Str, Str, Str, Str, Str, Str, Str, Str],
    &[Str, Str, Str, Str, Str, Str, Str, Str, Str, Str],
];

const ELT_FORMS: &[&[Arg]] = &[
    &[Int],
    &[Int, Str],
    &[Int, Str, Str],
    &[Int, Str, Str, Str],
    &[Int, Str, Str, Str, Str],
    &[Int, Str, Str, Str, Str, Str],
    &[Int, Str, Str, Str, Str, Str, Str],
    &[Int, Str, Str, Str, Str, Str, Str, Str],
    &[Int, Str, Str, Str, Str, Str, Str, Str, Str],
];

/// GENERATE_SERIES refuses to build arrays longer than this (ksqlDB would run out of memory).
const MAX_SERIES: i128 = 10_000_000;

/// `start`, `start + step`, ... up to `end` inclusive, with ksqlDB's checks.
fn series(start: i64, end: i64, step: i64) -> Result<impl Iterator<Item = i64>> {
    if step == 0 {
        return exec_err!("GENERATE_SERIES step cannot be zero");
    }
    let diff = i128::from(end) - i128::from(start);
    if diff > 0 && step < 0 || diff < 0 && step > 0 {
        return exec_err!("GENERATE_SERIES step has wrong sign");
    }
    let size = 1 + diff / i128::from(step);
    if size > MAX_SERIES {
        return exec_err!(
            "GENERATE_SERIES would make {size} values; at most {MAX_SERIES} are allowed"
        );
    }
    Ok((0..size as i64).map(move |i| start + i * step))
}

/// `ARRAY<BYTES>`.
fn bytes_list_type() -> DataType {
    DataType::List(std::sync::Arc::new(
        datafusion::arrow::datatypes::Field::new("item", DataType::Binary, true),
    ))
}

/// SPLIT of BYTES, as of strings: the parts between delimiters, empty ones kept; an empty
/// delimiter splits every byte (and the empty value into one empty part); NULL when either
/// is NULL.
fn split_bytes(b: Option<&[u8]>, d: Option<&[u8]>) -> Result<ScalarValue> {
    let (Some(b), Some(d)) = (b, d) else {
        return ScalarValue::try_from(&bytes_list_type());
    };
    let parts: Vec<&[u8]> = if d.is_empty() && b.is_empty() {
        vec![b]
    } else if d.is_empty() {
        b.chunks(1).collect()
    } else {
        let mut parts = Vec::new();
        let mut rest = b;
        while let Some(at) = rest.windows(d.len()).position(|w| w == d) {
            parts.push(&rest[..at]);
            rest = &rest[at + d.len()..];
        }
        parts.push(rest);
        parts
    };
    let values: Vec<ScalarValue> = parts
        .into_iter()
        .map(|p| ScalarValue::Binary(Some(p.to_vec())))
        .collect();
    Ok(ScalarValue::List(ScalarValue::new_list_nullable(
        &values,
        &DataType::Binary,
    )))
}

/// A map of a list of keys and a list of values, pairwise; a NULL key is left out and a
/// repeated one keeps its last value.
fn map_of_lists(a: &[ScalarValue], ret: &DataType) -> Result<ScalarValue> {
    let (ScalarValue::List(keys), ScalarValue::List(values)) = (&a[0], &a[1]) else {
        return ScalarValue::try_from(ret);
    };
    if keys.is_null(0) || values.is_null(0) {
        return ScalarValue::try_from(ret);
    }
    let (keys, values) = (keys.value(0), values.value(0));
    let mut entries: Vec<(ScalarValue, ScalarValue)> = Vec::new();
    for i in 0..keys.len().min(values.len()) {
        let k = ScalarValue::try_from_array(&keys, i)?;
        if k.is_null() {
            continue;
        }
        entries.retain(|(old, _)| old != &k);
        entries.push((k, ScalarValue::try_from_array(&values, i)?));
    }
    map_scalar(entries, ret)
}

pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        row_function(
            "split",
            &[&[Str, Str], &[Bytes, Bytes]],
            |a| match a.first() {
                Some(DataType::Binary | DataType::LargeBinary | DataType::BinaryView) => {
                    bytes_list_type()
                }
                _ => string_list(),
            },
            |a, ret| {
                if *ret == bytes_list_type() {
                    return split_bytes(bytes(&a[0]), bytes(&a[1]));
                }
                let (Some(s), Some(d)) = (text(&a[0]), text(&a[1])) else {
                    return Ok(strings(None));
                };
                // As Java's `split("")`: every character, and `""` of the empty string.
                Ok(strings(Some(if d.is_empty() && s.is_empty() {
                    vec![Some(String::new())]
                } else if d.is_empty() {
                    s.chars().map(|c| Some(c.to_string())).collect()
                } else {
                    s.split(d).map(|p| Some(p.to_string())).collect()
                })))
            },
        ),
        row_function(
            "split_to_map",
            &[&[Str, Str, Str]],
            |_| map_type(DataType::Utf8, DataType::Utf8),
            |a, ret| {
                let (Some(s), Some(entry), Some(kv)) = (text(&a[0]), text(&a[1]), text(&a[2]))
                else {
                    return ScalarValue::try_from(ret);
                };
                if entry.is_empty() || kv.is_empty() || entry == kv {
                    return ScalarValue::try_from(ret);
                }
                let mut entries: Vec<(ScalarValue, ScalarValue)> = Vec::new();
                for e in s.split(entry).filter(|e| !e.is_empty()) {
                    // The text before the first delimiter, and the text up to the next one
                    // (`a:b:c` is a => b).
                    let mut parts = e.split(kv);
                    if let (Some(k), Some(v)) = (parts.next(), parts.next()) {
                        let k = string(Some(k.to_string()));
                        entries.retain(|(old, _)| old != &k);
                        entries.push((k, string(Some(v.to_string()))));
                    }
                }
                map_scalar(entries, ret)
            },
        ),
        row_function(
            "as_map",
            &[&[Any, Any]],
            |a| match &a[1] {
                DataType::List(f) => map_type(DataType::Utf8, f.data_type().clone()),
                _ => map_type(DataType::Utf8, DataType::Null),
            },
            map_of_lists,
        ),
        // What `MAP(k := v, ...)` becomes: the keys' list and the values' list, of any types.
        row_function(
            "ksql_map",
            &[&[Any, Any]],
            |a| {
                let item = |t: &DataType| match t {
                    DataType::List(f) => f.data_type().clone(),
                    _ => DataType::Null,
                };
                map_type(item(&a[0]), item(&a[1]))
            },
            map_of_lists,
        ),
        row_function("entries", &[&[Any, Any]], entries_type, |a, ret| {
            let (ScalarValue::Map(map), Some(sorted)) = (&a[0], boolean(&a[1])) else {
                return ScalarValue::try_from(ret);
            };
            if map.is_null(0) {
                return ScalarValue::try_from(ret);
            }
            let kv = map.value(0);
            let mut rows: Vec<(ScalarValue, ScalarValue)> = (0..kv.len())
                .map(|i| {
                    Ok((
                        ScalarValue::try_from_array(kv.column(0), i)?,
                        ScalarValue::try_from_array(kv.column(1), i)?,
                    ))
                })
                .collect::<Result<_>>()?;
            if sorted {
                rows.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap_or(std::cmp::Ordering::Equal));
            }
            let DataType::List(item) = ret else {
                return exec_err!("ENTRIES returns an ARRAY");
            };
            let DataType::Struct(fields) = item.data_type() else {
                return exec_err!("ENTRIES returns an ARRAY of STRUCTs");
            };
            let structs: Vec<ScalarValue> = rows
                .into_iter()
                .map(|(k, v)| {
                    let arrays = vec![k.to_array()?, v.to_array()?];
                    let s = datafusion::arrow::array::StructArray::try_new(
                        fields.clone(),
                        arrays,
                        None,
                    )?;
                    ScalarValue::try_from_array(&s, 0)
                })
                .collect::<Result<_>>()?;
            Ok(ScalarValue::List(ScalarValue::new_list_nullable(
                &structs,
                item.data_type(),
            )))
        }),
        row_function(
            "slice",
            &[&[Any, Int, Int]],
            |a| a[0].clone(),
            |a, ret| {
                let Some(items) = list_items(&a[0]) else {
                    return ScalarValue::try_from(ret);
                };
                let n = items.len() as i64;
                // As Java's subList: 1-based and inclusive, a NULL bound is the array's end,
                // and bounds outside the array give NULL.
                let start = int(&a[1]).map_or(0, |from| from - 1);
                let end = int(&a[2]).unwrap_or(n);
                if start < 0 || end > n || start > end {
                    return ScalarValue::try_from(ret);
                }
                let slice = items.slice(start as usize, (end - start) as usize);
                list_scalar(ret, slice)
            },
        ),
        row_function(
            "generate_series",
            &[
                &[Int, Int],
                &[Int, Int, Int],
                &[Long, Long],
                &[Long, Long, Int],
            ],
            |a| match a[0] {
                DataType::Int32 => DataType::new_list(DataType::Int32, true),
                _ => DataType::new_list(DataType::Int64, true),
            },
            |a, ret| {
                let (Some(start), Some(end)) = (int(&a[0]), int(&a[1])) else {
                    return ScalarValue::try_from(ret);
                };
                let step = match a.get(2).map(int) {
                    None if end > start => 1,
                    None => -1,
                    Some(Some(step)) => step,
                    Some(None) => return ScalarValue::try_from(ret),
                };
                let items = series(start, end, step)?;
                let values: ArrayRef = match ret {
                    DataType::List(f) if f.data_type() == &DataType::Int32 => {
                        Arc::new(Int32Array::from_iter_values(items.map(|v| v as i32)))
                    }
                    _ => Arc::new(Int64Array::from_iter_values(items)),
                };
                list_scalar(ret, values)
            },
        ),
        row_function(
            "elt",
            ELT_FORMS,
            |_| DataType::Utf8,
            |a, _| {
                Ok(string(int(&a[0]).and_then(|n| {
                    (n >= 1)
                        .then(|| a.get(n as usize))
                        .flatten()
                        .and_then(text)
                        .map(str::to_string)
                })))
            },
        ),
        row_function(
            "field",
            VARIADIC,
            |_| DataType::Int32,
            |a, _| {
                let Some(s) = text(&a[0]) else {
                    return Ok(ScalarValue::Int32(Some(0)));
                };
                let at = a[1..].iter().position(|c| text(c) == Some(s));
                Ok(ScalarValue::Int32(Some(at.map_or(0, |i| i as i32 + 1))))
            },
        ),
    ]
}

fn boolean(v: &ScalarValue) -> Option<bool> {
    match v {
        ScalarValue::Boolean(b) => *b,
        _ => None,
    }
}

/// `ARRAY<STRUCT<K, V>>` of a map's entries.
fn entries_type(a: &[DataType]) -> DataType {
    let (k, v) = match &a[0] {
        DataType::Map(f, _) => match f.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                (kv[0].data_type().clone(), kv[1].data_type().clone())
            }
            _ => (DataType::Null, DataType::Null),
        },
        _ => (DataType::Null, DataType::Null),
    };
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(Fields::from(vec![
            Field::new("K", k, true),
            Field::new("V", v, true),
        ])),
        true,
    )))
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn splits_strings_into_arrays_and_maps() {
        assert_eq!(eval("SPLIT('a,b,,c', ',')").unwrap(), r#"["a","b","","c"]"#);
        assert_eq!(eval("SPLIT('abc', '')").unwrap(), r#"["a","b","c"]"#);
        assert_eq!(eval("SPLIT('', '')").unwrap(), r#"[""]"#);
        assert_eq!(eval("SPLIT(NULL, ',')").unwrap(), "null");
        // BYTES split as strings do (base64 in JSON: `a.b.` is YS5iLg==).
        assert_eq!(
            eval("SPLIT(TO_BYTES('a..b.', 'utf8'), TO_BYTES('.', 'utf8'))").unwrap(),
            r#"["YQ==","","Yg==",""]"#
        );
        assert_eq!(
            eval("SPLIT(TO_BYTES('ab', 'utf8'), TO_BYTES('', 'utf8'))").unwrap(),
            r#"["YQ==","Yg=="]"#
        );
        assert_eq!(
            eval("SPLIT_TO_MAP('a=1;b=2;a=3', ';', '=')").unwrap(),
            r#"{"b":"2","a":"3"}"#
        );
        assert_eq!(eval("SPLIT_TO_MAP('a=1', '', '=')").unwrap(), "null");
    }

    #[test]
    fn maps_from_arrays_and_entries_back() {
        assert_eq!(
            eval("AS_MAP(ARRAY['a', 'b'], ARRAY[1, 2])").unwrap(),
            r#"{"a":1,"b":2}"#
        );
        assert_eq!(
            eval("ENTRIES(MAP('b' := 2, 'a' := 1), true)").unwrap(),
            r#"[{"K":"a","V":1},{"K":"b","V":2}]"#
        );
        assert_eq!(
            eval("ENTRIES(MAP('b' := 2, 'a' := 1), false)").unwrap(),
            r#"[{"K":"b","V":2},{"K":"a","V":1}]"#
        );
    }

    #[test]
    fn slices_and_picks() {
        assert_eq!(eval("SLICE(ARRAY[1, 2, 3, 4], 2, 3)").unwrap(), "[2,3]");
        // Java's subList: bounds outside the array are NULL, an empty range is empty.
        assert_eq!(eval("SLICE(ARRAY[1, 2, 3, 4], 0, 2)").unwrap(), "null");
        assert_eq!(eval("SLICE(ARRAY[1, 2, 3, 4], 2, 10)").unwrap(), "null");
        assert_eq!(eval("SLICE(ARRAY[1, 2], 3, 1)").unwrap(), "null");
        assert_eq!(eval("SLICE(ARRAY[1, 2], 3, 2)").unwrap(), "[]");
        assert_eq!(eval("SLICE(ARRAY[1, 2], NULL, 1)").unwrap(), "[1]");
        assert_eq!(eval("SLICE(ARRAY[1, 2, 3], 2, NULL)").unwrap(), "[2,3]");
        assert_eq!(eval("ELT(2, 'a', 'b', 'c')").unwrap(), r#""b""#);
        let series = |args: &str| eval(&format!("GENERATE_SERIES({args})"));
        assert_eq!(series("1, 3").unwrap(), "[1,2,3]");
        assert_eq!(series("3, 1").unwrap(), "[3,2,1]");
        assert_eq!(series("2, 2").unwrap(), "[2]");
        assert_eq!(series("1, 6, 2").unwrap(), "[1,3,5]");
        assert_eq!(series("6, 1, -2").unwrap(), "[6,4,2]");
        assert_eq!(
            series("CAST(5000000000 AS BIGINT), 5000000002").unwrap(),
            "[5000000000,5000000001,5000000002]"
        );
        assert_eq!(series("1, NULL").unwrap(), "null");
        assert!(series("1, 5, -1")
            .unwrap_err()
            .contains("step has wrong sign"));
        assert!(series("1, 5, 0")
            .unwrap_err()
            .contains("step cannot be zero"));
        assert!(series("0, 2000000000")
            .unwrap_err()
            .contains("at most 10000000"));
        assert_eq!(eval("ELT(4, 'a', 'b', 'c')").unwrap(), "null");
        assert_eq!(eval("ELT(0, 'a')").unwrap(), "null");
        assert_eq!(eval("FIELD('b', 'a', 'b', 'c')").unwrap(), "2");
        assert_eq!(eval("FIELD('z', 'a', 'b')").unwrap(), "0");
        assert_eq!(eval("FIELD(NULL, 'a', NULL)").unwrap(), "0");
    }
}
