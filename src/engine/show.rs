//! SHOW and DESCRIBE listings, shaped like ksqlDB's entities.

use super::{Engine, Listing, Session};
use crate::catalog::{ColumnKind, Source};
use crate::error::{Error, Result};
use crate::sql::ast::{ShowKind, SourceKind};
use serde_json::json;

fn source_row(s: &Source) -> Vec<String> {
    vec![
        s.name.clone(),
        s.topic.clone(),
        s.key_format.format.name().into(),
        s.value_format.format.name().into(),
        s.window.is_some().to_string(),
    ]
}

pub fn show(engine: &Engine, kind: &ShowKind, session: &Session) -> Listing {
    let inner = engine.lock();
    match kind {
        ShowKind::Connectors => super::connectors::show(&inner),
        ShowKind::Variables => Listing {
            kind: "variables".into(),
            title: None,
            headers: vec!["Variable Name".into(), "Value".into()],
            rows: session
                .variables
                .iter()
                .map(|(k, v)| vec![k.clone(), v.clone()])
                .collect(),
            footer: None,
            json: json!({"variables": session.variables.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>()}),
        },
        ShowKind::Streams | ShowKind::Tables => {
            let want = if *kind == ShowKind::Streams {
                SourceKind::Stream
            } else {
                SourceKind::Table
            };
            let sources: Vec<&std::sync::Arc<Source>> =
                inner.catalog.iter().filter(|s| s.kind == want).collect();
            let label = if want == SourceKind::Stream {
                "Stream"
            } else {
                "Table"
            };
            let json_key = if want == SourceKind::Stream {
                "streams"
            } else {
                "tables"
            };
            Listing {
                kind: json_key.into(),
                title: None,
                headers: vec![
                    format!("{label} Name"),
                    "Kafka Topic".into(),
                    "Key Format".into(),
                    "Value Format".into(),
                    "Windowed".into(),
                ],
                rows: sources.iter().map(|s| source_row(s)).collect(),
                footer: None,
                json: json!({json_key: sources.iter().map(|s| json!({
                    "type": s.kind.name(), "name": s.name, "topic": s.topic,
                    "keyFormat": s.key_format.format.name(), "valueFormat": s.value_format.format.name(),
                    "isWindowed": s.window.is_some()})).collect::<Vec<_>>()}),
            }
        }
        ShowKind::Queries => {
            let rows: Vec<Vec<String>> = inner
                .queries
                .values()
                .map(|q| {
                    let status = match q.state() {
                        crate::exec::persistent::QueryState::Running => "RUNNING:1".to_string(),
                        crate::exec::persistent::QueryState::Error(_) => "ERROR:1".to_string(),
                        crate::exec::persistent::QueryState::Terminated => {
                            "TERMINATED:1".to_string()
                        }
                    };
                    let text = q.statement.split_whitespace().collect::<Vec<_>>().join(" ");
                    vec![
                        q.id.clone(),
                        "PERSISTENT".into(),
                        status,
                        q.sink.clone(),
                        q.sink_topic.clone(),
                        text,
                    ]
                })
                .collect();
            Listing {
                kind: "queries".into(),
                title: None,
                headers: [
                    "Query ID",
                    "Query Type",
                    "Status",
                    "Sink Name",
                    "Sink Kafka Topic",
                    "Query String",
                ]
                .map(String::from)
                .to_vec(),
                json: json!({"queries": rows.iter().map(|r| json!({"id": r[0], "queryType": r[1], "state": r[2].trim_end_matches(":1"),
                    "sinks": [r[3]], "sinkKafkaTopics": [r[4]], "queryString": r[5]})).collect::<Vec<_>>()}),
                rows,
                footer: Some("For detailed information on a Query run: EXPLAIN <Query ID>;".into()),
            }
        }
        ShowKind::Topics => {
            let topics: Vec<_> = engine
                .log
                .topics()
                .into_iter()
                .filter(|t| !t.name.starts_with('_'))
                .collect();
            Listing {
                kind: "kafka_topics".into(),
                title: None,
                headers: vec![
                    "Kafka Topic".into(),
                    "Partitions".into(),
                    "Partition Replicas".into(),
                ],
                rows: topics
                    .iter()
                    .map(|t| vec![t.name.clone(), t.partitions.to_string(), "1".into()])
                    .collect(),
                footer: None,
                json: json!({"topics": topics.iter().map(|t| json!({"name": t.name, "replicaInfo": vec![1; t.partitions as usize]})).collect::<Vec<_>>()}),
            }
        }
        ShowKind::Properties => {
            let mut all = engine.config.properties.clone();
            all.extend(session.properties.clone());
            all.entry("auto.offset.reset".into())
                .or_insert_with(|| "latest".into());
            Listing {
                kind: "properties".into(),
                title: None,
                headers: vec![
                    "Property".into(),
                    "Scope".into(),
                    "Default override".into(),
                    "Effective Value".into(),
                ],
                rows: all
                    .iter()
                    .map(|(k, v)| {
                        let overridden = if session.properties.contains_key(k) {
                            "SESSION"
                        } else {
                            ""
                        };
                        vec![k.clone(), "SERVICE".into(), overridden.into(), v.clone()]
                    })
                    .collect(),
                footer: None,
                json: json!({"properties": all}),
            }
        }
        ShowKind::Functions => {
            let all = crate::functions::catalog();
            Listing {
                kind: "function_names".into(),
                title: None,
                headers: vec!["Function Name".into(), "Type".into()],
                rows: all
                    .iter()
                    .map(|(n, t)| vec![n.clone(), t.to_string()])
                    .collect(),
                footer: Some("For detailed information on a function run: DESCRIBE FUNCTION <Function Name>;".into()),
                json: json!({"functions": all.iter().map(|(n, t)| json!({"name": n, "type": t, "category": t})).collect::<Vec<_>>()}),
            }
        }
    }
}

