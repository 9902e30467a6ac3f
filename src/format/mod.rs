//! Serialization formats for keys and values: JSON, DELIMITED, KAFKA, NONE, and with a schema
//! registry AVRO ([`avro`]), PROTOBUF ([`protobuf`], also PROTOBUF_NOSR without one) and
//! JSON_SR ([`json_sr`]).
//!
//! Decoding turns each record's bytes into one JSON value per column (the common currency of
//! every format), then [`build`] turns a batch of them into Arrow arrays. Encoding writes one
//! row of Arrow arrays straight to bytes.

pub mod avro;
pub mod build;
mod delimited;
pub mod json;
pub mod json_fast;
mod json_scan;
pub mod json_sr;
mod kafka;
pub mod protobuf;

use crate::catalog::types::SqlType;
use crate::error::{Error, Result};
use datafusion::arrow::array::ArrayRef;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Delimited,
    Kafka,
    None,
    Avro,
    Protobuf,
    ProtobufNoSr,
    JsonSr,
}

impl Format {
    pub fn parse(name: &str) -> Result<Format> {
        match name.to_ascii_uppercase().as_str() {
            "JSON" => Ok(Format::Json),
            "DELIMITED" => Ok(Format::Delimited),
            "KAFKA" => Ok(Format::Kafka),
            "NONE" => Ok(Format::None),
            "AVRO" => Ok(Format::Avro),
            "PROTOBUF" => Ok(Format::Protobuf),
            "PROTOBUF_NOSR" => Ok(Format::ProtobufNoSr),
            "JSON_SR" => Ok(Format::JsonSr),
            other => Err(Error::generic(format!("Unknown format: {other}"))),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Delimited => "DELIMITED",
            Format::Kafka => "KAFKA",
            Format::None => "NONE",
            Format::Avro => "AVRO",
            Format::Protobuf => "PROTOBUF",
            Format::ProtobufNoSr => "PROTOBUF_NOSR",
            Format::JsonSr => "JSON_SR",
        }
    }

    /// The kind of registry schema this format's records are written with (PROTOBUF_NOSR's
    /// schema is never registered).
    pub fn schema_type(self) -> Option<crate::registry::SchemaType> {
        use crate::registry::SchemaType;
        match self {
            Format::Avro => Some(SchemaType::Avro),
            Format::Protobuf => Some(SchemaType::Protobuf),
            Format::JsonSr => Some(SchemaType::Json),
            _ => None,
        }
    }

    /// Whether keys and values of this format are schemas' records, written with a codec
    /// attached when the source is made.
    pub fn has_schema(self) -> bool {
        matches!(
            self,
            Format::Avro | Format::Protobuf | Format::ProtobufNoSr | Format::JsonSr
        )
    }
}

/// `t` with its struct fields' names upper-cased at any depth, unless `exact` (inferred
/// columns are, as in ksqlDB, unless a schema named by id gives them).
pub(crate) fn cased(t: SqlType, exact: bool) -> SqlType {
    match (t, exact) {
        (t, true) => t,
        (SqlType::Struct(fields), false) => SqlType::Struct(
            fields
                .into_iter()
                .map(|(n, t)| (n.to_uppercase(), cased(t, false)))
                .collect(),
        ),
        (SqlType::Array(t), false) => SqlType::Array(Box::new(cased(*t, false))),
        (SqlType::Map(k, v), false) => SqlType::Map(k, Box::new(cased(*v, false))),
        (other, false) => other,
    }
}

/// Refuses columns whose maps have other than string keys (AVRO's and JSON_SR's maps have
/// string keys), saying `refusal` as ksqlDB does.
fn check_map_keys(cols: &[(&str, &SqlType)], refusal: &str) -> Result<()> {
    fn ok(t: &SqlType) -> bool {
        match t {
            SqlType::Map(k, v) => **k == SqlType::String && ok(v),
            SqlType::Array(t) => ok(t),
            SqlType::Struct(fields) => fields.iter().all(|(_, t)| ok(t)),
            _ => true,
        }
    }
    match cols.iter().all(|c| ok(c.1)) {
        true => Ok(()),
        false => Err(Error::statement(refusal)),
    }
}

/// A format with its options, for a key or for a value.
#[derive(Debug, Clone)]
pub struct FormatSpec {
    pub format: Format,
    pub delimiter: char,
    /// Whether a single column is wrapped in an object (JSON) — keys default to unwrapped.
    pub wrap_single: bool,
    /// AVRO, PROTOBUF: the schema written and the registry read from (attached when the
    /// source is made).
    pub codec: Option<Codec>,
}

/// The codec of a format with schemas.
#[derive(Debug, Clone)]
pub enum Codec {
    Avro(Arc<avro::AvroCodec>),
    Protobuf(Arc<protobuf::ProtoCodec>),
    JsonSr(Arc<json_sr::JsonSrCodec>),
}

/// Specs are equal when they say the same; a codec follows from that and the columns.
impl PartialEq for FormatSpec {
    fn eq(&self, other: &Self) -> bool {
        (self.format, self.delimiter, self.wrap_single)
            == (other.format, other.delimiter, other.wrap_single)
    }
}

impl Eq for FormatSpec {}

impl FormatSpec {
    pub fn new(format: Format, wrap_single: bool) -> Self {
        FormatSpec {
            format,
            delimiter: ',',
            wrap_single,
            codec: None,
        }
    }

