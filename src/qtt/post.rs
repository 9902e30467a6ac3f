//! QTT `post` conditions: the sources a case leaves in the catalog.

use crate::catalog::ColumnKind;
use crate::engine::Engine;
use crate::sql::ast::SourceKind;
use serde_json::Value;

pub fn check(engine: &Engine, post: &Value) -> Result<(), String> {
    for expected in post["sources"].as_array().into_iter().flatten() {
        let name = expected["name"].as_str().unwrap_or_default();
        let source = engine
            .source(name)
            .ok_or_else(|| format!("post: source {name} does not exist"))?;
        if let Some(t) = expected["type"].as_str() {
            let kind = if t.eq_ignore_ascii_case("table") {
                SourceKind::Table
            } else {
                SourceKind::Stream
            };
            if kind != source.kind {
                return Err(format!(
                    "post: {name} is a {}, expected a {t}",
                    source.kind.name()
                ));
            }
        }
        if let Some(schema) = expected["schema"].as_str() {
            let want = crate::sql::parse_columns(schema)
                .map_err(|e| format!("post: bad schema '{schema}': {e}"))?;
            let want: Vec<(String, String, bool)> = want
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        c.ty.to_string(),
                        matches!(
                            c.role,
                            crate::sql::ast::ColumnRole::Key
                                | crate::sql::ast::ColumnRole::PrimaryKey
                        ),
                    )
                })
                .collect();
            let have: Vec<(String, String, bool)> = source
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.ty.to_string(), c.kind == ColumnKind::Key))
                .collect();
            if want != have {
                return Err(format!(
                    "post: {name} has schema {}, expected {schema}",
                    source.schema_string()
                ));
            }
        }
        let format_name = |v: &Value| {
            v.as_str()
                .map(String::from)
                .or_else(|| v["format"].as_str().map(String::from))
        };
        if let Some(kf) = format_name(&expected["keyFormat"]) {
            if !kf.eq_ignore_ascii_case(source.key_format.format.name()) {
                return Err(format!(
                    "post: {name} has key format {}, expected {kf}",
                    source.key_format.format.name()
                ));
            }
        }
        if let Some(vf) = format_name(&expected["valueFormat"]) {
            if !vf.eq_ignore_ascii_case(source.value_format.format.name()) {
                return Err(format!(
                    "post: {name} has value format {}, expected {vf}",
                    source.value_format.format.name()
                ));
            }
        }
        if let Some(is_source) = expected["isSource"].as_bool() {
            if is_source != source.is_source {
                return Err(format!(
                    "post: {name} isSource is {}, expected {is_source}",
                    source.is_source
                ));
            }
        }
    }
    Ok(())
}

/// `post.topics.topics`: each topic exists, and the key and value schemas registered for it
/// are the ones expected (AVRO and JSON schemas compared as JSON, PROTOBUF ones as text with
/// whitespace collapsed), as ksqlDB's runner compares them. Not checked: ksqlDB's internal
/// topics (`_confluent-ksql-...`: the embedded engine keeps repartitions and changelogs inside
/// its operators), and partition counts (ksqlDB's runner makes every topic the records name
/// with 4 partitions before the statements run, and its fake Kafka lets a CREATE take a topic
/// of any count; this runner makes only the declared ones).
pub fn check_topics(engine: &Engine, post: &Value) -> Result<(), String> {
    for expected in post["topics"]["topics"].as_array().into_iter().flatten() {
        let name = expected["name"].as_str().unwrap_or_default();
        if name.starts_with("_confluent-ksql-") {
            continue;
        }
        if engine.log().topic(name).is_none() {
            return Err(format!("post: topic {name} does not exist"));
        }
        for part in ["key", "value"] {
            let want = &expected[format!("{part}Schema")];
            if want.is_null() {
                continue;
            }
            let subject = format!("{name}-{part}");
            let registry = engine.schemas().ok_or("post: no schema registry")?;
            let have = registry
                .latest(&subject)
                .map_err(|e| format!("post: {subject}: {}", e.message))?
                .schema;
            let same = match want {
                Value::String(text) => words(text) == words(&have),
                json => serde_json::from_str::<Value>(&have).is_ok_and(|h| &h == json),
            };
            if !same {
                return Err(format!(
                    "post: {subject} has schema {have}, expected {want}"
                ));
            }
        }
    }
    Ok(())
}

fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}
