//! AVRO keys and values in the Confluent wire format: a zero byte, the writer schema's id in
//! the schema registry (4 bytes, big-endian), then the Avro binary datum (`apache-avro`).
//!
//! Writing uses the schema ksqlDB generates for the columns (record
//! `io.confluent.ksql.avro_schemas.KsqlDataSourceSchema`, every field an optional union with a
//! `null` default; DECIMAL as `bytes`/`decimal`, DATE as `int`/`date`, TIME as
//! `int`/`time-millis`, TIMESTAMP as `long`/`timestamp-millis`; a single unwrapped column is
//! the bare type), registered under the topic's `-key` or `-value` subject when the source is
//! made. Reading takes each record's writer schema from the registry by its id (cached), and
//! matches record fields to columns by name, ignoring case, as ksqlDB does: fields the columns
//! lack are skipped, columns the writer lacks are NULL. Values go through the JSON values every
//! format decodes to (see [`super::build`]), so the coercions are those of the other formats.

use super::build::parse_decimal;
use crate::catalog::types::SqlType;
use crate::error::{Error, Result};
use crate::registry::Schemas;
use apache_avro::types::Value as Avro;
use apache_avro::Schema;
use base64::Engine;
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::Decimal128Type;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const NAMESPACE: &str = "io.confluent.ksql.avro_schemas";
const RECORD: &str = "KsqlDataSourceSchema";

/// A source's AVRO key or value: the schema its records are written with (and its id), and
/// the registry its records' writer schemas are read from.
pub struct AvroCodec {
    schema: Schema,
    id: u32,
    /// Whether the columns are fields of a record (several columns, or one wrapped).
    wrapped: bool,
    registry: Arc<dyn Schemas>,
    writers: Mutex<HashMap<u32, Arc<Schema>>>,
}

impl std::fmt::Debug for AvroCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AvroCodec(id {})", self.id)
    }
}

/// The schema ksqlDB writes `cols` with, its record named `full_name` (ksqlDB's
/// `io.confluent.ksql.avro_schemas.KsqlDataSourceSchema` for values unless
/// `VALUE_AVRO_SCHEMA_FULL_NAME` names another; `...avro_schemas.<Source>Key` for keys).
///
/// Records carry Connect's `connect.name`; an unwrapped key is its bare type (a key is never
/// NULL inside), an unwrapped value is optional.
pub fn schema_for(
    cols: &[(&str, &SqlType)],
    wrapped: bool,
    full_name: Option<&str>,
    is_key: bool,
) -> Value {
    let full_name = full_name.map_or_else(|| format!("{NAMESPACE}.{RECORD}"), String::from);
    let (namespace, name) = match full_name.rsplit_once('.') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, full_name.as_str()),
    };
    let naming = Naming { namespace };
    let top = |v: Value| naming.top(v);
    match (wrapped, cols.first()) {
        (false, Some((_, ty))) if is_key => top(naming.avro_type(ty, name)),
        (false, Some((_, ty))) => match naming.avro_type(ty, name) {
            inner @ Value::Object(_) if inner["type"] == "record" => {
                json!(["null", top(inner)])
            }
            inner => json!(["null", inner]),
        },
        _ => top(naming.record(name, cols.iter().map(|(n, t)| (*n, *t)))),
    }
}

/// How generated records are named: the top one in `namespace`, every one with its
/// `connect.name` (its full name), as Connect's AVRO translation writes them.
struct Naming<'a> {
    namespace: Option<&'a str>,
}

