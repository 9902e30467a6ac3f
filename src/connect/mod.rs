//! Connectors, as ksqlDB users declare them (`CREATE SOURCE|SINK CONNECTOR name WITH (...)`),
//! run in-process: `FileStreamSource` reads a file's lines into a topic (a bounded source: it
//! finishes at the end of the file), `FileStreamSink` appends a topic's record values to a
//! file, line by line, and `Nexmark` generates Nexmark's person, auction and bid events
//! (`nexmark`), as fast as it can or at a given rate. Progress is committed in the log under the connector's consumer group,
//! so a restart resumes where the connector stopped.

use crate::error::{Error, Result};
use crate::log::{Record, SharedLog};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
    fn from_class(class: &str) -> Option<Kind> {
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

/// Starts a connector from its WITH properties (keys lower-cased).
pub fn start(name: &str, props: BTreeMap<String, String>, log: SharedLog) -> Result<Connector> {
    let class = prop(&props, "connector.class")?.clone();
    let kind = Kind::from_class(&class).ok_or_else(|| {
        Error::statement(format!(
            "Unknown connector class '{class}': Brooklet runs FileStreamSource, FileStreamSink and Nexmark."
        ))
    })?;
    if kind == Kind::Nexmark {
        return start_nexmark(name, props, class, log);
    }
    let file = std::path::PathBuf::from(prop(&props, "file")?);
    let topic = match kind {
        Kind::FileSource | Kind::Nexmark => prop(&props, "topic")?.clone(),
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
        Kind::FileSource | Kind::Nexmark => {
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
                Kind::FileSource | Kind::Nexmark => task.read_file(),
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

/// A property parsed as a number, or its default.
fn number<T: std::str::FromStr>(
    props: &BTreeMap<String, String>,
    key: &str,
    default: T,
) -> Result<T> {
    match props.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            Error::statement(format!("The property '{key}' must be a number, got '{v}'."))
        }),
    }
}

/// The Nexmark generator: properties `events` or `bids`, `seed` (42), `rate` (events per
/// simulated second, 10000), `ooo.prob` (0.1), `ooo.max.ms` (500), `throttle` (events per
/// wall-clock second; 0, the default, is as fast as possible) and `topic.person`,
/// `topic.auction`, `topic.bid` (person, auction, bid).
fn start_nexmark(
    name: &str,
    props: BTreeMap<String, String>,
    class: String,
    log: SharedLog,
) -> Result<Connector> {
    let events = match (props.get("events"), props.get("bids")) {
        (Some(_), _) => number(&props, "events", 0u64)?,
        (None, Some(_)) => nexmark::events_for_bids(number(&props, "bids", 0u64)?),
        (None, None) => {
            return Err(Error::statement(
                "The Nexmark connector needs 'events' or 'bids'.",
            ))
        }
    };
    let params = nexmark::Params {
        seed: number(&props, "seed", 42)?,
        rate: number(&props, "rate", 10_000u64)?.max(1),
        ooo_prob: number(&props, "ooo.prob", 0.1)?,
        ooo_max_ms: number(&props, "ooo.max.ms", 500)?,
        events,
    };
    let throttle: u64 = number(&props, "throttle", 0)?;
    let topics: Vec<String> = ["person", "auction", "bid"]
        .iter()
        .map(|t| {
            props
                .get(&format!("topic.{t}"))
                .cloned()
                .unwrap_or_else(|| t.to_string())
        })
        .collect();
    for t in &topics {
        if log.topic(t).is_none() {
            log.create_topic(t, 1)?;
        }
    }
    let c = Connector {
        name: name.to_string(),
        kind: Kind::Nexmark,
        class,
        props,
        topic: topics[2].clone(),
        state: Arc::new(Mutex::new(ConnectorState::Running)),
        records: Arc::new(AtomicU64::new(0)),
        stop: Arc::new(AtomicBool::new(false)),
        position: Arc::new(AtomicU64::new(0)),
    };
    let (state, records, stop, group) = (
        c.state.clone(),
        c.records.clone(),
        c.stop.clone(),
        group(name),
    );
    std::thread::Builder::new()
        .name(format!("connector-{name}"))
        .spawn(move || {
            let result = generate(&log, &group, &topics, params, throttle, &records, &stop);
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            *s = match result {
                Ok(()) => ConnectorState::Finished,
                Err(e) => ConnectorState::Failed(e.message),
            };
        })
        .map_err(|e| Error::generic(format!("cannot start the connector: {e}")))?;
    Ok(c)
}

/// Generates events into the three topics in batches, committing after each the events done
/// and the topics' ends; a restart regenerates from there, skipping records appended after
/// the last commit (the connector is the topics' only writer).
fn generate(
    log: &SharedLog,
    group: &str,
    topics: &[String],
    params: nexmark::Params,
    throttle: u64,
    records: &AtomicU64,
    stop: &AtomicBool,
) -> Result<()> {
    let committed = log.committed(group)?;
    let get = |k: &str| {
        committed
            .iter()
            .find(|(t, _, _)| t == k)
            .map(|(_, _, o)| *o)
    };
    let ends = |log: &SharedLog| -> Result<Vec<u64>> {
        topics.iter().map(|t| Ok(log.end_offset(t, 0)?)).collect()
    };
    let now_ends = ends(log)?;
    let (done, mut skip) = match get("events") {
        None => {
            let mut c = vec![("events".to_string(), 0, 0)];
            c.extend(
                topics
                    .iter()
                    .zip(&now_ends)
                    .map(|(t, e)| (format!("end.{t}"), 0, *e)),
            );
            log.commit(group, &c)?;
            (0, vec![0; 3])
        }
        Some(done) => {
            let skip = topics
                .iter()
                .zip(&now_ends)
                .map(|(t, e)| e.saturating_sub(get(&format!("end.{t}")).unwrap_or(*e)))
                .collect();
            (done, skip)
        }
    };
    let mut g = nexmark::Generator::new(params, done);
    records.store(done, Ordering::Relaxed);
    let started = std::time::Instant::now();
    let mut batches: Vec<Vec<Record>> = vec![Vec::new(), Vec::new(), Vec::new()];
    let mut line = String::new();
    loop {
        line.clear();
        let stream = g.event(&mut line);
        if let Some(s) = stream {
            let i = s as usize;
            if skip[i] > 0 {
                skip[i] -= 1;
            } else {
                batches[i].push(Record {
                    value: Some(line.as_bytes().to_vec()),
                    timestamp: now_ms(),
                    ..Default::default()
                });
            }
        }
        let at = g.position();
        if stream.is_none() || at.is_multiple_of(BATCH as u64) {
            for (t, b) in topics.iter().zip(batches.iter_mut()) {
                if !b.is_empty() {
                    log.append(t, 0, b)?;
                    b.clear();
                }
            }
            let mut c = vec![("events".to_string(), 0, at)];
            c.extend(
                topics
                    .iter()
                    .zip(ends(log)?)
                    .map(|(t, e)| (format!("end.{t}"), 0, e)),
            );
            log.commit(group, &c)?;
            records.store(at, Ordering::Relaxed);
            if stream.is_none() || stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            if throttle > 0 {
                // Rate limit: no faster than `throttle` events per second of wall time.
                let due = std::time::Duration::from_secs_f64((at - done) as f64 / throttle as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
    }
}
