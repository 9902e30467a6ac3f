//! PROTOBUF keys and values: `.proto` text compiled at run time (`protox`), messages read and
//! written by descriptor (`prost-reflect`).
//!
//! - `PROTOBUF` uses the Confluent wire format: a zero byte, the schema's id in the registry
//!   (4 bytes, big-endian), the message's indexes in the schema (zig-zag varints: their count,
//!   then each; a single `0` for the first message), then the message. Records are read with
//!   their writer schema, found by id. `PROTOBUF_NOSR` is the bare message, read and written
//!   with the schema generated for the columns.
//! - The schema generated for columns follows ksqlDB's: `syntax = "proto3"`, one message
//!   `ConnectDefault1` (or the `*_SCHEMA_FULL_NAME`) with a field per column in order, structs as
//!   nested messages `ConnectDefault2`, ...; DECIMAL as `confluent.type.Decimal`, DATE as
//!   `google.type.Date`, TIME as `google.type.TimeOfDay`, TIMESTAMP as
//!   `google.protobuf.Timestamp`. Keys and values are always messages (PROTOBUF wraps single
//!   columns).
//! - Proto3 scalars have no NULL: an unset field reads as its default (0, `""`, false), as in
//!   ksqlDB; an unset message field (a struct, DECIMAL, DATE...) reads as NULL, and NULL
//!   writes nothing.
//!
//! Records go through the JSON values every format decodes to: a message becomes an object
//! with its own field names, matched to columns ignoring case (see [`super::build`]).

use super::build::parse_decimal;
use crate::catalog::types::SqlType;
use crate::error::{Error, Result};
use crate::registry::{SchemaType, Schemas};
use base64::Engine as _;
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::Decimal128Type;
use prost_reflect::prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor,
    ReflectMessage as _, Value as Proto,
};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

const MAIN: &str = "schema.proto";
const DEFAULT_NAME: &str = "ConnectDefault1";

const DECIMAL: &str = "syntax = \"proto3\";\npackage confluent.type;\n\
    message Decimal { bytes value = 1; uint32 precision = 2; int32 scale = 3; }\n";
const DATE: &str = "syntax = \"proto3\";\npackage google.type;\n\
    message Date { int32 year = 1; int32 month = 2; int32 day = 3; }\n";
/// Confluent's field metadata: where a DECIMAL field keeps its precision and scale.
const META: &str = "syntax = \"proto3\";\npackage confluent;\n\
    import \"google/protobuf/descriptor.proto\";\n\
    message Meta { string doc = 1; map<string, string> params = 2; repeated string tags = 3; }\n\
    extend google.protobuf.FieldOptions { Meta field_meta = 1088; }\n\
    extend google.protobuf.MessageOptions { Meta message_meta = 1088; }\n\
    extend google.protobuf.FileOptions { Meta file_meta = 1088; }\n";
const TIME_OF_DAY: &str = "syntax = \"proto3\";\npackage google.type;\n\
    message TimeOfDay { int32 hours = 1; int32 minutes = 2; int32 seconds = 3; int32 nanos = 4; }\n";

/// The schema's text, the schemas it imports through its references, and the types ksqlDB's
/// schemas import.
struct Sources {
    main: String,
    imports: Vec<(String, String)>,
}