impl Naming<'_> {
    /// The top record gets the namespace (nested ones inherit it).
    fn top(&self, mut v: Value) -> Value {
        if let (Some(ns), Value::Object(o)) = (self.namespace, &mut v) {
            if o.get("type") == Some(&json!("record")) {
                o.insert("namespace".into(), json!(ns));
            }
        }
        v
    }

    fn record<'a>(
        &self,
        name: &str,
        fields: impl Iterator<Item = (&'a str, &'a SqlType)>,
    ) -> Value {
        let fields: Vec<Value> = fields
            .map(|(n, t)| {
                let ty = json!(["null", self.avro_type(t, &format!("{name}_{n}"))]);
                json!({"name": n, "type": ty, "default": null})
            })
            .collect();
        let mut r = json!({"type": "record", "name": name, "fields": fields});
        r["connect.name"] = json!(match self.namespace {
            Some(ns) => format!("{ns}.{name}"),
            None => name.to_string(),
        });
        r
    }

    fn optional(&self, ty: &SqlType, name: &str) -> Value {
        json!(["null", self.avro_type(ty, name)])
    }

    fn avro_type(&self, ty: &SqlType, name: &str) -> Value {
        match ty {
            SqlType::Boolean => json!("boolean"),
            SqlType::Int => json!("int"),
            SqlType::Bigint => json!("long"),
            SqlType::Double => json!("double"),
            SqlType::String => json!("string"),
            SqlType::Bytes => json!("bytes"),
            SqlType::Decimal(p, s) => {
                json!({"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s})
            }
            SqlType::Date => json!({"type": "int", "logicalType": "date"}),
            SqlType::Time => json!({"type": "int", "logicalType": "time-millis"}),
            SqlType::Timestamp => json!({"type": "long", "logicalType": "timestamp-millis"}),
            SqlType::Array(t) => json!({"type": "array", "items": self.optional(t, name)}),
            // AVRO maps have string keys (others are refused when the source is made).
            SqlType::Map(_, v) => json!({"type": "map", "values": self.optional(v, name)}),
            SqlType::Struct(fields) => {
                self.record(name, fields.iter().map(|(n, t)| (n.as_str(), t)))
            }
        }
    }
}

/// The name ksqlDB gives a source's AVRO key record: `...avro_schemas.<Source>Key`, the
/// source's name from UPPER_UNDERSCORE to UpperCamel.
pub fn key_name(source: &str) -> String {
    let camel: String = source
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or_else(String::new, |f| {
                f.to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect()
            })
        })
        .collect();
    format!("{NAMESPACE}.{camel}Key")
}

/// The columns of an AVRO value schema (schema inference): a record's fields, or one column
/// named `ROWVAL` for any other type, as ksqlDB names an unwrapped value. Names are upper-cased,
/// as ksqlDB's are (records are matched to columns ignoring case), unless `exact` (a schema
/// named by id keeps its fields' names).
pub fn columns_of(schema: &str, exact: bool) -> Result<Vec<(String, SqlType)>> {
    let parsed: Value = serde_json::from_str(schema).map_err(|e| Error::generic(e.to_string()))?;
    let fields = match &parsed {
        Value::Object(o) if o.get("type") == Some(&json!("record")) => o
            .get("fields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        other => {
            return Ok(vec![(
                "ROWVAL".into(),
                super::cased(sql_type(other)?, exact),
            )])
        }
    };
    fields
        .iter()
        .map(|f| {
            let name = f["name"].as_str().unwrap_or_default();
            let name = if exact {
                name.to_string()
            } else {
                name.to_uppercase()
            };
            Ok((name, super::cased(sql_type(&f["type"])?, exact)))
        })
        .collect()
}

/// The SQL type of a whole AVRO schema (an inferred key, or an unwrapped value).
pub fn type_of(schema: &str, exact: bool) -> Result<SqlType> {
    let parsed: Value = serde_json::from_str(schema).map_err(|e| Error::generic(e.to_string()))?;
    Ok(super::cased(sql_type(&parsed)?, exact))
}

