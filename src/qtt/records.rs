//! Turning QTT's JSON record notation into record bytes for a source's formats, and record
//! bytes back into JSON for comparison.

use crate::catalog::types::SqlType;
use crate::catalog::Source;
use crate::format::protobuf::ProtoCodec;
use crate::format::{Codec, Format, FormatSpec};
use crate::registry::Schemas;
use serde_json::Value;

/// The registry a case's AVRO and PROTOBUF records are written with and read by.
pub type Registry<'a> = Option<&'a dyn Schemas>;

/// A spec written in a format with schemas: AVRO and PROTOBUF under the latest schema of
/// `topic`'s subject (as ksqlDB's runner writes them), PROTOBUF_NOSR with the source's own.
fn with_schema(
    spec: &FormatSpec,
    sr: Registry,
    topic: &str,
    is_key: bool,
    v: &Value,
) -> Result<Vec<u8>, String> {
    let subject = format!("{topic}-{}", if is_key { "key" } else { "value" });
    let sr = sr.ok_or("records with schemas need the schema registry");
    match (spec.format, &spec.codec) {
        (Format::Avro, _) => super::avro_spec::encode(sr?, &subject, v),
        (Format::Protobuf, _) => {
            let sr = sr?;
            let latest = sr
                .latest(&subject)
                .map_err(|e| format!("{subject}: {}", e.message))?;
            let imports = crate::format::protobuf::imports_of(sr, latest.id)?;
            // The message the source reads (its `*_SCHEMA_FULL_NAME`), else the first.
            let name = match &spec.codec {
                Some(Codec::Protobuf(c)) => Some(c.message().full_name().to_string()),
                _ => None,
            };
            let codec = |name: Option<&str>| {
                ProtoCodec::importing(&latest.schema, &imports, name, Some(latest.id), None)
            };
            let codec = codec(name.as_deref())
                .or_else(|_| codec(None))
                .map_err(|e| e.message)?;
            proto_spec(&codec, v)
        }
        (_, Some(Codec::Protobuf(codec))) => proto_spec(codec, v),
        // JSON under the subject's latest id; a bare key or value as the JSON format takes it.
        (Format::JsonSr, _) => {
            let latest = sr?
                .latest(&subject)
                .map_err(|e| format!("{subject}: {}", e.message))?;
            let mut out = vec![0];
            out.extend_from_slice(&latest.id.to_be_bytes());
            out.extend_from_slice(v.to_string().as_bytes());
            Ok(out)
        }
        _ => Err(format!("no codec for {}", spec.format.name())),
    }
}

/// A PROTOBUF spec's bytes; a bare value is the field of a one-field message.
fn proto_spec(codec: &ProtoCodec, v: &Value) -> Result<Vec<u8>, String> {
    let fields: Vec<_> = codec.message().fields().collect();
    let v = match (v, fields.as_slice()) {
        (Value::Object(_), _) => v.clone(),
        (_, [one]) => serde_json::json!({ one.name(): v }),
        _ => v.clone(),
    };
    let mut out = Vec::new();
    codec.encode_json(&v, &mut out)?;
    Ok(out)
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
        Format::Avro | Format::Protobuf | Format::ProtobufNoSr | Format::JsonSr => {
            Some(with_schema(&s.key_format, sr, &s.topic, true, v)?)
        }
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
        Format::Avro | Format::Protobuf | Format::ProtobufNoSr | Format::JsonSr => {
            Some(with_schema(&s.value_format, sr, &s.topic, false, v)?)
        }
    })
}

/// Reads record bytes back as JSON for comparison.
pub fn to_json(
    bytes: Option<&[u8]>,
    spec: &FormatSpec,
    ty: Option<&SqlType>,
    sr: Registry,
) -> Value {
    let Some(b) = bytes else { return Value::Null };
    let text = || Value::String(String::from_utf8_lossy(b).into_owned());
    match spec.format {
        Format::Avro => match sr.map(|sr| super::avro_spec::decode(sr, b)) {
            Some(Ok(v)) => v,
            _ => text(),
        },
        // The writer's schema (by id) or, without a registry, the source's.
        Format::Protobuf | Format::ProtobufNoSr => match &spec.codec {
            Some(Codec::Protobuf(c)) => c.decode_json(b).unwrap_or_else(|_| text()),
            _ => text(),
        },
        Format::JsonSr => match b {
            [0, _, _, _, _, json @ ..] => serde_json::from_slice(json).unwrap_or_else(|_| text()),
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
