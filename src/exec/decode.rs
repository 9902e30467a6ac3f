//! Records from the log into Arrow batches with the source's row schema.

use super::processing_log::ProcessingLog;
use crate::catalog::types::SqlType;
use crate::catalog::{ColumnKind, Source, WindowType};
use crate::format::build::build_column;
use crate::format::json_fast;
use crate::functions::datetime::JavaPattern;
use crate::log::RecordRef;
use datafusion::arrow::array::{ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch};
use serde_json::Value;
use std::sync::Arc;

/// How the error of a record without a valid event time starts.
const BAD_TIMESTAMP: &str = "Invalid timestamp in column";

/// Decodes `records` of `source`; records that cannot be decoded go to the processing log.
/// Value columns not `needed` by the query may be left NULL.
/// A record with a null value keeps its key; its value columns are null and its tombstone flag
/// is set (a stream query passes it on with a null value; a table deletes the key).
pub fn decode(
    source: &Source,
    records: &[RecordRef<'_>],
    plog: &ProcessingLog,
    query_id: &str,
    needed: &[bool],
) -> Option<RecordBatch> {
    decode_checked(source, records, plog, query_id, needed, false).unwrap_or_default()
}

/// [`decode`], failing instead on a record whose timestamp column holds no valid time when
/// `fail_on_bad_timestamp` (`ksql.timestamp.throw.on.invalid`).
pub fn decode_checked(
    source: &Source,
    records: &[RecordRef<'_>],
    plog: &ProcessingLog,
    query_id: &str,
    needed: &[bool],
    fail_on_bad_timestamp: bool,
) -> Result<Option<RecordBatch>, String> {
    let keys: Vec<(&str, &SqlType)> = source.keys().map(|c| (c.name.as_str(), &c.ty)).collect();
    let values: Vec<(&str, &SqlType)> = source.values().map(|c| (c.name.as_str(), &c.ty)).collect();
    // A table's row needs a key: a record without one is skipped, as Kafka Streams' table
    // source skips it.
    let keyed: Vec<RecordRef<'_>>;
    let records = if source.kind == crate::sql::ast::SourceKind::Table
        && !keys.is_empty()
        && records.iter().any(|r| r.key.is_none())
    {
        keyed = records
            .iter()
            .filter(|r| r.key.is_some())
            .copied()
            .collect();
        &keyed[..]
    } else {
        records
    };
    let headers: Vec<&crate::catalog::Column> = source
        .columns
        .iter()
        .filter(|c| matches!(c.kind, ColumnKind::Headers | ColumnKind::Header(_)))
        .collect();
    if headers.is_empty() && source.window.is_none() {
        if let Some(batch) = decode_fast(source, records, &keys, &values, needed) {
            return Ok((batch.num_rows() > 0).then_some(batch));
        }
    }
    let mut rows: Vec<(usize, Vec<Value>)> = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let key = split_window(source, r.key)
            .and_then(|(key, window)| Ok((source.key_format.decode(key, &keys)?, window)));
        let (k, window) = match key {
            Ok(k) => k,
            Err(e) => {
                plog.deserialization_error(query_id, &source.topic, "key", &e, r.key);
                continue;
            }
        };
        let v = match source.value_format.decode(r.value, &values) {
            Ok(v) => v,
            Err(e) => {
                plog.deserialization_error(query_id, &source.topic, "value", &e, r.value);
                continue;
            }
        };
        let mut row = k;
        row.extend(v);
        row.extend(headers.iter().map(|c| header_value(&c.kind, r)));
        if let Some((start, end)) = window {
            row.push(Value::from(start));
            row.push(Value::from(end));
        }
        rows.push((i, row));
    }
    let types: Vec<&SqlType> = keys
        .iter()
        .chain(values.iter())
        .map(|c| c.1)
        .chain(headers.iter().map(|c| &c.ty))
        .chain(
            std::iter::repeat_n(&SqlType::Bigint, 2).take(if source.window.is_some() {
                2
            } else {
                0
            }),
        )
        .collect();
    loop {
        match build(source, records, &rows, &types) {
            Ok(batch) => return Ok((batch.num_rows() > 0).then_some(batch)),
            Err((_, _, msg)) if fail_on_bad_timestamp && msg.starts_with(BAD_TIMESTAMP) => {
                return Err(format!(
                    "Fatal user code error in TimestampExtractor callback for record: {msg}"
                ));
            }
            Err((row, col, msg)) => {
                let (rec_idx, _) = rows.remove(row);
                let r = &records[rec_idx];
                let target = if col < keys.len() { "key" } else { "value" };
                let bytes = if target == "key" { r.key } else { r.value };
                plog.deserialization_error(query_id, &source.topic, target, &msg, bytes);
            }
        }
    }
}

/// JSON values of primitive columns, read straight into Arrow (`format::json_fast`); `None`
/// when any record needs the general path (which then reports the records it cannot read).
fn decode_fast(
    source: &Source,
    records: &[RecordRef<'_>],
    keys: &[(&str, &SqlType)],
    values: &[(&str, &SqlType)],
    needed: &[bool],
) -> Option<RecordBatch> {
    let spec = &source.value_format;
    let wrapped = spec.wrap_single || values.len() > 1;
    // JSON_SR is JSON after the wire format's 5-byte header; a record without it takes the
    // general path (which reports it).
    let header = match spec.format {
        crate::format::Format::Json => 0,
        crate::format::Format::JsonSr => 5,
        _ => return None,
    };
    if !wrapped || !values.iter().all(|(_, t)| json_fast::supports(t)) {
        return None;
    }
    let framed = |v: &[u8]| v.len() >= header && v.first().is_none_or(|b| header == 0 || *b == 0);
    if !records.iter().all(|r| r.value.is_none_or(framed)) {
        return None;
    }
    let mut cols = Vec::with_capacity(keys.len() + values.len());
    if !keys.is_empty() {
        let mut per_key: Vec<Vec<Value>> = vec![Vec::with_capacity(records.len()); keys.len()];
        for r in records {
            let k = source.key_format.decode(r.key, keys).ok()?;
            for (c, v) in per_key.iter_mut().zip(k) {
                c.push(v);
            }
        }
        for (values, (_, ty)) in per_key.iter().zip(keys) {
            let refs: Vec<&Value> = values.iter().collect();
            cols.push(build_column(&refs, ty).ok()?);
        }
    }
    cols.extend(json_fast::decode(
        records.iter().map(|r| r.value.map(|v| &v[header..])),
        records.len(),
        values,
        needed,
    )?);
    let all: Vec<usize> = (0..records.len()).collect();
    assemble(source, records, &all, cols).ok()
}

type KeyAndWindow<'a> = (Option<&'a [u8]>, Option<(i64, i64)>);

/// A windowed source's key bytes without their window, and the window's bounds: a time
/// window's key ends with its start, a session's with its end and start (8 bytes each,
/// big-endian).
fn split_window<'a>(source: &Source, key: Option<&'a [u8]>) -> Result<KeyAndWindow<'a>, String> {
    let Some(w) = source.window else {
        return Ok((key, None));
    };
    let bound = |b: &[u8]| i64::from_be_bytes(b.try_into().unwrap_or_default());
    let key = key.unwrap_or_default();
    let suffix = if w.kind == WindowType::Session { 16 } else { 8 };
    let Some(at) = key.len().checked_sub(suffix) else {
        return Err(format!(
            "A windowed key needs {suffix} bytes of window bounds; got {} bytes",
            key.len()
        ));
    };
    let (inner, bounds) = key.split_at(at);
    let window = if w.kind == WindowType::Session {
        (bound(&bounds[8..]), bound(&bounds[..8]))
    } else {
        let start = bound(bounds);
        (start, start + w.size_ms.unwrap_or(0))
    };
    Ok((Some(inner), Some(window)))
}