impl FileResolver for Sources {
    fn open_file(&self, name: &str) -> std::result::Result<File, protox::Error> {
        if let Some((_, text)) = self.imports.iter().find(|(n, _)| n == name) {
            return match descriptor(text) {
                Some(mut file) => {
                    file.name = Some(name.to_string());
                    Ok(File::from_file_descriptor_proto(file))
                }
                None => File::from_source(name, text),
            };
        }
        match name {
            MAIN => match descriptor(&self.main) {
                Some(file) => Ok(File::from_file_descriptor_proto(file)),
                None => File::from_source(name, &self.main),
            },
            "confluent/type/decimal.proto" => File::from_source(name, DECIMAL),
            "confluent/meta.proto" => File::from_source(name, META),
            "google/type/date.proto" => File::from_source(name, DATE),
            "google/type/timeofday.proto" => File::from_source(name, TIME_OF_DAY),
            _ => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// A schema given as a base64 `FileDescriptorProto` (as Confluent's serializers for Python and
/// other languages register them) rather than `.proto` text; named as the main file.
fn descriptor(text: &str) -> Option<prost_reflect::prost_types::FileDescriptorProto> {
    use prost_reflect::prost::Message as _;
    let text = text.trim();
    if text.contains(char::is_whitespace) || text.contains(';') {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let mut file =
        prost_reflect::prost_types::FileDescriptorProto::decode(bytes.as_slice()).ok()?;
    file.message_type.first()?;
    file.name = Some(MAIN.to_string());
    Some(file)
}

/// A PROTOBUF schema as Confluent's `?format=serialized` gives it: its `FileDescriptorProto`,
/// base64 (what Confluent's serializers for Python and other languages read).
pub fn serialized(text: &str, imports: &[(String, String)]) -> std::result::Result<String, String> {
    if descriptor(text).is_some() {
        return Ok(text.trim().to_string());
    }
    let compiled = compile_with(text, imports)?;
    let file = compiled.messages[0].parent_file();
    let bytes = file.file_descriptor_proto().encode_to_vec();
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A compiled schema: its top-level messages, in order.
#[derive(Clone)]
pub struct Compiled {
    pub messages: Vec<MessageDescriptor>,
}

/// Compiles a `.proto` schema's text.
pub fn compile(text: &str) -> std::result::Result<Compiled, String> {
    compile_with(text, &[])
}

/// Compiles a `.proto` schema's text that imports `imports` (by import name, as its
/// references give them).
pub fn compile_with(
    text: &str,
    imports: &[(String, String)],
) -> std::result::Result<Compiled, String> {
    let mut chain = ChainFileResolver::new();
    chain.add(Sources {
        main: text.to_string(),
        imports: imports.to_vec(),
    });
    chain.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(chain);
    compiler.include_imports(true);
    compiler
        .open_file(MAIN)
        .map_err(|e| format!("Invalid PROTOBUF schema: {e}"))?;
    let pool: DescriptorPool = compiler.descriptor_pool();
    let file = pool
        .get_file_by_name(MAIN)
        .ok_or("the schema has no file")?;
    let messages: Vec<MessageDescriptor> = file.messages().collect();
    if messages.is_empty() {
        return Err("Invalid PROTOBUF schema: it defines no message".into());
    }
    Ok(Compiled { messages })
}

/// The schema ksqlDB writes `cols` with, its message named `full_name` (else
/// `ConnectDefault1`).
pub fn schema_for(cols: &[(&str, &SqlType)], full_name: Option<&str>) -> Result<String> {
    let (package, name) = match full_name.and_then(|f| f.rsplit_once('.')) {
        Some((p, n)) => (Some(p), n),
        None => (None, full_name.unwrap_or(DEFAULT_NAME)),
    };
    let mut gen = Generator::default();
    let body = gen.message(name, cols.iter().map(|(n, t)| (*n, *t)), 0)?;
    let mut out = String::from("syntax = \"proto3\";\n");
    if let Some(p) = package {
        let _ = writeln!(out, "package {p};");
    }
    for import in &gen.imports {
        let _ = writeln!(out, "import \"{import}\";");
    }
    out.push('\n');
    out.push_str(&body);
    Ok(out)
}

#[derive(Default)]
struct Generator {
    imports: Vec<&'static str>,
    /// The last `ConnectDefaultN` given.
    named: usize,
}

impl Generator {
    fn import(&mut self, file: &'static str) {
        if !self.imports.contains(&file) {
            self.imports.push(file);
        }
    }

    fn message<'a>(
        &mut self,
        name: &str,
        fields: impl Iterator<Item = (&'a str, &'a SqlType)>,
        depth: usize,
    ) -> Result<String> {
        self.named = self.named.max(1);
        let pad = "  ".repeat(depth);
        let mut out = format!("{pad}message {name} {{\n");
        let mut nested = String::new();
        for (i, (field, ty)) in fields.enumerate() {
            let (label, ty_name) = match ty {
                SqlType::Array(inner) => ("repeated ", self.scalar(inner, depth, &mut nested)?),
                other => ("", self.scalar(other, depth, &mut nested)?),
            };
            let options = match ty {
                SqlType::Decimal(p, s) => {
                    self.import("confluent/meta.proto");
                    format!(
                        " [(confluent.field_meta) = {{ params: [ {{ key: \"precision\", value: \"{p}\" }}, {{ key: \"scale\", value: \"{s}\" }} ] }}]"
                    )
                }
                _ => String::new(),
            };
            let _ = writeln!(out, "{pad}  {label}{ty_name} {field} = {}{options};", i + 1);
        }
        out.push_str(&nested);
        let _ = writeln!(out, "{pad}}}");
        Ok(out)
    }

    /// The type name of a non-repeated field (nested messages go to `nested`).
    fn scalar(&mut self, ty: &SqlType, depth: usize, nested: &mut String) -> Result<String> {
        Ok(match ty {
            SqlType::Boolean => "bool".into(),
            SqlType::Int => "int32".into(),
            SqlType::Bigint => "int64".into(),
            SqlType::Double => "double".into(),
            SqlType::String => "string".into(),
            SqlType::Bytes => "bytes".into(),
            SqlType::Decimal(_, _) => {
                self.import("confluent/type/decimal.proto");
                "confluent.type.Decimal".into()
            }
            SqlType::Date => {
                self.import("google/type/date.proto");
                "google.type.Date".into()
            }
            SqlType::Time => {
                self.import("google/type/timeofday.proto");
                "google.type.TimeOfDay".into()
            }
            SqlType::Timestamp => {
                self.import("google/protobuf/timestamp.proto");
                "google.protobuf.Timestamp".into()
            }
            SqlType::Map(k, v) => {
                let key = match **k {
                    SqlType::String => "string",
                    SqlType::Int => "int32",
                    SqlType::Bigint => "int64",
                    SqlType::Boolean => "bool",
                    _ => return Err(unsupported(ty)),
                };
                if matches!(**v, SqlType::Array(_) | SqlType::Map(_, _)) {
                    return Err(unsupported(ty));
                }
                format!("map<{key}, {}>", self.scalar(v, depth, nested)?)
            }
            SqlType::Struct(fields) => {
                self.named += 1;
                let name = format!("ConnectDefault{}", self.named);
                let body = self.message(
                    &name,
                    fields.iter().map(|(n, t)| (n.as_str(), t)),
                    depth + 1,
                )?;
                nested.push_str(&body);
                name
            }
            SqlType::Array(_) => return Err(unsupported(ty)),
        })
    }
}

fn unsupported(ty: &SqlType) -> Error {
    Error::statement(format!("PROTOBUF cannot carry {ty}"))
}

/// The message of a schema a source uses: the one named `name` (its full name or its own),
/// else the first; and its index among the top-level messages (0 if nested).
pub fn select(
    compiled: &Compiled,
    name: Option<&str>,
) -> std::result::Result<(MessageDescriptor, usize), String> {
    let Some(name) = name else {
        return Ok((compiled.messages[0].clone(), 0));
    };
    let matches = |m: &MessageDescriptor| m.full_name() == name || m.name() == name;
    if let Some(i) = compiled.messages.iter().position(matches) {
        return Ok((compiled.messages[i].clone(), i));
    }
    let pool = compiled.messages[0].parent_pool();
    pool.all_messages()
        .find(matches)
        .map(|m| (m, 0))
        .ok_or_else(|| format!("Schema full name {name} is not a message of the schema"))
}

/// The columns of a PROTOBUF schema's message (schema inference): upper-cased, unless
/// `exact` (a schema named by id keeps its fields' names).
pub fn columns_of(
    text: &str,
    imports: &[(String, String)],
    name: Option<&str>,
    exact: bool,
) -> Result<Vec<(String, SqlType)>> {
    let compiled = compile_with(text, imports).map_err(Error::statement)?;
    let (message, _) = select(&compiled, name).map_err(Error::statement)?;
    message
        .fields()
        .map(|f| {
            let n = f.name();
            let n = if exact {
                n.to_string()
            } else {
                n.to_uppercase()
            };
            Ok((n, super::cased(field_type(&f)?, exact)))
        })
        .collect()
}

fn field_type(f: &FieldDescriptor) -> Result<SqlType> {
    if f.is_map() {
        let Kind::Message(entry) = f.kind() else {
            return Err(Error::statement("a map field without its entry"));
        };
        let key = kind_type(&entry.map_entry_key_field().kind())?;
        let value = field_type(&entry.map_entry_value_field())?;
        return Ok(SqlType::Map(Box::new(key), Box::new(value)));
    }
    let t = match kind_type(&f.kind())? {
        SqlType::Decimal(p, s) => decimal_params(f).unwrap_or(SqlType::Decimal(p, s)),
        t => t,
    };
    Ok(match f.is_list() {
        true => SqlType::Array(Box::new(t)),
        false => t,
    })
}

/// A DECIMAL field's precision and scale, from its `confluent.field_meta` params.
fn decimal_params(f: &FieldDescriptor) -> Option<SqlType> {
    let ext = f
        .parent_pool()
        .get_extension_by_name("confluent.field_meta")?;
    let options = f.options();
    if !options.has_extension(&ext) {
        return None;
    }
    let meta = options.get_extension(&ext);
    let Proto::Message(meta) = meta.as_ref() else {
        return None;
    };
    let params = meta.get_field_by_name("params")?;
    let Proto::Map(params) = params.as_ref() else {
        return None;
    };
    let param = |k: &str| match params.get(&MapKey::String(k.into())) {
        Some(Proto::String(v)) => v.parse::<i64>().ok(),
        _ => None,
    };
    Some(SqlType::Decimal(
        param("precision")? as u8,
        param("scale").unwrap_or(0) as i8,
    ))
}

/// The SQL type of a protobuf type, after ksqlDB's mapping (unsigned integers are BIGINT).
fn kind_type(kind: &Kind) -> Result<SqlType> {
    Ok(match kind {
        Kind::Bool => SqlType::Boolean,
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => SqlType::Int,
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint32 | Kind::Fixed32 => {
            SqlType::Bigint
        }
        Kind::Uint64 | Kind::Fixed64 => SqlType::Bigint,
        Kind::Float | Kind::Double => SqlType::Double,
        Kind::String | Kind::Enum(_) => SqlType::String,
        Kind::Bytes => SqlType::Bytes,
        Kind::Message(m) => match m.full_name() {
            "confluent.type.Decimal" => SqlType::Decimal(64, 0),
            "google.type.Date" => SqlType::Date,
            "google.type.TimeOfDay" => SqlType::Time,
            "google.protobuf.Timestamp" => SqlType::Timestamp,
            "google.protobuf.BoolValue" => SqlType::Boolean,
            "google.protobuf.Int32Value" => SqlType::Int,
            "google.protobuf.Int64Value" | "google.protobuf.UInt32Value" => SqlType::Bigint,
            "google.protobuf.UInt64Value" => SqlType::Bigint,
            "google.protobuf.FloatValue" | "google.protobuf.DoubleValue" => SqlType::Double,
            "google.protobuf.StringValue" => SqlType::String,
            "google.protobuf.BytesValue" => SqlType::Bytes,
            _ => SqlType::Struct(
                m.fields()
                    .map(|f| Ok((f.name().to_string(), field_type(&f)?)))
                    .collect::<Result<_>>()?,
            ),
        },
    })
}

/// A message as a JSON object with its own field names: proto3 scalars unset are their
/// defaults, message fields unset are null.
pub fn to_json(msg: &DynamicMessage) -> std::result::Result<Value, String> {
    let mut out = serde_json::Map::new();
    for f in msg.descriptor().fields() {
        let unset_message = matches!(f.kind(), Kind::Message(_))
            && !f.is_list()
            && !f.is_map()
            && !msg.has_field(&f);
        let v = match unset_message {
            true => Value::Null,
            false => value_json(&msg.get_field(&f), &f.kind())?,
        };
        out.insert(f.name().to_string(), v);
    }
    Ok(Value::Object(out))
}

fn value_json(v: &Proto, kind: &Kind) -> std::result::Result<Value, String> {
    Ok(match v {
        Proto::Bool(b) => json!(b),
        Proto::I32(i) => json!(i),
        Proto::I64(i) => json!(i),
        Proto::U32(i) => json!(i),
        Proto::U64(i) => json!(i),
        Proto::F32(f) => serde_json::from_str(&f.to_string()).unwrap_or(Value::Null),
        Proto::F64(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Proto::String(s) => json!(s),
        Proto::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        Proto::EnumNumber(n) => match kind {
            Kind::Enum(e) => e
                .get_value(*n)
                .map_or_else(|| json!(n.to_string()), |v| json!(v.name())),
            _ => json!(n),
        },
        Proto::List(items) => Value::Array(
            items
                .iter()
                .map(|i| value_json(i, kind))
                .collect::<std::result::Result<_, _>>()?,
        ),
        Proto::Map(m) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other.clone(),
            };
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                out.insert(map_key_text(k), value_json(v, &value_kind)?);
            }
            Value::Object(out)
        }
        Proto::Message(m) => message_json(m)?,
    })
}

fn map_key_text(k: &MapKey) -> String {
    match k {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(i) => i.to_string(),
        MapKey::I64(i) => i.to_string(),
        MapKey::U32(i) => i.to_string(),
        MapKey::U64(i) => i.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

/// A message field's value: the well-known types as ksqlDB reads them, others as objects.
fn message_json(m: &DynamicMessage) -> std::result::Result<Value, String> {
    let int = |name: &str| -> i64 {
        match m.get_field_by_name(name).as_deref() {
            Some(Proto::I32(i)) => *i as i64,
            Some(Proto::I64(i)) => *i,
            Some(Proto::U32(i)) => *i as i64,
            _ => 0,
        }
    };
    Ok(match m.descriptor().full_name() {
        "confluent.type.Decimal" => {
            let bytes = match m.get_field_by_name("value").as_deref() {
                Some(Proto::Bytes(b)) => b.to_vec(),
                _ => Vec::new(),
            };
            let unscaled = super::avro::unscaled(&bytes)?;
            let text = super::json::decimal_text(unscaled, int("scale") as i8);
            serde_json::from_str(&text).unwrap_or(json!(text))
        }
        "google.type.Date" => {
            let date = chrono::NaiveDate::from_ymd_opt(
                int("year") as i32,
                int("month") as u32,
                int("day") as u32,
            )
            .ok_or("an invalid google.type.Date")?;
            json!(date
                .signed_duration_since(chrono::NaiveDate::default())
                .num_days())
        }
        "google.type.TimeOfDay" => json!(
            ((int("hours") * 60 + int("minutes")) * 60 + int("seconds")) * 1000
                + int("nanos") / 1_000_000
        ),
        "google.protobuf.Timestamp" => json!(int("seconds") * 1000 + int("nanos") / 1_000_000),
        name if name.starts_with("google.protobuf.") && name.ends_with("Value") => {
            match m.descriptor().get_field_by_name("value") {
                Some(f) => value_json(&m.get_field(&f), &f.kind())?,
                None => Value::Null,
            }
        }
        _ => to_json(m)?,
    })
}

/// A JSON object (fields matched to the message's ignoring case) as a message.
pub fn from_json(
    v: &Value,
    desc: &MessageDescriptor,
) -> std::result::Result<DynamicMessage, String> {
    let Value::Object(given) = v else {
        return Err(format!(
            "a {} is written from an object, not {v}",
            desc.name()
        ));
    };
    let mut msg = DynamicMessage::new(desc.clone());
    for f in desc.fields() {
        let Some((_, x)) = given.iter().find(|(k, _)| k.eq_ignore_ascii_case(f.name())) else {
            continue;
        };
        if x.is_null() {
            continue;
        }
        let value = if f.is_map() {
            let Kind::Message(entry) = f.kind() else {
                continue;
            };
            let (kf, vf) = (entry.map_entry_key_field(), entry.map_entry_value_field());
            let Value::Object(m) = x else {
                return Err(format!("{}: a map is written from an object", f.name()));
            };
            let mut out = HashMap::new();
            for (k, mv) in m {
                if !mv.is_null() {
                    out.insert(map_key(k, &kf.kind())?, scalar(mv, &vf.kind())?);
                }
            }
            Proto::Map(out)
        } else if f.is_list() {
            let Value::Array(items) = x else {
                return Err(format!("{}: a list is written from an array", f.name()));
            };
            Proto::List(
                items
                    .iter()
                    .filter(|i| !i.is_null())
                    .map(|i| scalar(i, &f.kind()))
                    .collect::<std::result::Result<_, _>>()?,
            )
        } else {
            scalar(x, &f.kind())?
        };
        msg.set_field(&f, value);
    }
    Ok(msg)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn number<T: std::str::FromStr>(v: &Value) -> std::result::Result<T, String> {
    text(v)
        .parse()
        .map_err(|_| format!("cannot write {v} as a number"))
}

fn map_key(k: &str, kind: &Kind) -> std::result::Result<MapKey, String> {
    let bad = || format!("cannot write map key {k}");
    Ok(match kind {
        Kind::String => MapKey::String(k.to_string()),
        Kind::Bool => MapKey::Bool(k.parse().map_err(|_| bad())?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(k.parse().map_err(|_| bad())?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(k.parse().map_err(|_| bad())?),
        Kind::Uint32 | Kind::Fixed32 => MapKey::U32(k.parse().map_err(|_| bad())?),
        _ => MapKey::U64(k.parse().map_err(|_| bad())?),
    })
}

fn scalar(v: &Value, kind: &Kind) -> std::result::Result<Proto, String> {
    Ok(match kind {
        Kind::Bool => Proto::Bool(text(v).eq_ignore_ascii_case("true")),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Proto::I32(number(v)?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Proto::I64(number(v)?),
        Kind::Uint32 | Kind::Fixed32 => Proto::U32(number(v)?),
        Kind::Uint64 | Kind::Fixed64 => Proto::U64(number(v)?),
        Kind::Float => Proto::F32(number(v)?),
        Kind::Double => Proto::F64(number(v)?),
        Kind::String => Proto::String(text(v)),
        Kind::Bytes => Proto::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(text(v))
                .map_err(|e| format!("bytes are base64: {e}"))?
                .into(),
        ),
        Kind::Enum(e) => {
            let s = text(v);
            let n = e
                .values()
                .find(|x| x.name() == s)
                .map(|x| x.number())
                .or_else(|| s.parse().ok())
                .ok_or_else(|| format!("{s} is not a value of {}", e.name()))?;
            Proto::EnumNumber(n)
        }
        Kind::Message(m) => Proto::Message(message(v, m)?),
    })
}

/// A message field from JSON: the well-known types from ksqlDB's values, others from objects.
fn message(v: &Value, m: &MessageDescriptor) -> std::result::Result<DynamicMessage, String> {
    let mut msg = DynamicMessage::new(m.clone());
    let mut set = |name: &str, value: Proto| msg.set_field_by_name(name, value);
    match m.full_name() {
        "confluent.type.Decimal" => {
            let t = text(v);
            let scale = t.split_once('.').map_or(0, |(_, f)| f.len()) as i8;
            let unscaled = parse_decimal::<Decimal128Type>(&t, 38, scale)
                .ok_or_else(|| format!("cannot write {t} as a DECIMAL"))?;
            set(
                "value",
                Proto::Bytes(super::avro::decimal_bytes(unscaled, 38).into()),
            );
            set(
                "precision",
                Proto::U32(t.chars().filter(char::is_ascii_digit).count() as u32),
            );
            set("scale", Proto::I32(scale as i32));
        }
        "google.type.Date" => {
            let days: i64 = number(v)?;
            let date = chrono::NaiveDate::default() + chrono::Duration::days(days);
            use chrono::Datelike;
            set("year", Proto::I32(date.year()));
            set("month", Proto::I32(date.month() as i32));
            set("day", Proto::I32(date.day() as i32));
        }
        "google.type.TimeOfDay" => {
            let ms: i64 = number(v)?;
            set("hours", Proto::I32((ms / 3_600_000) as i32));
            set("minutes", Proto::I32((ms / 60_000 % 60) as i32));
            set("seconds", Proto::I32((ms / 1000 % 60) as i32));
            set("nanos", Proto::I32((ms % 1000 * 1_000_000) as i32));
        }
        "google.protobuf.Timestamp" => {
            let ms: i64 = number(v)?;
            set("seconds", Proto::I64(ms.div_euclid(1000)));
            set(
                "nanos",
                Proto::I32((ms.rem_euclid(1000) * 1_000_000) as i32),
            );
        }
        name if name.starts_with("google.protobuf.") && name.ends_with("Value") => {
            if let Some(f) = m.get_field_by_name("value") {
                let inner = scalar(v, &f.kind())?;
                msg.set_field(&f, inner);
            }
        }
        _ => return from_json(v, m),
    }
    Ok(msg)
}

/// The message indexes that pick the `index`th top-level message (Confluent's wire format).
fn indexes(index: usize) -> Vec<u8> {
    match index {
        0 => vec![0],
        // One index: a count of 1 and the index, both zig-zag varints.
        i => {
            let mut out = vec![2];
            let mut z = (i as u64) << 1;
            while z >= 0x80 {
                out.push((z as u8) | 0x80);
                z >>= 7;
            }
            out.push(z as u8);
            out
        }
    }
}

fn varint(bytes: &mut &[u8]) -> std::result::Result<i64, String> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let [b, rest @ ..] = *bytes else {
            return Err("truncated message indexes".into());
        };
        *bytes = rest;
        v |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return Ok(((v >> 1) as i64) ^ -((v & 1) as i64));
        }
    }
    Err("bad message indexes".into())
}

/// The message the indexes after a schema id name (the rest of `bytes` is the message).
fn pick(compiled: &Compiled, bytes: &mut &[u8]) -> std::result::Result<MessageDescriptor, String> {
    let count = varint(bytes)?;
    if count == 0 {
        return Ok(compiled.messages[0].clone());
    }
    let mut current: Option<MessageDescriptor> = None;
    for _ in 0..count {
        let i = varint(bytes)? as usize;
        let next = match &current {
            None => compiled.messages.get(i).cloned(),
            Some(m) => m.child_messages().nth(i),
        };
        current = Some(next.ok_or("message indexes outside the schema")?);
    }
    current.ok_or_else(|| "no message".to_string())
}

/// The schemas schema `id` imports through its references, by import name.
pub fn imports_of(
    registry: &dyn Schemas,
    id: u32,
) -> std::result::Result<Vec<(String, String)>, String> {
    let schema = registry.schema(id).map_err(|e| e.message)?;
    registry
        .imports(&schema.references)
        .map_err(|e| format!("A schema {id} refers to is missing: {}", e.message))
}

/// A source's PROTOBUF (or PROTOBUF_NOSR) key or value.
pub struct ProtoCodec {
    message: MessageDescriptor,
    /// Its index among the schema's top-level messages (the wire format's message indexes).
    index: usize,
    /// The schema id written (`None`: PROTOBUF_NOSR, no wire header).
    id: Option<u32>,
    registry: Option<Arc<dyn Schemas>>,
    writers: Mutex<HashMap<u32, Compiled>>,
}

impl std::fmt::Debug for ProtoCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ProtoCodec({} id {:?})",
            self.message.full_name(),
            self.id
        )
    }
}

impl ProtoCodec {
    /// The codec writing the message `name` (else the first) of `text`, registered as id `id`
    /// of `registry` (both `None` for PROTOBUF_NOSR).
    pub fn new(
        text: &str,
        name: Option<&str>,
        id: Option<u32>,
        registry: Option<Arc<dyn Schemas>>,
    ) -> Result<Self> {
        let imports = match (&registry, id) {
            (Some(r), Some(id)) => imports_of(r.as_ref(), id).map_err(Error::statement)?,
            _ => Vec::new(),
        };
        Self::importing(text, &imports, name, id, registry)
    }

