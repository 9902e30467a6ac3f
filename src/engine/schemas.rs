//! Sources in a schema-registry format (AVRO, PROTOBUF), after ksqlDB's `DefaultSchemaInjector`
//! and `SchemaRegisterInjector`:
//! - **inference**: a CREATE without key columns takes one key column `ROWKEY` of the whole
//!   `<topic>-key` AVRO schema (a PROTOBUF key message's fields); without value columns it
//!   takes the fields of the `<topic>-value` record or message (or one column `ROWVAL` of an
//!   unwrapped AVRO value). `KEY_SCHEMA_ID` / `VALUE_SCHEMA_ID`
//!   name the schema instead of the subject's latest, for a CREATE (then no such columns may be
//!   declared) and for a CREATE ... AS SELECT (whose records are then written with it);
//! - **registration**: a CREATE over a topic registers the schema generated for its columns
//!   only when the subject has none (else it writes with the latest); a CREATE ... AS SELECT
//!   always registers its sink's schema.
//!
//! The registry is `ksql.schema.registry.url`'s when that is set, else the one kept in this
//! process's log.

use super::props::With;
use super::Engine;
use crate::catalog::types::SqlType;
use crate::catalog::{typed_columns, Column, ColumnKind, Source};
use crate::error::{Error, Result};
use crate::format::avro::{self, AvroCodec};
use crate::format::json_sr::{self, JsonSrCodec};
use crate::format::protobuf::{self, ProtoCodec};
use crate::format::{Codec, Format, FormatSpec};
use crate::registry::{SchemaType, Schemas};
use std::sync::Arc;

fn registry(engine: &Engine) -> Result<Arc<dyn Schemas>> {
    engine.schemas().cloned().ok_or_else(|| {
        Error::statement("The format needs the schema registry, which is not available")
    })
}

fn part(is_key: bool) -> (&'static str, &'static str) {
    match is_key {
        true => ("key", "KEY"),
        false => ("value", "VALUE"),
    }
}

/// Where a source's key or value schema comes from.
pub(super) enum Origin {
    /// A registered schema (its id and text): inferred, or named by `*_SCHEMA_ID`.
    Schema(u32, String),
    /// The columns of a CREATE over a topic.
    Create,
    /// The columns of a query's sink.
    Query,
}

/// A key or value schema taken from the registry, and the columns it gives.
pub(super) struct Inferred {
    pub columns: Vec<Column>,
    pub id: u32,
    pub text: String,
}