fn header_value(kind: &ColumnKind, r: &RecordRef<'_>) -> Value {
    use base64::Engine;
    let b64 = |b: Option<&[u8]>| {
        b.map_or(Value::Null, |b| {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        })
    };
    match kind {
        ColumnKind::Header(k) => r
            .headers
            .iter()
            .filter(|(key, _)| key == k)
            .last()
            .map_or(Value::Null, |(_, v)| b64(v)),
        _ => Value::Array(
            r.headers
                .iter()
                .map(|(key, v)| serde_json::json!({"KEY": key, "VALUE": b64(v)}))
                .collect(),
        ),
    }
}

type BuildError = (usize, usize, String);

/// The event time a timestamp column gives a row: BIGINT or TIMESTAMP milliseconds, or a STRING
/// in the source's TIMESTAMP_FORMAT. `None` for null, negative or unparsable values.
pub(crate) fn event_time(col: &ArrayRef, row: usize, pattern: Option<&JavaPattern>) -> Option<i64> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Int64Type, TimestampMillisecondType};
    if col.is_null(row) {
        return None;
    }
    let ms = match col.data_type() {
        DataType::Int64 => col.as_primitive::<Int64Type>().value(row),
        DataType::Timestamp(_, _) => col.as_primitive::<TimestampMillisecondType>().value(row),
        DataType::Utf8 => pattern?
            .parse_millis(
                col.as_string::<i32>().value(row),
                crate::functions::datetime::Zone::UTC,
            )
            .ok()?,
        _ => return None,
    };
    (ms >= 0).then_some(ms)
}