/// The SQL type of an Avro type (JSON), after ksqlDB's mapping.
fn sql_type(t: &Value) -> Result<SqlType> {
    let unsupported = || Error::generic(format!("Unsupported AVRO type: {t}"));
    Ok(match t {
        Value::String(s) => match s.as_str() {
            "boolean" => SqlType::Boolean,
            "int" => SqlType::Int,
            "long" => SqlType::Bigint,
            "float" | "double" => SqlType::Double,
            "string" => SqlType::String,
            "bytes" => SqlType::Bytes,
            _ => return Err(unsupported()),
        },
        // An optional type: its one other branch.
        Value::Array(branches) => {
            let other: Vec<&Value> = branches.iter().filter(|b| *b != "null").collect();
            match other.as_slice() {
                [one] => sql_type(one)?,
                _ => return Err(unsupported()),
            }
        }
        Value::Object(o) => match (
            o.get("logicalType").and_then(Value::as_str),
            o.get("type").and_then(Value::as_str),
        ) {
            (Some("decimal"), _) => SqlType::Decimal(
                o.get("precision").and_then(Value::as_u64).unwrap_or(38) as u8,
                o.get("scale").and_then(Value::as_i64).unwrap_or(0) as i8,
            ),
            (Some("date"), _) => SqlType::Date,
            (Some("time-millis"), _) => SqlType::Time,
            (Some("timestamp-millis"), _) => SqlType::Timestamp,
            (_, Some("array")) => SqlType::Array(Box::new(sql_type(&o["items"])?)),
            (_, Some("map")) => {
                SqlType::Map(Box::new(SqlType::String), Box::new(sql_type(&o["values"])?))
            }
            (_, Some("record")) => SqlType::Struct(
                o.get("fields")
                    .and_then(Value::as_array)
                    .map(|fs| {
                        fs.iter()
                            .map(|f| {
                                let name = f["name"].as_str().unwrap_or("").to_string();
                                Ok((name, sql_type(&f["type"])?))
                            })
                            .collect::<Result<Vec<_>>>()
                    })
                    .transpose()?
                    .unwrap_or_default(),
            ),
            (_, Some("enum")) => SqlType::String,
            (_, Some("fixed")) => SqlType::Bytes,
            (_, Some(primitive)) => sql_type(&json!(primitive))?,
            _ => return Err(unsupported()),
        },
        _ => return Err(unsupported()),
    })
}

impl AvroCodec {
    /// The codec of `cols`, its schema registered under `subject` of `registry`.
    pub fn register(
        registry: Arc<dyn Schemas>,
        subject: &str,
        cols: &[(&str, &SqlType)],
        wrapped: bool,
        full_name: Option<&str>,
        is_key: bool,
    ) -> Result<AvroCodec> {
        let text = schema_for(cols, wrapped, full_name, is_key).to_string();
        let schema = crate::registry::parse_avro(&text).map_err(Error::generic)?;
        let id = registry
            .register(subject, crate::registry::SchemaType::Avro, &text)
            .map_err(|e| {
                Error::statement(format!(
                    "Could not register schema for topic: {} ({})",
                    e.message, e.code
                ))
            })?;
        Ok(AvroCodec {
            schema,
            id,
            wrapped,
            registry,
            writers: Mutex::new(HashMap::new()),
        })
    }

    /// The codec of a source that writes with schema `id` (`text`) of `registry` (its columns
    /// fields of a record if `wrapped`).
    pub fn existing(
        registry: Arc<dyn Schemas>,
        id: u32,
        text: &str,
        wrapped: bool,
    ) -> Result<AvroCodec> {
        let schema = crate::registry::parse_avro(text).map_err(Error::generic)?;
        Ok(AvroCodec {
            wrapped,
            schema,
            id,
            registry,
            writers: Mutex::new(HashMap::new()),
        })
    }

    /// The id of the schema this codec writes with.
    pub fn id(&self) -> u32 {
        self.id
    }

    fn writer(&self, id: u32) -> std::result::Result<Arc<Schema>, String> {
        let mut writers = self.writers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = writers.get(&id) {
            return Ok(s.clone());
        }
        let text = self
            .registry
            .schema(id)
            .map_err(|e| format!("Schema {id} not found in the registry: {}", e.message))?
            .text;
        let schema = Arc::new(crate::registry::parse_avro(&text)?);
        writers.insert(id, schema.clone());
        Ok(schema)
    }

