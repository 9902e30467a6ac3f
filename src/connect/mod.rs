//! Connectors, as ksqlDB users declare them (`CREATE SOURCE|SINK CONNECTOR name WITH (...)`),
//! run in-process: `FileStreamSource` reads a file's lines into a topic (a bounded source: it
//! finishes at the end of the file) and `FileStreamSink` appends a topic's record values to a
//! file, line by line. Progress is committed in the log under the connector's consumer group,
//! so a restart resumes where the connector stopped.

use crate::error::{Error, Result};
use crate::log::{Record, SharedLog};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
}

impl Kind {
    fn from_class(class: &str) -> Option<Kind> {
        let short = class.rsplit('.').next().unwrap_or(class);
        match short.to_ascii_lowercase().as_str() {
            "filestreamsource" | "filestreamsourceconnector" => Some(Kind::FileSource),
            "filestreamsink" | "filestreamsinkconnector" => Some(Kind::FileSink),
            _ => None,
        }
    }

    pub fn is_source(self) -> bool {
        self == Kind::FileSource
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
}

impl Connector {
    pub fn state(&self) -> ConnectorState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records moved so far (lines read, or lines written).
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// True when the connector has nothing left to do right now.
    pub fn idle(&self, log: &SharedLog) -> bool {
        match (self.state(), self.kind) {
            (ConnectorState::Running, Kind::FileSource) => false,
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

/// Starts a connector from its WITH properties (keys lower-cased).
pub fn start(name: &str, props: BTreeMap<String, String>, log: SharedLog) -> Result<Connector> {
    let class = prop(&props, "connector.class")?.clone();
    let kind = Kind::from_class(&class).ok_or_else(|| {
        Error::statement(format!(
            "Unknown connector class '{class}': Brooklet runs FileStreamSource and FileStreamSink."
        ))
    })?;
    let file = std::path::PathBuf::from(prop(&props, "file")?);
    let topic = match kind {
        Kind::FileSource => prop(&props, "topic")?.clone(),
        Kind::FileSink => {
            let topics = prop(&props, "topics")?;
            if topics.contains(',') {
                return Err(Error::statement(
                    "A FileStreamSink connector writes one topic.",
                ));
            }
            topics.trim().to_string()
        }
    };
    match kind {
        Kind::FileSource => {
            if !file.is_file() {
                return Err(Error::statement(format!(
                    "Cannot read the file '{}'.",
                    file.display()
                )));
            }
            if log.topic(&topic).is_none() {
                log.create_topic(&topic, 1)?;
            }
        }
        Kind::FileSink => {
            if log.topic(&topic).is_none() {
                return Err(Error::statement(format!("Topic '{topic}' does not exist.")));
            }
        }
    }
    let c = Connector {
        name: name.to_string(),
        kind,
        class,
        props,
        topic: topic.clone(),
        state: Arc::new(Mutex::new(ConnectorState::Running)),
        records: Arc::new(AtomicU64::new(0)),
        stop: Arc::new(AtomicBool::new(false)),
        position: Arc::new(AtomicU64::new(0)),
    };
    let task = Task {
        group: group(name),
        file,
        topic,
        log,
        records: c.records.clone(),
        stop: c.stop.clone(),
        position: c.position.clone(),
    };
    let state = c.state.clone();
    std::thread::Builder::new()
        .name(format!("connector-{name}"))
        .spawn(move || {
            let result = match kind {
                Kind::FileSource => task.read_file(),
                Kind::FileSink => task.write_file(),
            };
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            *s = match result {
                Ok(()) => ConnectorState::Finished,
                Err(e) => {
                    tracing::error!(connector = %task.group, "connector failed: {e}");
                    ConnectorState::Failed(e.message)
                }
            };
        })
        .map_err(|e| Error::generic(format!("cannot start the connector: {e}")))?;
    Ok(c)
}

struct Task {
    group: String,
    file: std::path::PathBuf,
    topic: String,
    log: SharedLog,
    records: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    position: Arc<AtomicU64>,
}

const LINES: &str = "lines";
const END: &str = "end";

impl Task {
    /// Reads the file's lines into the topic from where the last run stopped: the committed
    /// line count, plus what was appended after the last commit (the connector is the topic's
    /// writer, so the topic's end tells).
    fn read_file(&self) -> Result<()> {
        let committed = self.log.committed(&self.group)?;
        let get = |k: &str| {
            committed
                .iter()
                .find(|(t, _, _)| t == k)
                .map_or(0, |(_, _, o)| *o)
        };
        let end_now = self.log.end_offset(&self.topic, 0)?;
        let done = if committed.is_empty() {
            // A new connector: its lines go after what the topic holds now.
            self.log.commit(
                &self.group,
                &[(LINES.into(), 0, 0), (END.into(), 0, end_now)],
            )?;
            0
        } else {
            get(LINES) + end_now.saturating_sub(get(END))
        };
        self.records.store(done, Ordering::Relaxed);
        let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&self.file)?);
        let mut batch: Vec<Record> = Vec::with_capacity(BATCH);
        let mut seen = 0u64;
        for line in reader.split(b'\n') {
            let mut line = line?;
            seen += 1;
            if seen <= done {
                continue;
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            batch.push(Record {
                value: Some(line),
                timestamp: now_ms(),
                ..Default::default()
            });
            if batch.len() == BATCH {
                self.append(&mut batch, seen)?;
                if self.stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
            }
        }
        self.append(&mut batch, seen)
    }

    fn append(&self, batch: &mut Vec<Record>, lines: u64) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.log.append(&self.topic, 0, batch)?;
        let end = self.log.end_offset(&self.topic, 0)?;
        self.log.commit(
            &self.group,
            &[(LINES.into(), 0, lines), (END.into(), 0, end)],
        )?;
        self.records.store(lines, Ordering::Relaxed);
        batch.clear();
        Ok(())
    }

    /// Appends the topic's record values to the file as lines, from the committed offset,
    /// until stopped (at least once: a crash between a write and its commit repeats lines).
    fn write_file(&self) -> Result<()> {
        let committed = self.log.committed(&self.group)?;
        let mut at = committed
            .iter()
            .find(|(t, p, _)| t == &self.topic && *p == 0)
            .map_or(0, |(_, _, o)| *o);
        self.position.store(at, Ordering::SeqCst);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)?;
        let mut rx = self.log.subscribe(&self.topic, 0)?;
        let mut buf = Vec::new();
        while !self.stop.load(Ordering::SeqCst) {
            let recs = self.log.read(&self.topic, 0, at, BATCH)?;
            let Some(last) = recs.last() else {
                // Wait for appends, checking for a stop now and then.
                if !rx.has_changed().unwrap_or(false) {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                rx.borrow_and_update();
                continue;
            };
            at = last.offset + 1;
            buf.clear();
            for r in &recs {
                buf.extend_from_slice(r.record.value.as_deref().unwrap_or_default());
                buf.push(b'\n');
            }
            file.write_all(&buf)?;
            file.flush()?;
            self.log
                .commit(&self.group, &[(self.topic.clone(), 0, at)])?;
            self.records.fetch_add(recs.len() as u64, Ordering::Relaxed);
            self.position.store(at, Ordering::SeqCst);
        }
        Ok(())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
