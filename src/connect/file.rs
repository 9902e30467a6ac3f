//! The file connectors' task: FileStreamSource reads lines into a topic, FileStreamSink
//! appends a topic's values to a file.

use super::{group, now_ms, prop, Connector, ConnectorState, Kind, BATCH};
use crate::error::Error;
use crate::error::Result;
use crate::log::{Record, SharedLog};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub(super) struct Task {
    pub group: String,
    pub file: std::path::PathBuf,
    pub topic: String,
    pub log: SharedLog,
    pub records: Arc<AtomicU64>,
    /// Bytes of the file read so far.
    pub bytes: Arc<AtomicU64>,
    pub stop: Arc<AtomicBool>,
    pub position: Arc<AtomicU64>,
}

const LINES: &str = "lines";
const END: &str = "end";

impl Task {
    /// Reads the file's lines into the topic from where the last run stopped: the committed
    /// line count, plus what was appended after the last commit (the connector is the topic's
    /// writer, so the topic's end tells).
    pub fn read_file(&self) -> Result<()> {
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
        let mut reader =
            std::io::BufReader::with_capacity(1 << 20, super::files::open_read(&self.file)?);
        // The batch's records are reused from batch to batch (their value buffers keep their
        // capacity), so reading a line allocates nothing.
        let mut batch: Vec<Record> = (0..BATCH)
            .map(|_| Record {
                value: Some(Vec::new()),
                ..Default::default()
            })
            .collect();
        let mut filled = 0;
        let mut seen = 0u64;
        let mut bytes = 0u64;
        // One clock reading per batch: the records of a batch share their timestamp.
        let mut now = now_ms();
        let mut skipped = Vec::new();
        loop {
            let line = if seen < done {
                skipped.clear();
                &mut skipped
            } else {
                batch[filled].value.get_or_insert_with(Vec::new)
            };
            line.clear();
            let n = reader.read_until(b'\n', line)?;
            if n == 0 {
                break;
            }
            seen += 1;
            bytes += n as u64;
            if seen <= done {
                continue;
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            batch[filled].timestamp = now;
            filled += 1;
            if filled == BATCH {
                self.append(&batch[..filled], seen, bytes)?;
                filled = 0;
                now = now_ms();
                if self.stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
            }
        }
        self.append(&batch[..filled], seen, bytes)
    }

    fn append(&self, batch: &[Record], lines: u64, bytes: u64) -> Result<()> {
        self.bytes.store(bytes, Ordering::Relaxed);
        if batch.is_empty() {
            return Ok(());
        }
        self.until_room(|| self.log.append(&self.topic, 0, batch))?;
        let end = self.log.end_offset(&self.topic, 0)?;
        let commit = [(LINES.into(), 0, lines), (END.into(), 0, end)];
        self.until_room(|| self.log.commit(&self.group, &commit))?;
        self.records.store(lines, Ordering::Relaxed);
        Ok(())
    }

    /// Runs a write to the log, waiting while the disk is full (a failed append leaves nothing
    /// behind, so the connector goes on where it stopped once there is room).
    fn until_room<T>(&self, op: impl Fn() -> crate::log::LogResult<T>) -> Result<T> {
        let mut warned = false;
        loop {
            match op() {
                Err(e) if e.is_full() && !self.stop.load(Ordering::Relaxed) => {
                    if !warned {
                        tracing::error!(topic = %self.topic, "connector paused: {e}; resumes when there is room");
                        warned = true;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
                r => return r.map_err(Error::from),
            }
        }
    }

    /// Appends the topic's record values to the file as lines, from the committed offset,
    /// until stopped (at least once: a crash between a write and its commit repeats lines).
    pub fn write_file(&self) -> Result<()> {
        let committed = self.log.committed(&self.group)?;
        let mut at = committed
            .iter()
            .find(|(t, p, _)| t == &self.topic && *p == 0)
            .map_or(0, |(_, _, o)| *o);
        self.position.store(at, Ordering::SeqCst);
        let mut file = super::files::open_append(&self.file)?;
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

/// Starts a FileStreamSource or FileStreamSink.
pub(super) fn start(
    name: &str,
    props: BTreeMap<String, String>,
    class: String,
    kind: Kind,
    log: SharedLog,
    dirs: &super::files::FileDirs,
) -> Result<Connector> {
    let sink = kind == Kind::FileSink;
    // Resolved and checked against the allowed directories before anything starts.
    let file = if sink {
        dirs.sink(prop(&props, "file")?)?
    } else {
        dirs.source(prop(&props, "file")?)?
    };
    let topic = if sink {
        let topics = prop(&props, "topics")?;
        if topics.contains(',') {
            return Err(Error::statement(
                "A FileStreamSink connector writes one topic.",
            ));
        }
        topics.trim().to_string()
    } else {
        prop(&props, "topic")?.clone()
    };
    if sink {
        if log.topic(&topic).is_none() {
            return Err(Error::statement(format!("Topic '{topic}' does not exist.")));
        }
    } else {
        if log.topic(&topic).is_none() {
            log.create_topic(&topic, 1)?;
        }
    }
    // A source's progress is the share of the file's bytes read.
    let total = if sink {
        0
    } else {
        std::fs::metadata(&file).map_or(0, |m| m.len())
    };
    let c = Connector::new(name, kind, class, props, topic.clone(), total);
    let task = Task {
        bytes: c.done.clone(),
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
            let result = if sink {
                task.write_file()
            } else {
                task.read_file()
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
