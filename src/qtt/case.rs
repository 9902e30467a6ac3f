//! Running one QTT case variant on a fresh in-memory engine.

use super::compare::{decimal_matches, matches};
use super::load::Case;
use super::records::{key_bytes, to_json, value_bytes, Registry};
use crate::catalog::types::SqlType;
use crate::catalog::{ColumnKind, Source};
use crate::engine::{Engine, EngineConfig, Session};
use crate::error::ErrorKind;
use crate::log::Record;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail(String),
    Skip(String),
}

/// The outcome of an expected-exception case: whether the message text matched too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageMatch {
    NotApplicable,
    Matched,
    Differs,
}

/// ksqlDB's exception classes as our error kinds, with its subsumption (a parse error is a
/// statement error is a generic error).
fn kind_matches(expected_type: Option<&str>, actual: ErrorKind) -> bool {
    match expected_type.map(|t| t.rsplit('.').next().unwrap_or(t)) {
        Some("ParseFailedException") => actual == ErrorKind::Parse,
        Some("KsqlStatementException") => matches!(actual, ErrorKind::Parse | ErrorKind::Statement),
        Some("StreamsException") => actual == ErrorKind::Runtime,
        _ => actual != ErrorKind::Runtime,
    }
}

pub async fn run(case: &Case) -> (Status, MessageMatch) {
    if let Some(why) = &case.skip {
        return (Status::Skip(why.clone()), MessageMatch::NotApplicable);
    }
    let mut config = EngineConfig {
        auto_create_topics: true,
        functions: super::udfs::udfs(),
        aggregates: super::udafs::udafs(),
        ..Default::default()
    };
    config
        .properties
        .insert("auto.offset.reset".into(), "earliest".into());
    for (k, v) in &case.properties {
        config.properties.insert(k.clone(), v.clone());
    }
    let engine = match Engine::in_memory(config) {
        Ok(e) => e,
        Err(e) => {
            return (
                Status::Fail(format!("engine: {e}")),
                MessageMatch::NotApplicable,
            )
        }
    };
    // ksqlDB's runner registers with a mock registry, which checks no compatibility.
    if let Some(r) = engine.registry() {
        if let Err(e) = r.set_level(None, crate::registry::Compatibility::None) {
            return (Status::Fail(e.message), MessageMatch::NotApplicable);
        }
    }
    let result = match &case.rest {
        Some(rest) => super::rest::run(&engine, case, rest).await,
        None => run_on(&engine, case).await,
    };
    engine.shutdown();
    result
}

/// Creates the topics a case declares (`topics`), with their partition counts, and registers
/// the key and value schemas they declare.
pub(super) fn create_topics(engine: &Engine, case: &Case) -> Result<(), String> {
    for t in &case.topics {
        if let Some(name) = t["name"].as_str() {
            let parts = t["partitions"].as_u64().unwrap_or(1) as u32;
            let _ = engine.log().create_topic(name, parts);
        }
    }
    super::schemas::register(engine, case)
}