    /// One record's columns as JSON values.
    pub fn decode(
        &self,
        bytes: &[u8],
        cols: &[(&str, &SqlType)],
    ) -> std::result::Result<Vec<Value>, String> {
        let [0, a, b, c, d, datum @ ..] = bytes else {
            return Err("Unknown magic byte! (not in the Confluent AVRO wire format)".into());
        };
        let writer = self.writer(u32::from_be_bytes([*a, *b, *c, *d]))?;
        let mut datum = datum;
        let value = apache_avro::from_avro_datum(&writer, &mut datum, None)
            .map_err(|e| format!("Failed to deserialize AVRO data: {e}"))?;
        if !self.wrapped {
            let ty = cols.first().map(|c| c.1).unwrap_or(&SqlType::String);
            return Ok(vec![to_json(value, ty)?]);
        }
        let fields = match unwrap(value) {
            Avro::Record(fields) => fields,
            Avro::Null => return Ok(vec![Value::Null; cols.len()]),
            other => return Err(format!("Expected an AVRO record, got {other:?}")),
        };
        let mut by_name: HashMap<String, Avro> = fields
            .into_iter()
            .map(|(n, v)| (n.to_uppercase(), v))
            .collect();
        cols.iter()
            .map(|(name, ty)| match by_name.remove(&name.to_uppercase()) {
                Some(v) => to_json(v, ty),
                None => Ok(Value::Null),
            })
            .collect()
    }

    /// Writes one row (its columns as JSON values first) in the wire format at the end of
    /// `out`.
    pub fn encode_row(
        &self,
        arrays: &[(&str, &SqlType, &ArrayRef)],
        row: usize,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let mut fields = super::json::row_values(arrays, row)?
            .into_iter()
            .zip(arrays)
            .map(|((name, v), (_, ty, _))| Ok((name, from_json(&v, ty)?)))
            .collect::<Result<Vec<_>>>()?;
        let value = if self.wrapped {
            Avro::Record(self.named(fields))
        } else {
            fields.pop().map_or(Avro::Null, |f| f.1)
        };
        let value = defaults_for_nulls(value, &self.schema);
        // Resolving against the schema picks each union's branch and logical type.
        let failed =
            |e: apache_avro::Error| Error::generic(format!("Failed to serialize AVRO data: {e}"));
        let value = value.resolve(&self.schema).map_err(failed)?;
        let datum = apache_avro::to_avro_datum(&self.schema, value).map_err(failed)?;
        out.push(0);
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&datum);
        Ok(())
    }
}

impl AvroCodec {
    /// A record's fields under the schema's own names (an inferred schema's may differ in case
    /// from the columns), in its order; a field no column has is NULL.
    /// A field no column has and whose schema gives a default is left out: resolving the
    /// record against the schema fills it in (a schema named by `VALUE_SCHEMA_ID` may have
    /// more fields than the query's columns).
    fn named(&self, mut fields: Vec<(String, Avro)>) -> Vec<(String, Avro)> {
        let Schema::Record(record) = &self.schema else {
            return fields;
        };
        record
            .fields
            .iter()
            .filter_map(|f| {
                let i = fields
                    .iter()
                    .position(|(n, _)| n.eq_ignore_ascii_case(&f.name));
                let v = match i {
                    Some(i) => std::mem::replace(&mut fields[i].1, Avro::Null),
                    None if f.default.is_some() => return None,
                    None => Avro::Null,
                };
                Some((f.name.clone(), v))
            })
            .collect()
    }
}

