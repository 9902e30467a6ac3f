//! INSERT INTO ... VALUES: one row, coerced to the columns' types, written to the topic.

use super::{Engine, Output};
use crate::catalog::types::SqlType;
use crate::catalog::ColumnKind;
use crate::error::{Error, Result};
use crate::exec::partition_for;
use crate::log::Record;
use crate::plan::expr::ExprCompiler;
use crate::sql::ast::Expr;
use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions,
};
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema};
use std::sync::Arc;

pub fn insert_values(
    engine: &Engine,
    target: &str,
    columns: Option<&[String]>,
    values: &[Expr],
) -> Result<Output> {
    let source = engine.source(target).ok_or_else(|| {
        Error::statement(format!(
            "Cannot insert values into an unknown stream/table: {target}"
        ))
    })?;
    if source.is_source {
        return Err(Error::statement(format!(
            "Cannot insert values into read-only {}: {target}",
            source.kind.name().to_lowercase()
        )));
    }
    let names: Vec<String> = match columns {
        Some(c) => c.to_vec(),
        // Without a column list, the values follow ksqlDB's logical schema: keys first, then
        // the values, whatever order the CREATE statement declared them in.
        None => source
            .keys()
            .chain(source.values())
            .map(|c| c.name.clone())
            .collect(),
    };
    if names.len() != values.len() {
        return Err(Error::statement(format!(
            "Failed to prepare statement: Expected a value for each column. Expected Columns: [{}]. Got {} values",
            names.join(", "),
            values.len()
        )));
    }
    let empty = Arc::new(Schema::empty());
    let one_row = RecordBatch::try_new_with_options(
        empty.clone(),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    let mut given: Vec<(String, ArrayRef)> = Vec::new();
    for (name, expr) in names.iter().zip(values) {
        let ty = if name == "ROWTIME" {
            SqlType::Bigint
        } else {
            let col = source
                .column(name)
                .ok_or_else(|| Error::statement(format!("Column name {name} does not exist.")))?;
            if !matches!(col.kind, ColumnKind::Key | ColumnKind::Value) {
                return Err(Error::statement(format!(
                    "Cannot insert into HEADER columns: {name}"
                )));
            }
            col.ty.clone()
        };
        let compiled = engine
            .compiler
            .compile(&ExprCompiler::normalize(expr, &[]), &empty)?;
        let value = compiled.evaluate(&one_row)?.into_array(1)?;
        let target_type = ty.to_arrow();
        let value = if value.data_type() == &target_type || value.data_type() == &DataType::Null {
            if value.data_type() == &DataType::Null {
                new_null_array(&target_type, 1)
            } else {
                value
            }
        } else if let (DataType::Struct(_), DataType::Struct(_)) = (value.data_type(), &target_type)
        {
            // A struct takes the column's fields by name, as ksqlDB's coercer: a field the
            // value lacks is NULL, one the column lacks is left out.
            crate::functions::cast::cast(&value, &target_type).map_err(|_| {
                Error::statement(format!(
                    "Expected type {ty} for field {name} but got {expr}({})",
                    value.data_type()
                ))
            })?
        } else {
            let opts = CastOptions {
                safe: false,
                ..Default::default()
            };
            cast_with_options(&value, &target_type, &opts).map_err(|_| {
                Error::statement(format!(
                    "Expected type {ty} for field {name} but got {expr}({})",
                    value.data_type()
                ))
            })?
        };
        given.push((name.clone(), value));
    }
    let column = |name: &str, ty: &SqlType| -> ArrayRef {
        given
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| new_null_array(&ty.to_arrow(), 1), |(_, a)| a.clone())
    };
    let keys: Vec<(String, SqlType, ArrayRef)> = source
        .keys()
        .map(|c| (c.name.clone(), c.ty.clone(), column(&c.name, &c.ty)))
        .collect();
    let vals: Vec<(String, SqlType, ArrayRef)> = source
        .values()
        .map(|c| (c.name.clone(), c.ty.clone(), column(&c.name, &c.ty)))
        .collect();
    let key_refs: Vec<(&str, &SqlType, &ArrayRef)> =
        keys.iter().map(|(n, t, a)| (n.as_str(), t, a)).collect();
    let val_refs: Vec<(&str, &SqlType, &ArrayRef)> =
        vals.iter().map(|(n, t, a)| (n.as_str(), t, a)).collect();
    let key = source.key_format.encode(&key_refs, 0)?;
    let value = source
        .value_format
        .encode(&val_refs, 0)?
        .or_else(|| Some(Vec::new()));
    let timestamp = match given.iter().find(|(n, _)| n == "ROWTIME") {
        Some((_, a)) if !a.is_null(0) => a.as_primitive::<Int64Type>().value(0),
        _ => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    };
    let partitions = engine.log.topic(&source.topic).map_or(1, |t| t.partitions);
    let partition = partition_for(key.as_deref(), partitions, 0);
    engine.log.append(
        &source.topic,
        partition,
        &[Record {
            key,
            value,
            timestamp,
            headers: Vec::new(),
            origin: None,
        }],
    )?;
    Ok(Output::Message {
        text: String::new(),
        query_id: None,
    })
}

