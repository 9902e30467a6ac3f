//! ksqlDB's test-registry scalar and table functions, which its QTT files call (TEST_UDF,
//! BAD_UDF, WHENCONDITION, WHENRESULT, TOSTRUCT; TEST_UDTF and THROWING_UDTF). They live here, in the QTT runner only, and reach an
//! engine through `EngineConfig::functions`; they behave as their Java classes in
//! `ksqldb-engine`'s tests (`TestUdf`, `BadUdf`, `WhenCondition`, `WhenResult`) and
//! `udf-example.jar`'s `ToStruct`, `TestUdtf` and `ThrowingUdtf`.

use crate::functions::row::{row_function, table_row_function, Arg};
use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::ScalarUDF;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Calls of BAD_UDF on a STRING so far (its Java instance's counter).
static BAD_UDF_CALLS: AtomicUsize = AtomicUsize::new(0);

/// The test registry's scalar functions, for a new engine (BAD_UDF's counter starts again).
pub fn udfs() -> Vec<ScalarUDF> {
    use Arg::*;
    BAD_UDF_CALLS.store(0, Ordering::Relaxed);
    vec![
        row_function(
            "test_udf",
            &[
                &[],
                &[Int, Str],
                &[Long, Str],
                &[Long, Long, Str],
                &[Long],
                &[Long, Long],
                &[Long, Long, Long],
                &[Long, Long, Long, Long],
                &[Long, Long, Long, Long, Long],
                &[Long, Long, Long, Long, Long, Long],
                &[Any],
            ],
            |args| {
                if args.is_empty() {
                    struct_a()
                } else {
                    DataType::Utf8
                }
            },
            test_udf,
        ),
        row_function(
            "bad_udf",
            &[&[Int], &[Str], &[Any]],
            |args| match args.first() {
                Some(DataType::Boolean) => DataType::Int32,
                _ => DataType::Utf8,
            },
            bad_udf,
        ),
        row_function(
            "whencondition",
            &[&[Any, Any]],
            |_| DataType::Boolean,
            |a, _| lazy(a, "When condition in case is not running lazily!"),
        ),
        row_function(
            "whenresult",
            &[&[Int, Any]],
            |_| DataType::Int32,
            |a, _| lazy(a, "Then expression in case is not running lazily!"),
        ),
        row_function(
            "tostruct",
            &[&[Str]],
            |_| struct_a(),
            |a, _| Ok(struct_of(a[0].clone())),
        ),
        table_row_function(
            "test_udtf",
            &[
                &[Int, Long, Double, Any, Str, Any, Any],
                &[Any, Any, Any, Any, Any, Any, Any],
                &[Any],
            ],
            |args| {
                let element = match args {
                    [DataType::Decimal128(..) | DataType::Decimal256(..)] => {
                        DataType::Decimal128(30, 10)
                    }
                    [one] => one.clone(),
                    _ => DataType::Utf8,
                };
                DataType::List(Arc::new(Field::new("item", element, true)))
            },
            test_udtf,
        ),
        table_row_function(
            "throwing_udtf",
            &[&[Any]],
            |_| DataType::List(Arc::new(Field::new("item", DataType::Boolean, true))),
            |a, ret| match &a[0] {
                ScalarValue::Boolean(Some(true)) => exec_err!("You asked me to throw..."),
                v => list_of(std::slice::from_ref(v), ret),
            },
        ),
    ]
}

/// A list value of type `ret` (a LIST type).
fn list_of(items: &[ScalarValue], ret: &DataType) -> Result<ScalarValue> {
    let DataType::List(f) = ret else {
        return exec_err!("a table function returns a list, not {ret}");
    };
    Ok(ScalarValue::List(ScalarValue::new_list(
        items,
        f.data_type(),
        true,
    )))
}

/// `TestUdtf`: seven values (or the first element or value of seven arrays or maps) as
/// Java's `String.valueOf` writes them; or one value as a list of itself (a DECIMAL as
/// DECIMAL(30, 10)). A NULL argument fails, as Java's unboxing does.
fn test_udtf(a: &[ScalarValue], ret: &DataType) -> Result<ScalarValue> {
    if a.iter().any(ScalarValue::is_null) {
        return exec_err!("test_udtf: a NULL argument");
    }
    if let [one] = a {
        let DataType::List(f) = ret else {
            return exec_err!("test_udtf returns a list");
        };
        return list_of(&[one.cast_to(f.data_type())?], ret);
    }
    let texts = a
        .iter()
        .map(|v| Ok(ScalarValue::Utf8(Some(java_text(&first_of(v)?)))))
        .collect::<Result<Vec<_>>>()?;
    list_of(&texts, ret)
}

/// An array's first element or a map's first value; any other value itself.
fn first_of(v: &ScalarValue) -> Result<ScalarValue> {
    Ok(match v {
        ScalarValue::List(l) => ScalarValue::try_from_array(&l.value(0), 0)?,
        ScalarValue::Map(m) => {
            let entries = m.value(0);
            ScalarValue::try_from_array(entries.column(1), 0)?
        }
        other => other.clone(),
    })
}

/// A value as Java's `String.valueOf` writes it (a Kafka Connect `Struct` as
/// `Struct{A=bar}`).
fn java_text(v: &ScalarValue) -> String {
    match v {
        ScalarValue::Float64(Some(d)) => {
            let mut out = Vec::new();
            crate::format::json::java_double(*d, &mut out);
            String::from_utf8_lossy(&out).into_owned()
        }
        ScalarValue::Utf8(Some(s)) => s.clone(),
        ScalarValue::Struct(s) => {
            let fields: Vec<String> = s
                .fields()
                .iter()
                .zip(s.columns())
                .filter(|(_, c)| !c.is_null(0))
                .map(|(f, c)| {
                    let v = ScalarValue::try_from_array(c, 0).unwrap_or(ScalarValue::Null);
                    format!("{}={}", f.name(), java_text(&v))
                })
                .collect();
            format!("Struct{{{}}}", fields.join(","))
        }
        other => other.to_string(),
    }
}

/// `STRUCT<A VARCHAR>`.
fn struct_a() -> DataType {
    DataType::Struct(Fields::from(vec![Field::new("A", DataType::Utf8, true)]))
}

fn struct_of(a: ScalarValue) -> ScalarValue {
    let a = match a {
        ScalarValue::Utf8(s) => s,
        _ => None,
    };
    ScalarValue::Struct(Arc::new(
        datafusion::arrow::array::StructArray::try_new(
            match struct_a() {
                DataType::Struct(f) => f,
                _ => Fields::empty(),
            },
            vec![Arc::new(datafusion::arrow::array::StringArray::from(vec![
                a,
            ]))],
            None,
        )
        .expect("one string column matches STRUCT<A VARCHAR>"),
    ))
}

/// Each of `TestUdf`'s methods returns its name; the struct ones read or make `A`.
fn test_udf(a: &[ScalarValue], _: &DataType) -> Result<ScalarValue> {
    let types: Vec<DataType> = a.iter().map(|v| v.data_type()).collect();
    let text = |s: &str| Ok(ScalarValue::Utf8(Some(s.to_string())));
    match types.as_slice() {
        [] => Ok(struct_of(ScalarValue::Utf8(Some("foo".into())))),
        [DataType::Int32, DataType::Utf8] => text("doStuffIntString"),
        [DataType::Int64, DataType::Utf8] => text("doStuffLongString"),
        [DataType::Int64, DataType::Int64, DataType::Utf8] => text("doStuffLongLongString"),
        [DataType::Struct(_)] => Ok(match &a[0] {
            ScalarValue::Struct(s) if !s.is_null(0) => s
                .column_by_name("A")
                .map(|c| ScalarValue::try_from_array(c, 0))
                .transpose()?
                .unwrap_or(ScalarValue::Utf8(None)),
            _ => ScalarValue::Utf8(None),
        }),
        t if t.iter().all(|t| *t == DataType::Int64) => text("doStuffLongVarargs"),
        _ => exec_err!("test_udf has no method for {types:?}"),
    }
}

/// `BadUdf`: an INT throws, a BOOLEAN throws when true, a STRING is NULL every other call.
fn bad_udf(a: &[ScalarValue], _: &DataType) -> Result<ScalarValue> {
    match &a[0] {
        ScalarValue::Int32(_) => exec_err!("boom!"),
        ScalarValue::Boolean(Some(true)) => exec_err!("You asked me to throw..."),
        ScalarValue::Boolean(_) => Ok(ScalarValue::Int32(Some(0))),
        ScalarValue::Utf8(s) => Ok(ScalarValue::Utf8(
            if BAD_UDF_CALLS
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(2)
            {
                None
            } else {
                s.clone()
            },
        )),
        other => exec_err!(
            "bad_udf takes INT, BOOLEAN or STRING, not {}",
            other.data_type()
        ),
    }
}

/// `WhenCondition` / `WhenResult`: the first argument, or an error if the second is false.
fn lazy(a: &[ScalarValue], message: &str) -> Result<ScalarValue> {
    match &a[1] {
        ScalarValue::Boolean(Some(true)) => Ok(a[0].clone()),
        _ => exec_err!("{message}"),
    }
}
