//! Connectors, as ksqlDB users declare them (`CREATE SOURCE|SINK CONNECTOR name WITH (...)`),
//! run in-process: `FileStreamSource` reads a file's lines into a topic (a bounded source: it
//! finishes at the end of the file), `FileStreamSink` appends a topic's record values to a
//! file, line by line, and `Nexmark` generates Nexmark's person, auction and bid events
//! (`nexmark`), as fast as it can or at a given rate. Progress is committed in the log under the connector's consumer group,
//! so a restart resumes where the connector stopped.

use crate::error::{Error, Result};
use crate::log::SharedLog;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

mod file;
pub mod files;
mod generator;
pub mod nexmark;

/// Lines appended per log append.
const BATCH: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorState {
    Running,
    /// A bounded source that has read all of its input.
    Finished,
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    FileSource,
    FileSink,
    Nexmark,
}

impl Kind {
    pub fn from_class(class: &str) -> Option<Kind> {
        let short = class.rsplit('.').next().unwrap_or(class);
        match short.to_ascii_lowercase().as_str() {
            "filestreamsource" | "filestreamsourceconnector" => Some(Kind::FileSource),
            "filestreamsink" | "filestreamsinkconnector" => Some(Kind::FileSink),
            "nexmark" | "nexmarksource" | "nexmarksourceconnector" => Some(Kind::Nexmark),
            _ => None,
        }
    }

    pub fn is_source(self) -> bool {
        self != Kind::FileSink
    }
}

/// What the engine keeps of a running connector.
pub struct Connector {
    pub name: String,
    pub kind: Kind,
    pub class: String,
    pub props: BTreeMap<String, String>,
    pub topic: String,
    state: Arc<Mutex<ConnectorState>>,
    records: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    /// For sinks: the next topic offset to write (caught up when it reaches the topic's end).
    position: Arc<AtomicU64>,
    /// For sources, how far along they are: `done` of `total` (file bytes, or events).
    done: Arc<AtomicU64>,
    total: u64,
}

impl Connector {
    fn new(
        name: &str,
        kind: Kind,
        class: String,
        props: BTreeMap<String, String>,
        topic: String,
        total: u64,
    ) -> Connector {
        Connector {
            name: name.to_string(),
            kind,
            class,
            props,
            topic,
            state: Arc::new(Mutex::new(ConnectorState::Running)),
            records: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
            position: Arc::new(AtomicU64::new(0)),
            done: Arc::new(AtomicU64::new(0)),
            total,
        }
    }

    pub fn state(&self) -> ConnectorState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records moved so far (lines read, or lines written).
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// A source's progress, from 0 to 1 (none for sinks).
    pub fn progress(&self) -> Option<f64> {
        // The generator counts events; a file source, bytes.
        let done = match self.kind {
            Kind::Nexmark => self.records(),
            _ => self.done.load(Ordering::Relaxed),
        };
        (self.total > 0).then(|| done as f64 / self.total as f64)
    }

    /// True when the connector has nothing left to do right now.
    pub fn idle(&self, log: &SharedLog) -> bool {
        match (self.state(), self.kind) {
            (ConnectorState::Running, Kind::FileSource | Kind::Nexmark) => false,
            (ConnectorState::Running, Kind::FileSink) => log
                .end_offset(&self.topic, 0)
                .is_ok_and(|end| self.position.load(Ordering::SeqCst) >= end),
            _ => true,
        }
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn group(name: &str) -> String {
    format!("_brooklet_connector_{name}")
}

fn prop<'a>(props: &'a BTreeMap<String, String>, key: &str) -> Result<&'a String> {
    props
        .get(key)
        .ok_or_else(|| Error::statement(format!("The connector needs the property '{key}'.")))
}

/// Starts a connector from its WITH properties (keys lower-cased); file connectors only touch
/// files inside `dirs`.
pub fn start(
    name: &str,
    props: BTreeMap<String, String>,
    log: SharedLog,
    dirs: &files::FileDirs,
) -> Result<Connector> {
    let class = prop(&props, "connector.class")?.clone();
    let kind = Kind::from_class(&class).ok_or_else(|| {
        Error::statement(format!(
            "Unknown connector class '{class}': Brooklet runs FileStreamSource, FileStreamSink and Nexmark."
        ))
    })?;
    match kind {
        Kind::Nexmark => generator::start(name, props, class, log),
        Kind::FileSource | Kind::FileSink => file::start(name, props, class, kind, log, dirs),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