    /// [`ProtoCodec::new`] for a schema whose imports are given.
    pub fn importing(
        text: &str,
        imports: &[(String, String)],
        name: Option<&str>,
        id: Option<u32>,
        registry: Option<Arc<dyn Schemas>>,
    ) -> Result<Self> {
        let compiled = compile_with(text, imports).map_err(Error::statement)?;
        let (message, index) = select(&compiled, name).map_err(Error::statement)?;
        Ok(ProtoCodec {
            message,
            index,
            id,
            registry,
            writers: Mutex::new(HashMap::new()),
        })
    }

    /// The codec of `cols`, its schema generated and (PROTOBUF) registered under `subject`.
    pub fn register(
        registry: Option<Arc<dyn Schemas>>,
        subject: &str,
        cols: &[(&str, &SqlType)],
        full_name: Option<&str>,
    ) -> Result<Self> {
        let text = schema_for(cols, full_name)?;
        let id = match &registry {
            Some(r) => Some(
                r.register(subject, SchemaType::Protobuf, &text)
                    .map_err(|e| {
                        Error::statement(format!(
                            "Could not register schema for topic: {} ({})",
                            e.message, e.code
                        ))
                    })?,
            ),
            None => None,
        };
        Self::new(&text, None, id, registry)
    }

    /// The message this codec writes.
    pub fn message(&self) -> &MessageDescriptor {
        &self.message
    }