/// The key (`is_key`) or value schema a CREATE or CREATE ... AS SELECT takes from the
/// registry, if it takes one: `*_SCHEMA_ID` is given, or (a CREATE) no such columns are declared
/// and the format infers them.
pub(super) fn infer(
    engine: &Engine,
    with: &With,
    topic: &str,
    format: Format,
    declared: Option<bool>,
    is_key: bool,
) -> Result<Option<Inferred>> {
    let (word, upper) = part(is_key);
    let id_prop = format!("{upper}_SCHEMA_ID");
    let id = with.int(&id_prop)?;
    // A schema named by id keeps its fields' names: records are written with it as it is.
    let exact = id.is_some();
    let expected = format.schema_type();
    let infers = expected.is_some();
    if id.is_some() {
        if !infers {
            return Err(Error::statement(format!(
                "{upper}_FORMAT should support schema inference when {id_prop} is provided. Current format is {}.",
                format.name()
            )));
        }
        if declared == Some(true) {
            return Err(Error::statement(format!(
                "Table elements and {id_prop} cannot both exist for create statement."
            )));
        }
    } else if !infers || declared != Some(false) {
        return Ok(None);
    }
    let registry = registry(engine)?;
    let subject = format!("{topic}-{word}");
    let (id, kind, text) = match id {
        Some(id) => {
            let s = registry.schema(id).map_err(|e| {
                Error::statement(format!(
                    "Could not get schema for {word} on topic {topic} with id {id}: {}",
                    e.message
                ))
            })?;
            (id, s.kind, s.text)
        }
        None => {
            let latest = registry.latest(&subject).map_err(|_| {
                Error::statement(format!(
                    "Schema for message {word}s on topic '{topic}' does not exist in the Schema Registry.Subject: {subject}"
                ))
            })?;
            (latest.id, latest.kind, latest.schema)
        }
    };
    if Some(kind) != expected {
        return Err(Error::statement(format!(
            "{} schema is not in the expected format. You may want to set {upper}_FORMAT to '{}'.\ntopic: {topic}\nexpected format: {}\nactual format: {}",
            if is_key { "Key" } else { "Value" },
            kind.name(),
            format.name(),
            kind.name()
        )));
    }
    let unwrapped = !is_key && with.bool("WRAP_SINGLE_VALUE")? == Some(false);
    let name = with.text(&format!("{upper}_SCHEMA_FULL_NAME"));
    let columns = match (format, is_key, unwrapped) {
        (Format::Protobuf, _, _) => {
            let imports = protobuf::imports_of(registry.as_ref(), id).map_err(Error::statement)?;
            protobuf::columns_of(&text, &imports, name.as_deref(), exact)?
        }
        (Format::JsonSr, true, _) => vec![("ROWKEY".into(), json_sr::type_of(&text, exact)?)],
        (Format::JsonSr, false, true) => {
            vec![("ROWVAL".into(), json_sr::type_of(&text, exact)?)]
        }
        (Format::JsonSr, false, false) => json_sr::columns_of(&text, exact)?,
        (_, true, _) => vec![("ROWKEY".to_string(), avro::type_of(&text, exact)?)],
        (_, false, true) => vec![("ROWVAL".to_string(), avro::type_of(&text, exact)?)],
        (_, false, false) => avro::columns_of(&text, exact)?,
    };
    let kind = if is_key {
        ColumnKind::Key
    } else {
        ColumnKind::Value
    };
    let columns = columns
        .into_iter()
        .map(|(name, ty)| Column {
            name,
            ty,
            kind: kind.clone(),
        })
        .collect();
    Ok(Some(Inferred { columns, id, text }))
}

/// A query whose sink names its schema by id writes its columns with it: each must be that
/// schema's column at the same place, with the same name and type (the schema may have more
/// after them), as ksqlDB checks.
pub(super) fn check_columns(
    columns: &[Column],
    kind: &ColumnKind,
    registered: &[Column],
) -> Result<()> {
    let show = |cols: &mut dyn Iterator<Item = &Column>| {
        cols.map(|c| format!("`{}` {}", c.name, c.ty))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ours: Vec<&Column> = columns.iter().filter(|c| &c.kind == kind).collect();
    let differ: Vec<&Column> = ours
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            registered
                .get(*i)
                .is_none_or(|r| r.name != c.name || r.ty != c.ty)
        })
        .map(|(_, c)| *c)
        .collect();
    if differ.is_empty() {
        return Ok(());
    }
    let word = if *kind == ColumnKind::Key {
        "key"
    } else {
        "value"
    };
    Err(Error::statement(format!(
        "The following {word} columns are changed, missing or reordered: [{}]. Schema from schema registry is [{}]",
        show(&mut differ.into_iter()),
        show(&mut registered.iter())
    )))
}

/// The names of the record schemas generated for the key and the value
/// (`KEY_SCHEMA_FULL_NAME`, `VALUE_SCHEMA_FULL_NAME` or `VALUE_AVRO_SCHEMA_FULL_NAME`).
pub(super) fn full_names(
    with: &With,
    key: Format,
    value: Format,
) -> Result<(Option<String>, Option<String>)> {
    let name = |props: &[&str], format: Format| -> Result<Option<String>> {
        let Some((prop, given)) = props.iter().find_map(|p| with.text(p).map(|v| (*p, v))) else {
            return Ok(None);
        };
        let avro_only = prop == "VALUE_AVRO_SCHEMA_FULL_NAME";
        if !(format == Format::Avro || format == Format::Protobuf && !avro_only) {
            return Err(Error::statement(format!(
                "{} does not support the following configs: [fullSchemaName]",
                format.name()
            )));
        }
        let given = given.trim().to_string();
        if given.is_empty() {
            return Err(Error::statement(
                "fullSchemaName cannot be empty. Format configuration: {fullSchemaName=}",
            ));
        }
        Ok(Some(given))
    };
    Ok((
        name(&["KEY_SCHEMA_FULL_NAME"], key)?,
        name(
            &["VALUE_SCHEMA_FULL_NAME", "VALUE_AVRO_SCHEMA_FULL_NAME"],
            value,
        )?,
    ))
}