/// `v` with every NULL field of a record left out where its schema cannot hold NULL but
/// gives a default, in nested records too: resolving then writes the default, as Connect's
/// `AvroData` does for a null field with a default (a struct inserted without that field).
fn defaults_for_nulls(v: Avro, schema: &Schema) -> Avro {
    match (v, schema) {
        (Avro::Record(fields), Schema::Record(record)) => Avro::Record(
            fields
                .into_iter()
                .filter_map(|(name, value)| {
                    let Some(f) = record.fields.iter().find(|f| f.name == name) else {
                        return Some((name, value));
                    };
                    let nullable = matches!(&f.schema, Schema::Null)
                        || matches!(&f.schema, Schema::Union(u) if u.variants().iter().any(|s| matches!(s, Schema::Null)));
                    if value == Avro::Null && !nullable && f.default.is_some() {
                        return None;
                    }
                    Some((name, defaults_for_nulls(value, &f.schema)))
                })
                .collect(),
        ),
        (Avro::Record(fields), Schema::Union(u)) => {
            match u.variants().iter().find(|s| matches!(s, Schema::Record(_))) {
                Some(record) => defaults_for_nulls(Avro::Record(fields), record),
                None => Avro::Record(fields),
            }
        }
        (Avro::Array(items), Schema::Array(a)) => Avro::Array(
            items
                .into_iter()
                .map(|i| defaults_for_nulls(i, &a.items))
                .collect(),
        ),
        (other, _) => other,
    }
}

fn unwrap(v: Avro) -> Avro {
    match v {
        Avro::Union(_, inner) => unwrap(*inner),
        other => other,
    }
}