    fn writer(&self, id: u32) -> std::result::Result<Compiled, String> {
        let mut writers = self.writers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = writers.get(&id) {
            return Ok(c.clone());
        }
        let registry = self.registry.as_ref().ok_or("no schema registry")?;
        let text = registry
            .schema(id)
            .map_err(|e| format!("Schema {id} not found in the registry: {}", e.message))?
            .text;
        let compiled = compile_with(&text, &imports_of(registry.as_ref(), id)?)?;
        writers.insert(id, compiled.clone());
        Ok(compiled)
    }

    /// A record's message, as JSON.
    pub fn decode_json(&self, bytes: &[u8]) -> std::result::Result<Value, String> {
        let (desc, mut body) = match self.id {
            None => (self.message.clone(), bytes),
            Some(_) => {
                let [0, a, b, c, d, rest @ ..] = bytes else {
                    return Err(
                        "Unknown magic byte! (not in the Confluent PROTOBUF wire format)".into(),
                    );
                };
                let writer = self.writer(u32::from_be_bytes([*a, *b, *c, *d]))?;
                let mut rest = rest;
                let desc = pick(&writer, &mut rest)?;
                (desc, rest)
            }
        };
        let msg = DynamicMessage::decode(desc, &mut body)
            .map_err(|e| format!("Failed to deserialize PROTOBUF data: {e}"))?;
        to_json(&msg)
    }