async fn run_on(engine: &Arc<Engine>, case: &Case) -> (Status, MessageMatch) {
    if let Err(e) = create_topics(engine, case) {
        return (Status::Fail(e), MessageMatch::NotApplicable);
    }
    let expected = case.expected_exception.as_ref();
    let mut session = Session::default();
    let last = case.statements.len().saturating_sub(1);
    for (i, stmt) in case.statements.iter().enumerate() {
        let result = crate::sql::parse(stmt).and_then(|parsed| {
            parsed
                .iter()
                .try_for_each(|p| engine.execute_parsed(p, &mut session).map(drop))
        });
        if let Err(e) = result {
            let Some(exp) = expected else {
                return (
                    Status::Fail(format!(
                        "statement {} failed: {}",
                        i + 1,
                        first_line(&e.message)
                    )),
                    MessageMatch::NotApplicable,
                );
            };
            if i != last {
                return (
                    Status::Fail(format!(
                        "statement {} failed, not the last: {}",
                        i + 1,
                        first_line(&e.message)
                    )),
                    MessageMatch::NotApplicable,
                );
            }
            if !kind_matches(exp["type"].as_str(), e.kind) {
                return (
                    Status::Fail(format!(
                        "expected {}, got {:?} error: {}",
                        exp["type"].as_str().unwrap_or("an error"),
                        e.kind,
                        first_line(&e.message)
                    )),
                    MessageMatch::NotApplicable,
                );
            }
            let m = match exp["message"].as_str() {
                Some(m) if !e.message.contains(m) => MessageMatch::Differs,
                _ => MessageMatch::Matched,
            };
            return (Status::Pass, m);
        }
    }
    if let Err(e) = produce_inputs(engine, case).await {
        return (
            Status::Fail(format!("input: {e}")),
            MessageMatch::NotApplicable,
        );
    }
    engine.quiesce().await;
    if let Some(exp) = expected {
        let failed: Vec<String> = engine
            .query_states()
            .into_iter()
            .filter_map(|(_, s)| match s {
                crate::exec::persistent::QueryState::Error(m) => Some(m),
                _ => None,
            })
            .collect();
        return match failed.first() {
            Some(_) if kind_matches(exp["type"].as_str(), ErrorKind::Runtime) => {
                (Status::Pass, MessageMatch::NotApplicable)
            }
            Some(m) => (
                Status::Fail(format!(
                    "expected {}, got a runtime error: {m}",
                    exp["type"]
                )),
                MessageMatch::NotApplicable,
            ),
            None => (
                Status::Fail(format!(
                    "expected {} but nothing failed",
                    exp["type"].as_str().unwrap_or("an error")
                )),
                MessageMatch::NotApplicable,
            ),
        };
    }
    if let Some(outputs) = &case.outputs {
        if let Err(why) = check_outputs(engine, case, outputs) {
            return (Status::Fail(why), MessageMatch::NotApplicable);
        }
    }
    if let Some(post) = &case.post {
        let checked =
            super::post::check(engine, post).and_then(|_| super::post::check_topics(engine, post));
        if let Err(why) = checked {
            return (Status::Fail(why), MessageMatch::NotApplicable);
        }
    }
    (Status::Pass, MessageMatch::NotApplicable)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn source_on(engine: &Engine, topic: &str) -> Option<Arc<Source>> {
    engine.sources().into_iter().find(|s| s.topic == topic)
}

/// Produces the case's inputs in order. Before switching topics it waits until the queries have
/// processed what came before: ksqlDB's test driver processes each input as it is produced, so
/// a query reading several topics (a join) sees them in exactly this order.
pub(super) async fn produce_inputs(engine: &Engine, case: &Case) -> Result<(), String> {
    let mut last_topic: Option<&str> = None;
    for input in &case.inputs {
        let topic = input["topic"].as_str().ok_or("input without a topic")?;
        if last_topic.is_some_and(|t| t != topic) {
            engine.quiesce().await;
        }
        last_topic = Some(topic);
        if engine.log().topic(topic).is_none() {
            engine
                .log()
                .create_topic(topic, 1)
                .map_err(|e| e.to_string())?;
        }
        let source = source_on(engine, topic);
        let sr = engine.schemas().map(|s| &**s);
        let mut key = key_bytes(&input["key"], source.as_deref(), sr)?;
        // A windowed key: the key, then the window start (time windows) or end and start
        // (sessions).
        if let Some(w) = input.get("window") {
            let bound = |name: &str| w[name].as_i64().ok_or("window without bounds");
            let k = key.get_or_insert_with(Vec::new);
            if w["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("session"))
            {
                k.extend_from_slice(&bound("end")?.to_be_bytes());
            }
            k.extend_from_slice(&bound("start")?.to_be_bytes());
        }
        let value = value_bytes(&input["value"], source.as_deref(), sr)?;
        let timestamp = input["timestamp"].as_i64().unwrap_or(0);
        let headers = input["headers"]
            .as_array()
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        use base64::Engine as _;
                        crate::log::Header {
                            key: h["KEY"].as_str().unwrap_or_default().to_string(),
                            value: h["VALUE"].as_str().and_then(|v| {
                                base64::engine::general_purpose::STANDARD.decode(v).ok()
                            }),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let parts = engine.log().topic(topic).map_or(1, |t| t.partitions);
        let partition = crate::exec::partition_for(key.as_deref(), parts, 0);
        engine
            .log()
            .append(
                topic,
                partition,
                &[Record {
                    key,
                    value,
                    timestamp,
                    headers,
                    origin: None,
                }],
            )
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The records of a topic's partitions in the order the expected records name them: Kafka
/// orders records within a partition only, so each expected record is matched with the next
/// record of the partition its key goes to (then whatever is left, partition by partition).
fn in_expected_order(
    parts: Vec<Vec<crate::log::StoredRecord>>,
    expected: &[&Value],
    source: Option<&Source>,
    sr: Registry,
) -> Vec<crate::log::StoredRecord> {
    if parts.len() <= 1 {
        return parts.into_iter().flatten().collect();
    }
    let n = parts.len() as u32;
    let mut queues: Vec<std::collections::VecDeque<_>> =
        parts.into_iter().map(Into::into).collect();
    let mut out = Vec::new();
    for exp in expected {
        let Ok(key) = key_bytes(&exp["key"], source, sr) else {
            break;
        };
        let p = crate::exec::partition_for(key.as_deref(), n, 0) as usize;
        match queues[p].pop_front() {
            Some(r) => out.push(r),
            None => break,
        }
    }
    out.extend(queues.into_iter().flatten());
    out
}

pub(super) fn check_outputs(engine: &Engine, case: &Case, outputs: &[Value]) -> Result<(), String> {
    let mut topics: Vec<&str> = Vec::new();
    for o in outputs {
        if let Some(t) = o["topic"].as_str() {
            if !topics.contains(&t) {
                topics.push(t);
            }
        }
    }
    for topic in topics {
        let expected: Vec<&Value> = outputs
            .iter()
            .filter(|o| o["topic"].as_str() == Some(topic))
            .collect();
        let Some(info) = engine.log().topic(topic) else {
            return Err(format!("topic {topic} was never created"));
        };
        let mut parts = Vec::new();
        for p in 0..info.partitions {
            parts.push(
                engine
                    .log()
                    .read(topic, p, 0, usize::MAX)
                    .map_err(|e| e.to_string())?,
            );
        }
        let source = source_on(engine, topic);
        let sr = engine.schemas().map(|s| &**s);
        let actual = in_expected_order(parts, &expected, source.as_deref(), sr);
        for (i, exp) in expected.iter().enumerate() {
            let Some(act) = actual.get(i) else {
                return Err(format!(
                    "{topic}: expected {} records, got {}; first missing: {}",
                    expected.len(),
                    actual.len(),
                    brief(exp)
                ));
            };
            let (key, value, window) = decode_actual(source.as_deref(), &act.record, sr);
            let window_ok = match (exp.get("window"), &window) {
                (None, None) => true,
                (Some(w), Some(a)) => {
                    w["start"] == a["start"]
                        && w["end"] == a["end"]
                        && w["type"].as_str().map(str::to_lowercase)
                            == a["type"].as_str().map(String::from)
                }
                _ => false,
            };
            let ts_ok = match exp["timestamp"].as_i64() {
                Some(0) if case.inputs.is_empty() => true,
                Some(t) => t == act.record.timestamp,
                None => true,
            };
            let headers_ok = exp.get("headers").is_some() || act.record.headers.is_empty();
            let value_ok = value_matches(&exp["value"], &value, source.as_deref());
            if !matches(&exp["key"], &key) || !value_ok || !ts_ok || !headers_ok || !window_ok {
                let window = window.map(|w| format!(" window={w}")).unwrap_or_default();
                return Err(format!(
                    "{topic} record {i}: expected {} got key={key} value={value} timestamp={}{window}",
                    brief(exp),
                    act.record.timestamp
                ));
            }
        }
        if actual.len() > expected.len() {
            let (key, value, _) =
                decode_actual(source.as_deref(), &actual[expected.len()].record, sr);
            return Err(format!(
                "{topic}: expected {} records, got {}; first extra: key={key} value={value}",
                expected.len(),
                actual.len()
            ));
        }
    }
    Ok(())
}

fn brief(v: &Value) -> String {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("topic");
    }
    v.to_string()
}

/// The record's key and value as JSON, and its window for windowed sources.
fn decode_actual(
    source: Option<&Source>,
    r: &Record,
    sr: Registry,
) -> (Value, Value, Option<Value>) {
    let Some(s) = source else {
        let json = crate::format::FormatSpec::new(crate::format::Format::Json, false);
        return (
            to_json(r.key.as_deref(), &json, None, sr),
            to_json(r.value.as_deref(), &json, None, sr),
            None,
        );
    };
    let key_ty = s.keys().next().map(|c| &c.ty);
    let value_ty = s.values().next().map(|c| &c.ty);
    let (key, window) = match (s.window, r.key.as_deref()) {
        (Some(w), Some(k)) if k.len() >= 16 && w.kind == crate::catalog::WindowType::Session => {
            let (inner, bounds) = k.split_at(k.len() - 16);
            let end = i64::from_be_bytes(bounds[..8].try_into().unwrap_or_default());
            let start = i64::from_be_bytes(bounds[8..].try_into().unwrap_or_default());
            let window = serde_json::json!({"start": start, "end": end, "type": "session"});
            (Some(inner), Some(window))
        }
        (Some(w), Some(k)) if k.len() >= 8 && w.size_ms.is_some() => {
            let (inner, start) = k.split_at(k.len() - 8);
            let start = i64::from_be_bytes(start.try_into().unwrap_or_default());
            let window = serde_json::json!({"start": start, "end": start + w.size_ms.unwrap_or(0), "type": "time"});
            (Some(inner), Some(window))
        }
        (_, k) => (k, None),
    };
    (
        to_json(key, &s.key_format, key_ty, sr),
        to_json(r.value.as_deref(), &s.value_format, value_ty, sr),
        window,
    )
}

/// Values match by QTT's rules; top-level DECIMAL columns must match with their scale.
fn value_matches(expected: &Value, actual: &Value, source: Option<&Source>) -> bool {
    if !matches(expected, actual) {
        return false;
    }
    let (Some(s), Value::Object(e), Value::Object(a)) = (source, expected, actual) else {
        return true;
    };
    e.iter().all(|(k, ev)| {
        let col = s
            .columns
            .iter()
            .find(|c| c.kind == ColumnKind::Value && (&c.name == k || c.name == k.to_uppercase()));
        match col.map(|c| &c.ty) {
            Some(SqlType::Decimal(_, _)) => a
                .get(k)
                .or_else(|| a.get(&k.to_uppercase()))
                .is_some_and(|av| decimal_matches(ev, av)),
            _ => true,
        }
    })
}