    /// Whether several columns, or one wrapped, are written as fields of an object or record.
    pub fn wraps(&self, columns: usize) -> bool {
        self.wrap_single || columns > 1
    }

    fn codec(&self) -> std::result::Result<&Codec, String> {
        self.codec
            .as_ref()
            .ok_or_else(|| format!("{} without its schema", self.format.name()))
    }

    /// Checks that this format can carry these columns.
    pub fn validate(&self, cols: &[(&str, &SqlType)], what: &str) -> Result<()> {
        if what == "key" {
            if let Some((n, t)) = cols.iter().find(|c| crate::plan::contains_map(c.1)) {
                return Err(Error::statement(format!(
                    "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{n}`. Column type: {t}. See https://github.com/confluentinc/ksql/issues/6621 for more."
                )));
            }
        }
        match self.format {
            Format::None if !cols.is_empty() => Err(Error::generic(format!(
                "The '{}' format does not support any {what} columns, but found: {}",
                self.format.name(),
                cols.iter()
                    .map(|(n, _)| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            Format::Kafka if cols.len() > 1 => Err(Error::generic(format!(
                "The 'KAFKA' format only supports a single field. Got: [{}]",
                cols.iter()
                    .map(|(n, t)| format!("`{n}` {t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            Format::Kafka => match cols.first().map(|c| c.1) {
                None
                | Some(
                    SqlType::Int
                    | SqlType::Bigint
                    | SqlType::Double
                    | SqlType::String
                    | SqlType::Bytes,
                ) => Ok(()),
                Some(t) => Err(Error::generic(format!(
                    "The 'KAFKA' format does not support type '{t}'"
                ))),
            },
            Format::Delimited => match cols.iter().find(|c| !c.1.is_primitive()) {
                Some((n, t)) => Err(Error::generic(format!(
                    "The 'DELIMITED' format does not support type '{}', column: `{n}`",
                    match t {
                        SqlType::Array(_) => "ARRAY",
                        SqlType::Map(_, _) => "MAP",
                        _ => "STRUCT",
                    }
                ))),
                None => Ok(()),
            },
            Format::Avro => check_map_keys(cols, "Avro only supports MAPs with STRING keys"),
            Format::JsonSr => check_map_keys(cols, "JSON only supports MAP types with STRING keys"),
            _ => Ok(()),
        }
    }

    /// Decodes one record's bytes into one value per column (null bytes give all nulls).
    pub fn decode(
        &self,
        bytes: Option<&[u8]>,
        cols: &[(&str, &SqlType)],
    ) -> Result<Vec<Value>, String> {
        let Some(bytes) = bytes else {
            return Ok(vec![Value::Null; cols.len()]);
        };
        if cols.is_empty() {
            return Ok(Vec::new());
        }
        match self.format {
            Format::Json => json::decode(bytes, cols, self.wrap_single || cols.len() > 1),
            Format::Delimited => delimited::decode(bytes, cols, self.delimiter),
            Format::Kafka => kafka::decode(bytes, cols[0].1).map(|v| vec![v]),
            Format::None => Ok(Vec::new()),
            Format::Avro | Format::Protobuf | Format::ProtobufNoSr | Format::JsonSr => {
                match self.codec()? {
                    Codec::Avro(c) => c.decode(bytes, cols),
                    Codec::Protobuf(c) => c.decode(bytes, cols),
                    Codec::JsonSr(c) => c.decode(bytes, cols, self.wraps(cols.len())),
                }
            }
        }
    }

    /// Encodes one row; `None` when there are no columns (no key) or for NONE.
    pub fn encode(
        &self,
        arrays: &[(&str, &SqlType, &ArrayRef)],
        row: usize,
    ) -> Result<Option<Vec<u8>>> {
        json::check_types(arrays)?;
        // Room for a typical record: no reallocation while it is written.
        let mut out = Vec::with_capacity(256);
        Ok(self.encode_into(arrays, row, &mut out)?.then_some(out))
    }

    /// Encodes one row at the end of `out`; false (nothing written) when there are no columns
    /// (no key), for NONE, and for a NULL KAFKA value. The caller checks the columns' types
    /// once per batch ([`json::check_types`]).
    pub fn encode_into(
        &self,
        arrays: &[(&str, &SqlType, &ArrayRef)],
        row: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool> {
        if arrays.is_empty() || self.format == Format::None {
            return Ok(false);
        }
        match self.format {
            Format::Json => {
                json::encode_row(arrays, row, self.wrap_single || arrays.len() > 1, out)?
            }
            Format::Delimited => delimited::encode_row(arrays, row, self.delimiter, out)?,
            Format::Kafka => {
                let (_, ty, a) = arrays[0];
                if a.is_null(row) {
                    return Ok(false);
                }
                kafka::encode(a, row, ty, out)?
            }
            Format::None => {}
            Format::Avro | Format::Protobuf | Format::ProtobufNoSr | Format::JsonSr => {
                match self.codec().map_err(Error::generic)? {
                    Codec::Avro(c) => c.encode_row(arrays, row, out)?,
                    Codec::Protobuf(c) => c.encode_row(arrays, row, out)?,
                    Codec::JsonSr(c) => c.encode_row(arrays, row, self.wraps(arrays.len()), out)?,
                }
            }
        }
        Ok(true)
    }
}
