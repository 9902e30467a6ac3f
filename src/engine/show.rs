//! SHOW and DESCRIBE listings, shaped like ksqlDB's entities.

use super::{Engine, Listing, QueryHandle, Session};
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

/// SHOW: a list of the kind; with EXTENDED, as ksqlDB, the streams and tables are described
/// (`source_descriptions`), the queries explained (`query_descriptions`) and the topics
/// counted with their readers (`kafka_topics_extended`).
pub fn show(
    engine: &Engine,
    kind: &ShowKind,
    extended: bool,
    session: &Session,
) -> Result<Listing> {
    if extended {
        if let Some(l) = show_extended(engine, kind)? {
            return Ok(l);
        }
    }
    Ok(show_list(engine, kind, session))
}

fn show_extended(engine: &Engine, kind: &ShowKind) -> Result<Option<Listing>> {
    let want = match kind {
        ShowKind::Streams => SourceKind::Stream,
        ShowKind::Tables => SourceKind::Table,
        ShowKind::Queries => {
            let ids: Vec<String> = engine.lock().queries.keys().cloned().collect();
            // A query whose source was dropped under it has no description; it is left out.
            let parts = ids
                .iter()
                .filter_map(|id| super::explain::query(engine, id).ok())
                .collect();
            let l = Listing::many(
                "query_descriptions",
                "queryDescriptions",
                "queryDescription",
                parts,
            );
            return Ok(Some(l));
        }
        ShowKind::Topics => return Ok(Some(topics(engine, true))),
        _ => return Ok(None),
    };
    let names: Vec<String> = {
        let inner = engine.lock();
        let sources = inner.catalog.iter().filter(|s| s.kind == want);
        sources.map(|s| s.name.clone()).collect()
    };
    let parts = names
        .iter()
        .map(|n| describe(engine, n, true))
        .collect::<Result<Vec<_>>>()?;
    let l = Listing::many(
        "source_descriptions",
        "sourceDescriptions",
        "sourceDescription",
        parts,
    );
    Ok(Some(l))
}

/// SHOW TOPICS: the topics and their partitions; EXTENDED adds how many queries read each
/// (every persistent query is one consumer group of one consumer here).
fn topics(engine: &Engine, extended: bool) -> Listing {
    let topics: Vec<_> = engine
        .log
        .topics()
        .into_iter()
        .filter(|t| !t.name.starts_with('_'))
        .collect();
    let readers = |topic: &str| -> usize {
        let inner = engine.lock();
        inner
            .queries
            .values()
            .filter(|q| {
                q.sources
                    .iter()
                    .any(|n| inner.catalog.get(n).is_some_and(|s| s.topic == topic))
            })
            .count()
    };
    let mut headers = vec![
        "Kafka Topic".to_string(),
        "Partitions".into(),
        "Partition Replicas".into(),
    ];
    let mut rows = Vec::new();
    let mut items = Vec::new();
    for t in &topics {
        let mut row = vec![t.name.clone(), t.partitions.to_string(), "1".into()];
        let mut item = json!({"name": t.name, "replicaInfo": vec![1; t.partitions as usize]});
        if extended {
            let n = readers(&t.name);
            row.extend([n.to_string(), n.to_string()]);
            item["consumerCount"] = json!(n);
            item["consumerGroupCount"] = json!(n);
        }
        rows.push(row);
        items.push(item);
    }
    if extended {
        headers.extend(["Consumers".into(), "ConsumerGroups".into()]);
    }
    Listing {
        kind: if extended {
            "kafka_topics_extended"
        } else {
            "kafka_topics"
        }
        .into(),
        title: None,
        headers,
        rows,
        footer: None,
        json: json!({ "topics": items }),
    }
}