/// DESCRIBE FUNCTION: the function's variations.
pub fn describe_function(name: &str) -> Result<Listing> {
    let d = crate::functions::describe(name).ok_or_else(|| {
        Error::statement(format!("Can't find any functions with the name '{name}'"))
    })?;
    Ok(Listing {
        kind: "describe_function".into(),
        title: Some(format!(
            "Name        : {}\nType        : {}\nJar         : internal\nVariations  :",
            d.name, d.kind
        )),
        headers: vec!["Variation".into(), "Returns".into()],
        rows: d
            .variations
            .iter()
            .map(|(v, r)| vec![v.clone(), r.clone()])
            .collect(),
        footer: None,
        json: json!({
            "name": d.name, "type": d.kind, "path": "internal", "author": "", "version": "",
            "description": "",
            "functions": d.variations.iter().map(|(v, r)| json!({"arguments": v, "returnType": r})).collect::<Vec<_>>(),
        }),
    })
}

/// A column as ksqlDB's entities list it (`sourceDescription`, `queryDescription`).
pub(super) fn field_json(c: &crate::catalog::Column) -> serde_json::Value {
    let key = (c.kind == ColumnKind::Key).then_some("KEY");
    json!({"name": c.name, "schema": {"type": c.ty.to_string()}, "type": key})
}

pub fn describe(engine: &Engine, name: &str, extended: bool) -> Result<Listing> {
    let inner = engine.lock();
    let s = inner.catalog.get(name).ok_or_else(|| {
        Error::statement(format!(
            "Could not find STREAM/TABLE '{name}' in the Metastore"
        ))
    })?;
    let key_word = if s.kind == SourceKind::Stream {
        "(key)"
    } else {
        "(primary key)"
    };
    let rows: Vec<Vec<String>> = s
        .columns
        .iter()
        .map(|c| {
            let role = match &c.kind {
                ColumnKind::Key => key_word.to_string(),
                ColumnKind::Value => String::new(),
                ColumnKind::Headers => "(headers)".into(),
                ColumnKind::Header(k) => format!("(header('{k}'))"),
            };
            let ty = match c.ty.to_string().as_str() {
                "STRING" => "VARCHAR(STRING)".to_string(),
                t => t.to_string(),
            };
            vec![
                c.name.clone(),
                format!("{ty} {role}").trim_end().to_string(),
            ]
        })
        .collect();
    let mut title = format!("Name                 : {}", s.name);
    if extended {
        let parts = engine.log.topic(&s.topic).map_or(0, |t| t.partitions);
        title.push_str(&format!(
            "\nType                 : {}\nTimestamp field      : {}\nKey format           : {}\nValue format         : {}\nKafka topic          : {} (partitions: {parts}, replication: 1)\nStatement            : {}",
            s.kind.name(),
            s.timestamp.as_ref().map_or("Not set - using <ROWTIME>".to_string(), |t| t.0.clone()),
            s.key_format.format.name(),
            s.value_format.format.name(),
            s.topic,
            s.statement
        ));
    }
    let readers: Vec<String> = inner
        .queries
        .values()
        .filter(|q| q.sources.contains(&s.name))
        .map(|q| format!("{} (RUNNING) : {}", q.id, q.statement))
        .collect();
    let writers: Vec<String> = inner
        .queries
        .values()
        .filter(|q| q.sink == s.name)
        .map(|q| format!("{} (RUNNING) : {}", q.id, q.statement))
        .collect();
    let late: u64 = inner
        .queries
        .values()
        .filter(|q| q.sink == s.name)
        .map(|q| q.late_records())
        .sum();
    let state: u64 = inner
        .queries
        .values()
        .filter(|q| q.sink == s.name)
        .map(|q| q.state_rows())
        .sum();
    let footer = if extended {
        format!(
            "\nQueries that read from this {kind}\n-----------------------------------\n{}\n\nQueries that write from this {kind}\n-----------------------------------\n{}\n\nProcessing errors (all queries): {}\nLate records dropped (windows already closed): {late}\nRows of state held (groups, windows, join rows): {state}",
            readers.join("\n"),
            writers.join("\n"),
            engine.plog.error_count(),
            kind = s.kind.name()
        )
    } else {
        "For runtime statistics and query details run: DESCRIBE <Stream,Table> EXTENDED;"
            .to_string()
    };
    Ok(Listing {
        kind: "sourceDescription".into(),
        title: Some(title),
        headers: vec!["Field".into(), "Type".into()],
        json: json!({"sourceDescription": {
            "name": s.name, "type": s.kind.name(), "topic": s.topic,
            "keyFormat": s.key_format.format.name(), "valueFormat": s.value_format.format.name(),
            "fields": s.columns.iter().map(field_json).collect::<Vec<_>>(),
            "readQueries": readers, "writeQueries": writers, "statement": s.statement,
            "errorStats": engine.plog.error_count(), "lateRecords": late,
        }}),
        rows,
        footer: Some(footer),
    })
}