/// Rows given as JSON objects (column names matched ignoring case; `ROWTIME` sets the
/// timestamp; missing columns are NULL) written to `source`'s topic as one batch per
/// partition: what `/inserts-stream` writes. Per row: written, or why not.
pub fn insert_json(
    engine: &Engine,
    source: &crate::catalog::Source,
    rows: &[&serde_json::Map<String, serde_json::Value>],
) -> Result<Vec<std::result::Result<(), String>>> {
    use serde_json::Value;
    if source.is_source {
        return Err(Error::statement(format!(
            "Cannot insert values into read-only {}: {}",
            source.kind.name().to_lowercase(),
            source.name
        )));
    }
    let field = |row: &serde_json::Map<String, Value>, name: &str| -> Option<Value> {
        row.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut results: Vec<std::result::Result<(), String>> = vec![Ok(()); rows.len()];
    for (i, row) in rows.iter().enumerate() {
        if let Some(k) = row.keys().find(|k| {
            !k.eq_ignore_ascii_case("ROWTIME")
                && !source.columns.iter().any(|c| {
                    c.name.eq_ignore_ascii_case(k)
                        && matches!(c.kind, ColumnKind::Key | ColumnKind::Value)
                })
        }) {
            results[i] = Err(format!("Column name {} does not exist.", k.to_uppercase()));
        }
    }
    // Each column built for the rows still in; a value of the wrong type fails its row.
    let build = |c: &crate::catalog::Column, keep: &[usize]| {
        let values: Vec<Value> = keep
            .iter()
            .map(|&i| field(rows[i], &c.name).unwrap_or(Value::Null))
            .collect();
        let refs: Vec<&Value> = values.iter().collect();
        crate::format::build::build_column(&refs, &c.ty)
    };
    let columns: Vec<&crate::catalog::Column> = source
        .columns
        .iter()
        .filter(|c| matches!(c.kind, ColumnKind::Key | ColumnKind::Value))
        .collect();
    let mut keep: Vec<usize> = (0..rows.len()).filter(|i| results[*i].is_ok()).collect();
    let arrays = loop {
        match columns
            .iter()
            .map(|c| build(c, &keep))
            .collect::<std::result::Result<Vec<_>, _>>()
        {
            Ok(a) => break a,
            Err((at, why)) => {
                let Some(&bad) = keep.get(at) else {
                    return Err(Error::generic(why.to_string()));
                };
                results[bad] = Err(why.to_string());
                keep.remove(at);
            }
        }
    };
    let named = |kind: ColumnKind| -> Vec<(&str, &SqlType, &ArrayRef)> {
        columns
            .iter()
            .zip(&arrays)
            .filter(|(c, _)| c.kind == kind)
            .map(|(c, a)| (c.name.as_str(), &c.ty, a))
            .collect()
    };
    let (keys, values) = (named(ColumnKind::Key), named(ColumnKind::Value));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let partitions = engine.log.topic(&source.topic).map_or(1, |t| t.partitions);
    let mut by_partition: Vec<Vec<Record>> = vec![Vec::new(); partitions as usize];
    for (n, &i) in keep.iter().enumerate() {
        let encoded = source.key_format.encode(&keys, n).and_then(|k| {
            let v = source.value_format.encode(&values, n)?;
            Ok((k, v.or_else(|| Some(Vec::new()))))
        });
        let (key, value) = match encoded {
            Ok(kv) => kv,
            Err(e) => {
                results[i] = Err(e.message);
                continue;
            }
        };
        let timestamp = field(rows[i], "ROWTIME")
            .and_then(|v| v.as_i64())
            .unwrap_or(now);
        let partition = partition_for(key.as_deref(), partitions, 0);
        by_partition[partition as usize].push(Record {
            key,
            value,
            timestamp,
            headers: Vec::new(),
            origin: None,
        });
    }
    for (p, records) in by_partition.iter().enumerate() {
        if !records.is_empty() {
            engine.log.append(&source.topic, p as u32, records)?;
        }
    }
    Ok(results)
}
