//! Sources in a schema-registry format (AVRO): their columns from the registry when a CREATE
//! names none (ksqlDB's schema inference), and their codecs, whose schemas are registered under
//! the topic's `-key` and `-value` subjects when the source is made (again, to the same id,
//! when the statement is replayed). The registry is `ksql.schema.registry.url`'s when that is
//! set, else the one kept in this process's log.

use super::Engine;
use crate::catalog::{typed_columns, Column, ColumnKind, Source};
use crate::error::{Error, Result};
use crate::format::avro::{columns_of, AvroCodec};
use crate::format::{Format, FormatSpec};
use std::sync::Arc;

fn registry(engine: &Engine) -> Result<Arc<dyn crate::registry::Schemas>> {
    engine
        .schemas()
        .cloned()
        .ok_or_else(|| Error::statement("AVRO needs the schema registry, which is not available"))
}

/// The value columns of `topic`'s latest `-value` schema, with that schema's id and text.
pub(super) fn infer_values(engine: &Engine, topic: &str) -> Result<(Vec<Column>, u32, String)> {
    let subject = format!("{topic}-value");
    let latest = registry(engine)?.latest(&subject).map_err(|e| {
        Error::statement(format!(
            "Schema for message values on topic '{topic}' does not exist in the Schema Registry. Subject: {subject}\n{}",
            e.message
        ))
    })?;
    let columns = columns_of(&latest.schema)?
        .into_iter()
        .map(|(name, ty)| Column {
            name,
            ty,
            kind: ColumnKind::Value,
        })
        .collect();
    Ok((columns, latest.id, latest.schema))
}

/// Gives an AVRO key or value its codec: the schema it was inferred from (`inferred`), or the
/// one generated for its columns, registered.
pub(super) fn attach(
    engine: &Engine,
    source: &mut Source,
    inferred: Option<(u32, String)>,
) -> Result<()> {
    let keys = typed_columns(&source.columns, &ColumnKind::Key);
    let values = typed_columns(&source.columns, &ColumnKind::Value);
    let topic = source.topic.clone();
    attach_one(
        engine,
        &mut source.key_format,
        &keys,
        &format!("{topic}-key"),
        None,
    )?;
    attach_one(
        engine,
        &mut source.value_format,
        &values,
        &format!("{topic}-value"),
        inferred,
    )
}

fn attach_one(
    engine: &Engine,
    spec: &mut FormatSpec,
    cols: &[(&str, &crate::catalog::types::SqlType)],
    subject: &str,
    inferred: Option<(u32, String)>,
) -> Result<()> {
    if spec.format != Format::Avro || cols.is_empty() {
        return Ok(());
    }
    let registry = registry(engine)?;
    let codec = match inferred {
        Some((id, text)) => AvroCodec::existing(registry, id, &text)?,
        None => AvroCodec::register(registry, subject, cols, spec.wraps(cols.len()))?,
    };
    spec.avro = Some(Arc::new(codec));
    Ok(())
}
