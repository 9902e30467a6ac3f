//! Turning QTT's JSON record notation into record bytes for a source's formats, and record
//! bytes back into JSON for comparison.

use crate::catalog::types::SqlType;
use crate::catalog::Source;
use crate::format::Format;
use crate::registry::Schemas;
use serde_json::Value;

/// The registry a case's AVRO records are written with and read by.
pub type Registry<'a> = Option<&'a dyn Schemas>;

/// A spec written in a registry format under `topic`'s subject.
fn registered(sr: Registry, topic: &str, is_key: bool, v: &Value) -> Result<Vec<u8>, String> {
    let sr = sr.ok_or("AVRO records need the schema registry")?;
    let subject = format!("{topic}-{}", if is_key { "key" } else { "value" });
    super::avro_spec::encode(sr, &subject, v)
}

fn json_text(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    }
}

fn kafka_bytes(v: &Value, ty: &SqlType) -> Result<Vec<u8>, String> {
    let int = || {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| format!("not an integer: {v}"))
    };
    Ok(match ty {
        SqlType::Int => (int()? as i32).to_be_bytes().to_vec(),
        SqlType::Bigint => int()?.to_be_bytes().to_vec(),
        SqlType::Double => {
            let d = v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| format!("not a number: {v}"))?;
            d.to_be_bytes().to_vec()
        }
        _ => json_text(v),
    })
}

/// The bytes of a key given as JSON, for the topic's first declared source (if any).
pub fn key_bytes(
    v: &Value,
    source: Option<&Source>,
    sr: Registry,
) -> Result<Option<Vec<u8>>, String> {
    if v.is_null() {
        return Ok(None);
    }
    let Some(s) = source else {
        return Ok(Some(json_text(v)));
    };
    let keys: Vec<_> = s.keys().collect();
    if keys.is_empty() {
        return Ok(Some(json_text(v)));
    }
    Ok(match s.key_format.format {
        Format::Json => Some(v.to_string().into_bytes()),
        Format::Kafka => Some(kafka_bytes(v, &keys[0].ty)?),
        Format::Delimited => Some(json_text(v)),
        Format::None => None,
        Format::Avro => Some(registered(sr, &s.topic, true, v)?),
    })
}

/// The bytes of a value given as JSON (`null` is a tombstone).
pub fn value_bytes(
    v: &Value,
    source: Option<&Source>,
    sr: Registry,
) -> Result<Option<Vec<u8>>, String> {
    if v.is_null() {
        return Ok(None);
    }
    let Some(s) = source else {
        return Ok(Some(json_text(v)));
    };
    Ok(match s.value_format.format {
        Format::Json => Some(v.to_string().into_bytes()),
        Format::Kafka => match s.values().next() {
            Some(c) => Some(kafka_bytes(v, &c.ty)?),
            None => Some(json_text(v)),
        },
        Format::Delimited => Some(json_text(v)),
        Format::None => None,
        Format::Avro => Some(registered(sr, &s.topic, false, v)?),
    })
}

/// Reads record bytes back as JSON for comparison.
pub fn to_json(bytes: Option<&[u8]>, format: Format, ty: Option<&SqlType>, sr: Registry) -> Value {
    let Some(b) = bytes else { return Value::Null };
    let text = || Value::String(String::from_utf8_lossy(b).into_owned());
    match format {
        Format::Avro => match sr.map(|sr| super::avro_spec::decode(sr, b)) {
            Some(Ok(v)) => v,
            _ => text(),
        },
        Format::Json => serde_json::from_slice(b)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned())),
        Format::Kafka => match ty {
            Some(SqlType::Int) if b.len() == 4 => {
                Value::from(i32::from_be_bytes(b.try_into().unwrap_or_default()))
            }
            Some(SqlType::Bigint) if b.len() == 8 => {
                Value::from(i64::from_be_bytes(b.try_into().unwrap_or_default()))
            }
            Some(SqlType::Double) if b.len() == 8 => {
                serde_json::Number::from_f64(f64::from_be_bytes(b.try_into().unwrap_or_default()))
                    .map_or(Value::Null, Value::Number)
            }
            _ => Value::String(String::from_utf8_lossy(b).into_owned()),
        },
        Format::Delimited => text(),
        Format::None => Value::Null,
    }
}