    /// One record's columns as JSON values (fields matched to columns ignoring case).
    pub fn decode(
        &self,
        bytes: &[u8],
        cols: &[(&str, &SqlType)],
    ) -> std::result::Result<Vec<Value>, String> {
        let Value::Object(mut fields) = self.decode_json(bytes)? else {
            return Err("a message is an object".into());
        };
        Ok(cols
            .iter()
            .map(|(name, _)| {
                let key = fields
                    .keys()
                    .find(|k| k.eq_ignore_ascii_case(name))
                    .cloned();
                key.and_then(|k| fields.remove(&k)).unwrap_or(Value::Null)
            })
            .collect())
    }

    /// Writes a JSON object (a message's fields) in this codec's wire format.
    pub fn encode_json(&self, v: &Value, out: &mut Vec<u8>) -> std::result::Result<(), String> {
        let msg = from_json(v, &self.message)?;
        if let Some(id) = self.id {
            out.push(0);
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&indexes(self.index));
        }
        msg.encode(out).map_err(|e| e.to_string())
    }

    /// Writes one row (its columns as JSON values first) at the end of `out`.
    pub fn encode_row(
        &self,
        arrays: &[(&str, &SqlType, &ArrayRef)],
        row: usize,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let fields = super::json::row_values(arrays, row)?;
        self.encode_json(&Value::Object(fields.into_iter().collect()), out)
            .map_err(|e| Error::generic(format!("Failed to serialize PROTOBUF data: {e}")))
    }
}

#[cfg(test)]
mod tests;