fn build(
    source: &Source,
    records: &[RecordRef<'_>],
    rows: &[(usize, Vec<Value>)],
    types: &[&SqlType],
) -> Result<RecordBatch, BuildError> {
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(types.len() + 3);
    for (c, ty) in types.iter().enumerate() {
        let vals: Vec<&Value> = rows.iter().map(|(_, r)| &r[c]).collect();
        cols.push(build_column(&vals, ty).map_err(|(row, msg)| (row, c, msg))?);
    }
    let idx: Vec<usize> = rows.iter().map(|(i, _)| *i).collect();
    assemble(source, records, &idx, cols)
}

/// The batch of the records at `idx` given their columns: event time, then the pseudocolumns.
fn assemble(
    source: &Source,
    records: &[RecordRef<'_>],
    idx: &[usize],
    cols: Vec<ArrayRef>,
) -> Result<RecordBatch, BuildError> {
    let schema = source.row_schema();
    let mut rowtime = Vec::with_capacity(idx.len());
    let ts_col = source.timestamp.as_ref().and_then(|(name, _)| {
        source
            .keys()
            .chain(source.values())
            .position(|c| &c.name == name)
    });
    let pattern = match source.timestamp.as_ref().and_then(|(_, f)| f.as_deref()) {
        Some(f) => Some(JavaPattern::new(f).map_err(|e| (0, 0, e))?),
        None => None,
    };
    for (row, i) in idx.iter().enumerate() {
        let ts = match ts_col {
            Some(c) => event_time(&cols[c], row, pattern.as_ref()).ok_or_else(|| {
                let name = source.timestamp.as_ref().map_or("", |t| t.0.as_str());
                (
                    row,
                    c,
                    format!(
                        "{BAD_TIMESTAMP} {name}: null, negative or not in the TIMESTAMP_FORMAT"
                    ),
                )
            })?,
            None => records[*i].timestamp,
        };
        rowtime.push(ts);
    }
    let mut all: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(rowtime)),
        Arc::new(Int32Array::from_iter_values(
            idx.iter().map(|i| records[*i].partition as i32),
        )),
        Arc::new(Int64Array::from_iter_values(
            idx.iter().map(|i| records[*i].offset as i64),
        )),
        Arc::new(BooleanArray::from_iter(
            idx.iter().map(|i| Some(records[*i].value.is_none())),
        )),
    ];
    all.extend(cols);
    RecordBatch::try_new(schema, all).map_err(|e| (0, 0, e.to_string()))
}
