//! Sources in a schema-registry format (AVRO), after ksqlDB's `DefaultSchemaInjector` and
//! `SchemaRegisterInjector`:
//! - **inference**: a CREATE without key columns takes one key column `ROWKEY` of the whole
//!   `<topic>-key` schema; without value columns it takes the fields of the `<topic>-value`
//!   record (or one column `ROWVAL` of an unwrapped value). `KEY_SCHEMA_ID` / `VALUE_SCHEMA_ID`
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
use crate::format::avro::{columns_of, type_of, AvroCodec};
use crate::format::{Format, FormatSpec};
use crate::registry::{SchemaType, Schemas};
use std::sync::Arc;

fn registry(engine: &Engine) -> Result<Arc<dyn Schemas>> {
    engine
        .schemas()
        .cloned()
        .ok_or_else(|| Error::statement("AVRO needs the schema registry, which is not available"))
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
    let infers = format == Format::Avro;
    if let Some(_id) = id {
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
    if kind != SchemaType::Avro {
        return Err(Error::statement(format!(
            "{} schema is not in the expected format. You may want to set {upper}_FORMAT to '{}'.\ntopic: {topic}\nexpected format: AVRO\nactual format: {}",
            if is_key { "Key" } else { "Value" },
            kind.name(),
            kind.name()
        )));
    }
    let unwrapped = !is_key && with.bool("WRAP_SINGLE_VALUE")? == Some(false);
    let columns = match (is_key, unwrapped) {
        (true, _) => vec![("ROWKEY".to_string(), type_of(&text)?)],
        (false, true) => vec![("ROWVAL".to_string(), type_of(&text)?)],
        (false, false) => columns_of(&text)?,
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

/// The names of the record schemas generated for the key and the value
/// (`KEY_SCHEMA_FULL_NAME`, `VALUE_SCHEMA_FULL_NAME` or `VALUE_AVRO_SCHEMA_FULL_NAME`).
pub(super) fn full_names(
    with: &With,
    key: Format,
    value: Format,
) -> Result<(Option<String>, Option<String>)> {
    let name = |props: &[&str], format: Format| -> Result<Option<String>> {
        let Some(given) = props.iter().find_map(|p| with.text(p)) else {
            return Ok(None);
        };
        if format != Format::Avro {
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
        name: names.0,
    };
    attach_one(engine, &mut source.key_format, &keys, key)?;
    let value = Part {
        subject: format!("{topic}-value"),
        origin: origins.1,
        name: names.1,
    };
    attach_one(engine, &mut source.value_format, &values, value)
}

struct Part {
    subject: String,
    origin: Origin,
    name: Option<String>,
}

fn attach_one(
    engine: &Engine,
    spec: &mut FormatSpec,
    cols: &[(&str, &SqlType)],
    part: Part,
) -> Result<()> {
    if spec.format != Format::Avro || cols.is_empty() {
        return Ok(());
    }
    let registry = registry(engine)?;
    let latest = match part.origin {
        Origin::Create => registry.latest(&part.subject).ok(),
        _ => None,
    };
    let wrapped = spec.wraps(cols.len());
    let codec = match (part.origin, latest) {
        (Origin::Schema(id, text), _) => AvroCodec::existing(registry, id, &text, wrapped)?,
        (_, Some(latest)) if latest.kind == SchemaType::Avro => {
            AvroCodec::existing(registry, latest.id, &latest.schema, wrapped)?
        }
        _ => AvroCodec::register(registry, &part.subject, cols, wrapped, part.name.as_deref())?,
    };
    spec.avro = Some(Arc::new(codec));
    Ok(())
}