fn show_list(engine: &Engine, kind: &ShowKind, session: &Session) -> Listing {
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
                    let text = q.statement.split_whitespace().collect::<Vec<_>>().join(" ");
                    vec![
                        q.id.clone(),
                        "PERSISTENT".into(),
                        format!("{}:1", state_name(q)),
                        q.sink.clone(),
                        q.sink_topic.clone(),
                        text,
                    ]
                })
                .collect();
            let json: Vec<_> = inner.queries.values().map(running_query).collect();
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
                json: json!({ "queries": json }),
                rows,
                footer: Some("For detailed information on a Query run: EXPLAIN <Query ID>;".into()),
            }
        }
        ShowKind::Topics => {
            drop(inner);
            topics(engine, false)
        }
        ShowKind::Properties => {
            let mut all = engine.config.properties.clone();
            all.extend(session.properties.clone());
            let mut defaults = Vec::new();
            if !all.contains_key("auto.offset.reset") {
                all.insert("auto.offset.reset".into(), "latest".into());
                defaults.push("auto.offset.reset");
            }
            let overwritten: Vec<&String> = session.properties.keys().collect();
            let json = json!({
                "properties": all.iter().map(|(k, v)| json!({"name": k, "scope": "KSQL", "value": v})).collect::<Vec<_>>(),
                "overwrittenProperties": overwritten,
                "defaultProperties": defaults,
            });
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
                json,
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

fn state_name(q: &QueryHandle) -> &'static str {
    match q.state() {
        crate::exec::persistent::QueryState::Running => "RUNNING",
        crate::exec::persistent::QueryState::Error(_) => "ERROR",
        crate::exec::persistent::QueryState::Terminated => "TERMINATED",
    }
}

/// A persistent query as ksqlDB's entities list it (`RunningQuery`: SHOW QUERIES, and a
/// source description's `readQueries` and `writeQueries`).
fn running_query(q: &QueryHandle) -> serde_json::Value {
    let text = q.statement.split_whitespace().collect::<Vec<_>>().join(" ");
    let state = state_name(q);
    json!({
        "queryString": text, "sinks": [q.sink], "sinkKafkaTopics": [q.sink_topic], "id": q.id,
        "statusCount": { state: 1 }, "queryType": "PERSISTENT", "state": state,
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
    let partitions = engine.log.topic(&s.topic).map_or(0, |t| t.partitions);
    if extended {
        title.push_str(&format!(
            "\nType                 : {}\nTimestamp field      : {}\nKey format           : {}\nValue format         : {}\nKafka topic          : {} (partitions: {partitions}, replication: 1)\nStatement            : {}",
            s.kind.name(),
            s.timestamp.as_ref().map_or("Not set - using <ROWTIME>".to_string(), |t| t.0.clone()),
            s.key_format.format.name(),
            s.value_format.format.name(),
            s.topic,
            s.statement
        ));
    }
    let reads: Vec<&QueryHandle> = inner
        .queries
        .values()
        .filter(|q| q.sources.contains(&s.name))
        .collect();
    let writes: Vec<&QueryHandle> = inner
        .queries
        .values()
        .filter(|q| q.sink == s.name)
        .collect();
    let line = |q: &&QueryHandle| format!("{} ({}) : {}", q.id, state_name(q), q.statement);
    let readers: Vec<String> = reads.iter().map(line).collect();
    let writers: Vec<String> = writes.iter().map(line).collect();
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
            "name": s.name, "windowType": s.window.map(|w| w.kind.name()),
            "readQueries": reads.iter().map(|q| running_query(q)).collect::<Vec<_>>(),
            "writeQueries": writes.iter().map(|q| running_query(q)).collect::<Vec<_>>(),
            "fields": s.columns.iter().map(field_json).collect::<Vec<_>>(),
            "type": s.kind.name(),
            "timestamp": s.timestamp.as_ref().map_or(String::new(), |t| t.0.clone()),
            "statistics": "", "errorStats": "", "extended": extended,
            "keyFormat": s.key_format.format.name(), "valueFormat": s.value_format.format.name(),
            "topic": s.topic, "partitions": if extended { partitions } else { 0 },
            "replication": if extended { 1 } else { 0 },
            "statement": s.statement, "queryOffsetSummaries": [], "sourceConstraints": [],
            "processingErrors": engine.plog.error_count(), "lateRecords": late,
            "stateRows": state,
        }}),
        rows,
        footer: Some(footer),
    })
}