/// An Avro value as the JSON value the other formats decode to, for a column of type `ty`.
fn to_json(v: Avro, ty: &SqlType) -> std::result::Result<Value, String> {
    Ok(match (unwrap(v), ty) {
        (Avro::Null, _) => Value::Null,
        (Avro::Boolean(b), _) => json!(b),
        (Avro::Int(i) | Avro::Date(i) | Avro::TimeMillis(i), _) => json!(i),
        (Avro::Long(i) | Avro::TimestampMillis(i) | Avro::LocalTimestampMillis(i), _) => json!(i),
        (Avro::TimeMicros(i) | Avro::TimestampMicros(i) | Avro::LocalTimestampMicros(i), _) => {
            json!(i.div_euclid(1000))
        }
        (Avro::TimestampNanos(i) | Avro::LocalTimestampNanos(i), _) => {
            json!(i.div_euclid(1_000_000))
        }
        (Avro::Float(f), _) => float(f as f64),
        (Avro::Double(f), _) => float(f),
        (Avro::String(s) | Avro::Enum(_, s), _) => json!(s),
        (Avro::Uuid(u), _) => json!(u.to_string()),
        (Avro::Bytes(b) | Avro::Fixed(_, b), _) => {
            json!(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (Avro::Decimal(d), SqlType::Decimal(_, s)) => {
            let bytes = <Vec<u8>>::try_from(&d).map_err(|e| e.to_string())?;
            json!(super::json::decimal_text(unscaled(&bytes)?, *s))
        }
        (Avro::BigDecimal(d), _) => json!(d.to_string()),
        (Avro::Array(items), SqlType::Array(t)) => Value::Array(
            items
                .into_iter()
                .map(|i| to_json(i, t))
                .collect::<std::result::Result<_, _>>()?,
        ),
        (Avro::Map(m), SqlType::Map(_, t)) => Value::Object(
            m.into_iter()
                .map(|(k, v)| Ok((k, to_json(v, t)?)))
                .collect::<std::result::Result<_, String>>()?,
        ),
        (Avro::Record(fields), SqlType::Struct(want)) => {
            let mut out = serde_json::Map::new();
            for (n, v) in fields {
                if let Some((name, t)) = want.iter().find(|(w, _)| w.eq_ignore_ascii_case(&n)) {
                    out.insert(name.clone(), to_json(v, t)?);
                }
            }
            Value::Object(out)
        }
        (other, ty) => {
            return Err(format!(
                "Can't convert type. sourceType: AVRO {other:?}, requiredType: {ty}"
            ))
        }
    })
}

fn float(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or_else(|| json!(f.to_string()), Value::Number)
}

/// A big-endian two's complement integer (an Avro decimal's unscaled value).
pub(crate) fn unscaled(bytes: &[u8]) -> std::result::Result<i128, String> {
    if bytes.len() > 16 {
        return Err("AVRO decimal wider than 38 digits".into());
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut full = [if negative { 0xff } else { 0 }; 16];
    full[16 - bytes.len()..].copy_from_slice(bytes);
    Ok(i128::from_be_bytes(full))
}

/// A column's JSON value (as the JSON encoder writes it) as an Avro value of its type.
fn from_json(v: &Value, ty: &SqlType) -> Result<Avro> {
    let bad = || Error::generic(format!("Cannot write {v} as AVRO {ty}"));
    Ok(match (v, ty) {
        (Value::Null, _) => Avro::Null,
        (Value::Bool(b), SqlType::Boolean) => Avro::Boolean(*b),
        (Value::Number(n), SqlType::Int) => Avro::Int(n.as_i64().ok_or_else(bad)? as i32),
        (Value::Number(n), SqlType::Bigint) => Avro::Long(n.as_i64().ok_or_else(bad)?),
        (Value::Number(n), SqlType::Double) => Avro::Double(n.as_f64().ok_or_else(bad)?),
        (Value::String(s), SqlType::Double) => Avro::Double(s.parse().map_err(|_| bad())?),
        (Value::Number(n), SqlType::Date) => Avro::Date(n.as_i64().ok_or_else(bad)? as i32),
        (Value::Number(n), SqlType::Time) => Avro::TimeMillis(n.as_i64().ok_or_else(bad)? as i32),
        (Value::Number(n), SqlType::Timestamp) => {
            Avro::TimestampMillis(n.as_i64().ok_or_else(bad)?)
        }
        (Value::Number(n), SqlType::Decimal(p, s)) => {
            let unscaled =
                parse_decimal::<Decimal128Type>(&n.to_string(), *p, *s).ok_or_else(bad)?;
            Avro::Decimal(apache_avro::Decimal::from(decimal_bytes(unscaled, *p)))
        }
        (Value::String(s), SqlType::Bytes) => Avro::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| bad())?,
        ),
        (Value::String(s), _) => Avro::String(s.clone()),
        (Value::Array(items), SqlType::Array(t)) => Avro::Array(
            items
                .iter()
                .map(|i| from_json(i, t))
                .collect::<Result<_>>()?,
        ),
        (Value::Object(m), SqlType::Map(_, t)) => Avro::Map(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), from_json(x, t)?)))
                .collect::<Result<_>>()?,
        ),
        (Value::Object(m), SqlType::Struct(fields)) => Avro::Record(
            fields
                .iter()
                .map(|(n, t)| {
                    let x = m.get(n).unwrap_or(&Value::Null);
                    Ok((n.clone(), from_json(x, t)?))
                })
                .collect::<Result<_>>()?,
        ),
        (other, SqlType::String) => Avro::String(other.to_string()),
        _ => return Err(bad()),
    })
}

/// The big-endian two's complement bytes of `v`, as many as a value of `precision` digits
/// may need (`apache-avro` checks that length against the precision; readers take any).
pub(crate) fn decimal_bytes(v: i128, precision: u8) -> Vec<u8> {
    // n bytes hold floor(log10(2^(8n-1) - 1)) digits.
    let digits = |n: i32| (2f64.powi(8 * n - 1) - 1.0).log10().floor() as u8;
    let needed = (1..=16).find(|n| digits(*n) >= precision).unwrap_or(16) as usize;
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 16 - needed {
        let (b, next) = (bytes[start], bytes[start + 1]);
        let redundant = (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes[start..].to_vec()
}

#[cfg(test)]
mod tests;
