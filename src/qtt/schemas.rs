//! The schemas a case starts with, registered as ksqlDB's runner registers them before the
//! statements run, so that the ids a case names (`VALUE_SCHEMA_ID=2`) are the same: first the
//! declared schemas that name their ids, then those of the CREATE statements over topics that
//! are not declared (the schema generated for their key and value columns in a format with
//! schemas), then the other declared ones. In each topic, the key's before the value's.

use super::load::Case;
use crate::engine::Engine;
use crate::format::{avro, json_sr, protobuf};
use crate::registry::{Reference, SchemaType};
use crate::sql::ast::{ColumnRole, PropValue, Statement};
use serde_json::Value;

pub fn register(engine: &Engine, case: &Case) -> Result<(), String> {
    let registry = engine.registry().ok_or("no schema registry")?;
    let declared = |with_id: bool| -> Result<(), String> {
        for t in &case.topics {
            let Some(name) = t["name"].as_str() else {
                continue;
            };
            for part in ["key", "value"] {
                if t[format!("{part}SchemaId")].is_u64() == with_id {
                    register_declared(engine, t, name, part)?;
                }
            }
        }
        Ok(())
    };
    declared(true)?;
    for (subject, kind, text) in from_statements(case) {
        registry
            .register_as(&subject, kind, &text, None)
            .map_err(|e| format!("registering {subject}: {}", e.message))?;
    }
    declared(false)
}

/// Registers a topic's `keySchema` or `valueSchema` (`part`) under its subject, with the id
/// `keySchemaId` / `valueSchemaId` names: AVRO and JSON schemas are JSON, PROTOBUF ones text.
fn register_declared(engine: &Engine, topic: &Value, name: &str, part: &str) -> Result<(), String> {
    let schema = &topic[format!("{part}Schema")];
    if schema.is_null() {
        return Ok(());
    }
    let format = topic[format!("{part}Format")]
        .as_str()
        .or(topic["format"].as_str())
        .unwrap_or("AVRO");
    let (kind, text) = match format.to_uppercase().as_str() {
        "PROTOBUF" | "PROTOBUF_NOSR" => (
            SchemaType::Protobuf,
            schema.as_str().unwrap_or_default().to_string(),
        ),
        "JSON" | "JSON_SR" => (SchemaType::Json, schema.to_string()),
        _ => (SchemaType::Avro, schema.to_string()),
    };
    let id = topic[format!("{part}SchemaId")]
        .as_u64()
        .map(|id| id as u32);
    let registry = engine.registry().ok_or("no schema registry")?;
    // Each reference is registered under a subject of its own name first.
    let mut references = Vec::new();
    for r in topic[format!("{part}SchemaReferences")]
        .as_array()
        .into_iter()
        .flatten()
    {
        let (Some(ref_name), Some(text)) = (r["name"].as_str(), r["schema"].as_str()) else {
            continue;
        };
        let kind = match r["format"].as_str().map(str::to_uppercase).as_deref() {
            Some("AVRO") => SchemaType::Avro,
            Some("JSON" | "JSON_SR") => SchemaType::Json,
            _ => SchemaType::Protobuf,
        };
        registry
            .register(ref_name, kind, text)
            .map_err(|e| format!("registering reference {ref_name}: {}", e.message))?;
        let version = registry
            .version(ref_name, None)
            .map_err(|e| e.message)?
            .version;
        references.push(Reference {
            name: ref_name.to_string(),
            subject: ref_name.to_string(),
            version,
        });
    }
    registry
        .register_with(&format!("{name}-{part}"), kind, &text, &references, id)
        .map(drop)
        .map_err(|e| format!("registering {name}'s {part} schema: {}", e.message))
}

/// The schemas of the CREATE statements over topics the case does not declare.
fn from_statements(case: &Case) -> Vec<(String, SchemaType, String)> {
    let mut out = Vec::new();
    for parsed in case
        .statements
        .iter()
        .filter_map(|s| crate::sql::parse(s).ok())
        .flatten()
    {
        let Statement::CreateSource {
            name,
            columns,
            props,
            ..
        } = parsed.statement
        else {
            continue;
        };
        let prop = |k: &str| {
            props
                .iter()
                .find(|(p, _)| p == k)
                .map(|(_, v)| v.as_text().to_uppercase())
        };
        let Some(topic) = props
            .iter()
            .find(|(p, _)| p == "KAFKA_TOPIC")
            .map(|(_, v)| v.as_text())
        else {
            continue;
        };
        if case.topics.iter().any(|t| t["name"] == topic.as_str()) {
            continue;
        }
        let key_format = prop("KEY_FORMAT").or(prop("FORMAT"));
        let value_format = prop("VALUE_FORMAT").or(prop("FORMAT"));
        let is_key = |c: &&crate::sql::ast::ColumnDef| {
            matches!(c.role, ColumnRole::Key | ColumnRole::PrimaryKey)
        };
        let keys: Vec<(&str, &_)> = columns
            .iter()
            .filter(is_key)
            .map(|c| (c.name.as_str(), &c.ty))
            .collect();
        let values: Vec<(&str, &_)> = columns
            .iter()
            .filter(|c| c.role == ColumnRole::Value)
            .map(|c| (c.name.as_str(), &c.ty))
            .collect();
        let unwrap_value = props
            .iter()
            .any(|(p, v)| p == "WRAP_SINGLE_VALUE" && matches!(v, PropValue::Bool(false)))
            || prop("WRAP_SINGLE_VALUE").as_deref() == Some("FALSE");
        let raw = |k: &str| {
            props
                .iter()
                .find(|(p, _)| p == k)
                .map(|(_, v)| v.as_text().trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let value_name = raw("VALUE_AVRO_SCHEMA_FULL_NAME").or(raw("VALUE_SCHEMA_FULL_NAME"));
        let key_name = raw("KEY_SCHEMA_FULL_NAME");
        let generated = [
            (key_format, keys, true, key_name, "key"),
            (value_format, values, false, value_name, "value"),
        ];
        for (format, cols, is_key, full_name, part) in generated {
            if cols.is_empty() {
                continue;
            }
            let wrapped = cols.len() > 1 || (!is_key && !unwrap_value);
            let schema = match format.as_deref() {
                Some("AVRO") => {
                    let key = is_key.then(|| avro::key_name(&name));
                    let full_name = full_name.clone().or(key);
                    let schema = avro::schema_for(&cols, wrapped, full_name.as_deref(), is_key);
                    Some((SchemaType::Avro, schema.to_string()))
                }
                Some("PROTOBUF") => protobuf::schema_for(&cols, full_name.as_deref())
                    .ok()
                    .map(|t| (SchemaType::Protobuf, t)),
                Some("JSON_SR") => Some((
                    SchemaType::Json,
                    json_sr::schema_for(&cols, wrapped).to_string(),
                )),
                _ => None,
            };
            if let Some((kind, text)) = schema {
                out.push((format!("{topic}-{part}"), kind, text));
            }
        }
    }
    out
}
