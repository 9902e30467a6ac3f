//! CREATE / DROP / DESCRIBE CONNECTOR and SHOW CONNECTORS (see `crate::connect`).

use super::{Engine, Listing, Output};
use crate::connect::{self, ConnectorState};
use crate::error::{Error, Result};
use crate::sql::ast::Statement;
use serde_json::json;
use std::collections::BTreeMap;

pub fn create(engine: &Engine, statement: &Statement) -> Result<Output> {
    let Statement::CreateConnector {
        source,
        if_not_exists,
        name,
        props,
    } = statement
    else {
        return Err(Error::generic("internal: not a CREATE CONNECTOR"));
    };
    if engine.lock().connectors.contains_key(name) {
        if *if_not_exists {
            return Ok(Output::Message {
                text: format!("Connector {name} already exists."),
                query_id: None,
            });
        }
        return Err(Error::statement(format!(
            "Connector {name} already exists."
        )));
    }
    let props: BTreeMap<String, String> = props
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.as_text()))
        .collect();
    // A class of the other kind is refused before anything starts.
    if let Some((class, kind)) = props
        .get("connector.class")
        .and_then(|c| Some((c, connect::Kind::from_class(c)?)))
    {
        if kind.is_source() != *source {
            return Err(Error::statement(format!(
                "{class} is a {} connector class: use CREATE {} CONNECTOR.",
                if kind.is_source() { "source" } else { "sink" },
                if kind.is_source() { "SOURCE" } else { "SINK" }
            )));
        }
    }
    let c = connect::start(name, props, engine.log.clone(), &engine.config.file_dirs)?;
    engine.lock().connectors.insert(name.clone(), c);
    Ok(Output::Message {
        text: format!("Created connector {name}"),
        query_id: None,
    })
}

pub fn drop(engine: &Engine, name: &str, if_exists: bool) -> Result<Output> {
    let removed = engine.lock().connectors.remove(name);
    match removed {
        Some(c) => {
            c.stop();
            engine.log.delete_group(&connect::group(name))?;
        }
        None if if_exists => {}
        None => {
            return Err(Error::statement(format!(
                "Connector {name} does not exist."
            )))
        }
    }
    Ok(Output::Message {
        text: format!("Dropped connector \"{name}\""),
        query_id: None,
    })
}

fn state_text(s: &ConnectorState) -> String {
    match s {
        ConnectorState::Running => "RUNNING".into(),
        ConnectorState::Finished => "FINISHED".into(),
        ConnectorState::Failed(e) => format!("FAILED: {e}"),
    }
}

/// Source connectors still loading: name, records so far, progress (0 to 1) when known.
pub fn loads(engine: &Engine) -> Vec<(String, u64, Option<f64>)> {
    let inner = engine.lock();
    inner
        .connectors
        .values()
        .filter(|c| c.kind.is_source() && c.state() == ConnectorState::Running)
        .map(|c| (c.name.clone(), c.records(), c.progress()))
        .collect()
}

/// One line per source connector still loading: name, progress and records so far.
pub fn loading(engine: &Engine) -> Vec<String> {
    loads(engine)
        .into_iter()
        .map(|(name, records, progress)| {
            let pct = progress.map_or(String::new(), |p| format!("{:.0}%, ", p * 100.0));
            format!("Connector {name} is loading: {pct}{records} records so far.")
        })
        .collect()
}

pub(super) fn show(inner: &super::Inner) -> Listing {
    let rows: Vec<Vec<String>> = inner
        .connectors
        .values()
        .map(|c| {
            vec![
                c.name.clone(),
                if c.kind.is_source() { "SOURCE" } else { "SINK" }.into(),
                c.class.clone(),
                state_text(&c.state()),
                c.records().to_string(),
                c.progress()
                    .map_or("-".to_string(), |p| format!("{:.0}%", p * 100.0)),
            ]
        })
        .collect();
    Listing {
        kind: "connector_list".into(),
        title: None,
        headers: [
            "Connector Name",
            "Type",
            "Class",
            "Status",
            "Records",
            "Progress",
        ]
        .map(String::from)
        .to_vec(),
        json: json!({"connectors": rows.iter().map(|r| json!({
            "name": r[0], "type": r[1], "className": r[2], "state": r[3], "records": r[4], "progress": r[5]})).collect::<Vec<_>>()}),
        rows,
        footer: None,
    }
}

pub fn describe(engine: &Engine, name: &str) -> Result<Listing> {
    let inner = engine.lock();
    let c = inner
        .connectors
        .get(name)
        .ok_or_else(|| Error::statement(format!("Connector {name} does not exist.")))?;
    let rows: Vec<Vec<String>> = c
        .props
        .iter()
        .map(|(k, v)| vec![k.clone(), v.clone()])
        .collect();
    Ok(Listing {
        kind: "connector_description".into(),
        title: Some(format!(
            "Name                 : {}\nClass                : {}\nType                 : {}\nState                : {}\nTopic                : {}\nRecords              : {}",
            c.name,
            c.class,
            if c.kind.is_source() { "source" } else { "sink" },
            state_text(&c.state()),
            c.topic,
            c.records()
        )),
        headers: vec!["Property".into(), "Value".into()],
        json: json!({"connectorClass": c.class, "name": c.name, "state": state_text(&c.state()),
            "topics": [c.topic], "records": c.records()}),
        rows,
        footer: None,
    })
}