/// Gives an AVRO key and value their codecs: the schema each came from, or the one generated for
/// its columns (registered as [`Origin`] says), its record named as `names` say.
pub(super) fn attach(
    engine: &Engine,
    source: &mut Source,
    origins: (Origin, Origin),
    names: (Option<String>, Option<String>),
) -> Result<()> {
    let keys = typed_columns(&source.columns, &ColumnKind::Key);
    let values = typed_columns(&source.columns, &ColumnKind::Value);
    let topic = source.topic.clone();
    let key = Part {
        subject: format!("{topic}-key"),
        origin: origins.0,
        // ksqlDB names an AVRO key's record after the source.
        name: names.0.or_else(|| {
            (source.key_format.format == Format::Avro).then(|| avro::key_name(&source.name))
        }),
        is_key: true,
    };
    attach_one(engine, &mut source.key_format, &keys, key)?;
    let value = Part {
        subject: format!("{topic}-value"),
        origin: origins.1,
        name: names.1,
        is_key: false,
    };
    attach_one(engine, &mut source.value_format, &values, value)
}

struct Part {
    subject: String,
    origin: Origin,
    name: Option<String>,
    is_key: bool,
}

fn attach_one(
    engine: &Engine,
    spec: &mut FormatSpec,
    cols: &[(&str, &SqlType)],
    part: Part,
) -> Result<()> {
    if !spec.format.has_schema() || cols.is_empty() {
        return Ok(());
    }
    if spec.format == Format::ProtobufNoSr {
        let codec = ProtoCodec::register(None, &part.subject, cols, part.name.as_deref())?;
        spec.codec = Some(Codec::Protobuf(Arc::new(codec)));
        return Ok(());
    }
    let registry = registry(engine)?;
    let kind = spec.format.schema_type().unwrap_or(SchemaType::Avro);
    let existing = match part.origin {
        Origin::Schema(id, text) => Some((id, text)),
        Origin::Create => registry
            .latest(&part.subject)
            .ok()
            .filter(|l| l.kind == kind)
            .map(|l| (l.id, l.schema)),
        Origin::Query => None,
    };
    let wrapped = spec.wraps(cols.len());
    let name = part.name.as_deref();
    spec.codec = Some(match (kind, existing) {
        (SchemaType::Json, Some((id, text))) => {
            Codec::JsonSr(Arc::new(JsonSrCodec::new(id, &text, cols)))
        }
        (SchemaType::Json, None) => {
            let text = json_sr::schema_for(cols, wrapped).to_string();
            let id = registry
                .register(&part.subject, SchemaType::Json, &text)
                .map_err(|e| {
                    Error::statement(format!(
                        "Could not register schema for topic: {} ({})",
                        e.message, e.code
                    ))
                })?;
            Codec::JsonSr(Arc::new(JsonSrCodec {
                id,
                extra: Vec::new(),
            }))
        }
        (SchemaType::Protobuf, Some((id, text))) => Codec::Protobuf(Arc::new(ProtoCodec::new(
            &text,
            name,
            Some(id),
            Some(registry),
        )?)),
        (SchemaType::Protobuf, None) => Codec::Protobuf(Arc::new(ProtoCodec::register(
            Some(registry),
            &part.subject,
            cols,
            name,
        )?)),
        (_, Some((id, text))) => {
            Codec::Avro(Arc::new(AvroCodec::existing(registry, id, &text, wrapped)?))
        }
        (_, None) => Codec::Avro(Arc::new(AvroCodec::register(
            registry,
            &part.subject,
            cols,
            wrapped,
            name,
            part.is_key,
        )?)),
    });
    Ok(())
}
