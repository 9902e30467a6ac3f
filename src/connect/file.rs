//! The file connectors' task: FileStreamSource reads lines into a topic, FileStreamSink
//! appends a topic's values to a file.

use super::{group, now_ms, prop, Connector, ConnectorState, Kind, BATCH};
use crate::error::Error;
use crate::error::Result;
use crate::log::{BatchBuilder, SharedLog};
use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
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
/// The byte position after the committed lines (Kafka Connect's FileStreamSource commits its
/// `position` so); data directories from before it have only the line count.
const BYTES: &str = "bytes";
/// A FileStreamSource appends when its batch holds this many bytes (or [`BATCH`] * 4 lines).
const APPEND_BYTES: usize = 1 << 20;
/// The file is read in blocks of this size.
const READ_BLOCK: usize = 1 << 20;

/// A batch of lines for the appender, with the file position after its last line.
struct Filled {
    batch: BatchBuilder,
    /// Lines of the file read (skipped ones included).
    lines: u64,
    bytes: u64,
}

/// Where a FileStreamSource resumes: `lines` lines and `bytes` bytes of the file are behind
/// the reader's starting point, and the next `skip` lines were appended before the last run
/// could commit them. With `partial`, the file ended inside the last line read (a last line
/// without a line end, which is read as a line): the bytes up to the next line end finish
/// that line and are not a line of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Resume {
    lines: u64,
    bytes: u64,
    skip: u64,
    partial: bool,
}

impl Resume {
    /// From a connector's committed positions and the topic's end now: after the committed
    /// byte position when there is one, else from the file's start skipping the committed
    /// lines; either way skipping the lines appended after the last commit (the connector is
    /// the topic's only writer, so the topic's end tells how many).
    fn from_committed(committed: &[(String, u32, u64)], end_now: u64) -> Resume {
        let get = |k: &str| committed.iter().find(|(t, _, _)| t == k).map(|e| e.2);
        let lines = get(LINES).unwrap_or(0);
        let extra = end_now.saturating_sub(get(END).unwrap_or(end_now));
        match get(BYTES) {
            Some(bytes) => Resume {
                lines,
                bytes,
                skip: extra,
                partial: false,
            },
            None => Resume {
                lines: 0,
                bytes: 0,
                skip: lines + extra,
                partial: false,
            },
        }
    }
}

/// Splits the file into lines from `at` (skipping its first `skip` lines) and sends them as
/// batches; each batch's records share the time its first line was read.
fn split(
    mut lines: Lines,
    at: Resume,
    stop: &AtomicBool,
    full: std::sync::mpsc::SyncSender<Filled>,
    empty: std::sync::mpsc::Receiver<BatchBuilder>,
) -> Result<()> {
    let (mut seen, mut bytes) = (at.lines, at.bytes);
    let done = at.lines + at.skip;
    let mut rest_of_partial = at.partial;
    let Ok(mut batch) = empty.recv() else {
        return Ok(());
    };
    let mut now = now_ms();
    while let Some((line, read)) = lines.next_line()? {
        bytes += read as u64;
        if std::mem::take(&mut rest_of_partial) {
            continue;
        }
        seen += 1;
        if seen <= done {
            continue;
        }
        if batch.is_empty() {
            now = now_ms();
        }
        batch.push_value(now, line);
        if batch.encoded_len() >= APPEND_BYTES || batch.len() >= BATCH * 4 {
            let filled = Filled {
                batch,
                lines: seen,
                bytes,
            };
            if full.send(filled).is_err() || stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            let Ok(next) = empty.recv() else {
                return Ok(());
            };
            batch = next;
        }
    }
    let _ = full.send(Filled {
        batch,
        lines: seen,
        bytes,
    });
    Ok(())
}

/// A file's lines, read in blocks and split with `memchr`; a line is handed out without its
/// `\n` (or `\r\n`), the last one also without.
struct Lines {
    file: std::fs::File,
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    eof: bool,
}

impl Lines {
    fn new(file: std::fs::File) -> Self {
        Lines {
            file,
            buf: vec![0; READ_BLOCK],
            start: 0,
            filled: 0,
            eof: false,
        }
    }

    /// The next line and how many bytes of the file it took.
    fn next_line(&mut self) -> std::io::Result<Option<(&[u8], usize)>> {
        loop {
            let rest = &self.buf[self.start..self.filled];
            let (end, read) = match memchr::memchr(b'\n', rest) {
                Some(i) => (i, i + 1),
                None if self.eof && !rest.is_empty() => (rest.len(), rest.len()),
                None if self.eof => return Ok(None),
                None => {
                    self.refill()?;
                    continue;
                }
            };
            let line = &self.buf[self.start..self.start + end];
            self.start += read;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            return Ok(Some((line, read)));
        }
    }

    /// Moves the partial line to the front and reads after it (growing the buffer for a line
    /// longer than it).
    fn refill(&mut self) -> std::io::Result<()> {
        self.buf.copy_within(self.start..self.filled, 0);
        self.filled -= self.start;
        self.start = 0;
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = loop {
            match self.file.read(&mut self.buf[self.filled..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        self.eof = n == 0;
        self.filled += n;
        Ok(())
    }
}

impl Task {
    /// Reads the file's lines into the topic from where the last run stopped (see
    /// [`Resume`]). A second thread splits the file into lines and
    /// encodes them into batches while this one appends the previous batch, so reading and
    /// writing overlap; the two pass a few builders back and forth and allocate nothing per line.
    pub fn read_file(&self) -> Result<()> {
        let committed = self.log.committed(&self.group)?;
        let end_now = self.log.end_offset(&self.topic, 0)?;
        if committed.is_empty() {
            // A new connector: its lines go after what the topic holds now.
            let start = [
                (LINES.into(), 0, 0),
                (END.into(), 0, end_now),
                (BYTES.into(), 0, 0),
            ];
            self.log.commit(&self.group, &start)?;
        }
        let mut at = Resume::from_committed(&committed, end_now);
        self.records.store(at.lines + at.skip, Ordering::Relaxed);
        self.bytes.store(at.bytes, Ordering::Relaxed);
        let mut file = super::files::open_read(&self.file)?;
        if let Some(before) = at.bytes.checked_sub(1) {
            let mut last = [0u8];
            file.seek(std::io::SeekFrom::Start(before))?;
            at.partial = file.read(&mut last)? == 1 && last[0] != b'\n';
        }
        file.seek(std::io::SeekFrom::Start(at.bytes))?;
        let lines = Lines::new(file);
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Filled>(2);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<BatchBuilder>();
        for _ in 0..3 {
            let _ = empty_tx.send(BatchBuilder::with_capacity(APPEND_BYTES + (64 << 10)));
        }
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| split(lines, at, &self.stop, full_tx, empty_rx));
            let mut appended = Ok(());
            for mut filled in full_rx.iter() {
                appended = self.append(&mut filled.batch, filled.lines, filled.bytes);
                if appended.is_err() {
                    break;
                }
                filled.batch.clear();
                // The reader may be done already (its last batches are still queued).
                let _ = empty_tx.send(filled.batch);
            }
            // Dropping the channels ends the reader if it is still going.
            drop(empty_tx);
            let read = reader
                .join()
                .unwrap_or_else(|_| Err(Error::generic("the connector's reader thread panicked")));
            appended.and(read)
        })
    }

    fn append(&self, batch: &mut BatchBuilder, lines: u64, bytes: u64) -> Result<()> {
        self.bytes.store(bytes, Ordering::Relaxed);
        if batch.is_empty() {
            return Ok(());
        }
        let first = self.until_room(|| self.log.append_batch(&self.topic, 0, batch))?;
        let end = first + batch.len() as u64;
        let commit = [
            (LINES.into(), 0, lines),
            (END.into(), 0, end),
            (BYTES.into(), 0, bytes),
        ];
        self.until_room(|| self.log.commit(&self.group, &commit))?;
        self.records.store(lines, Ordering::Relaxed);
        Ok(())
    }

    /// Runs a write to the log, waiting while the disk is full (a failed append leaves nothing
    /// behind, so the connector goes on where it stopped once there is room).
    fn until_room<T>(&self, mut op: impl FnMut() -> crate::log::LogResult<T>) -> Result<T> {
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
            // On a service of several servers, one runs its connectors.
            if !task.log.wait_lease(&task.stop) {
                return;
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(content: &[u8]) -> Vec<(Vec<u8>, usize)> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(content).unwrap();
        use std::io::Seek;
        f.rewind().unwrap();
        let mut lines = Lines::new(f);
        let mut out = Vec::new();
        while let Some((line, read)) = lines.next_line().unwrap() {
            out.push((line.to_vec(), read));
        }
        out
    }

    #[test]
    fn splits_lines_as_read_until_did() {
        let got = lines_of(b"a\r\n\nbc\nlast\r");
        let want: Vec<(Vec<u8>, usize)> = vec![
            (b"a".to_vec(), 3),
            (b"".to_vec(), 1),
            (b"bc".to_vec(), 3),
            (b"last".to_vec(), 5),
        ];
        assert_eq!(got, want);
        assert!(lines_of(b"").is_empty());
    }

    #[test]
    fn a_source_resumes_after_its_committed_bytes_and_skips_what_it_appended_uncommitted() {
        let entry = |k: &str, o: u64| (k.to_string(), 0u32, o);
        // Committed 1 line (2 bytes), topic end 1; a crash after appending one more line.
        let committed = [entry(LINES, 1), entry(END, 1), entry(BYTES, 2)];
        let at = Resume::from_committed(&committed, 2);
        assert_eq!(
            at,
            Resume {
                lines: 1,
                bytes: 2,
                skip: 1,
                partial: false
            }
        );
        // A data directory from before byte positions: lines from the file's start.
        let old = [entry(LINES, 3), entry(END, 5)];
        let at = Resume::from_committed(&old, 6);
        assert_eq!(
            at,
            Resume {
                lines: 0,
                bytes: 0,
                skip: 4,
                partial: false
            }
        );
    }

    /// Runs a FileStreamSource over a file holding `first`, then again (a restart) once it
    /// holds `then`: the topic's values and the second run's task.
    fn restarted(first: &[u8], then: &[u8]) -> (Vec<Vec<u8>>, Task) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let log: SharedLog = Arc::new(crate::log::EmbeddedLog::in_memory());
        log.create_topic("t", 1).unwrap();
        let task = || Task {
            group: group("c"),
            file: path.clone(),
            topic: "t".into(),
            log: log.clone(),
            records: Arc::default(),
            bytes: Arc::default(),
            stop: Arc::default(),
            position: Arc::default(),
        };
        std::fs::write(&path, first).unwrap();
        task().read_file().unwrap();
        std::fs::write(&path, then).unwrap();
        let second = task();
        second.read_file().unwrap();
        let records = log.read("t", 0, 0, 10).unwrap();
        let values = records
            .into_iter()
            .map(|r| r.record.value.unwrap_or_default())
            .collect();
        (values, second)
    }

    /// A file rewritten before the committed position: the source reads on from the byte it
    /// had reached (Kafka Connect's `position`), not from a count of lines.
    #[test]
    fn a_restarted_source_reads_from_its_byte_position() {
        // The same length, now with two empty lines first, and a line appended.
        let (values, second) = restarted(b"a\nb\n", b"\n\nb\nc\n");
        assert_eq!(values, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(second.records.load(Ordering::Relaxed), 3);
        assert_eq!(second.bytes.load(Ordering::Relaxed), 6);
    }

    /// A last line without a line end was read as a line: the line end that arrives later
    /// finishes it, and only the lines after it are new.
    #[test]
    fn a_line_end_added_to_the_last_line_is_not_a_new_line() {
        let (values, _) = restarted(b"a\nb", b"a\nb\nc\n");
        assert_eq!(values, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn a_line_longer_than_a_block_is_read_whole() {
        let long = vec![b'x'; READ_BLOCK * 2 + 17];
        let mut content = b"first\n".to_vec();
        content.extend_from_slice(&long);
        content.extend_from_slice(b"\nend\n");
        let got = lines_of(&content);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].0, long);
        assert_eq!(got[2], (b"end".to_vec(), 4));
        let total: usize = got.iter().map(|l| l.1).sum();
        assert_eq!(total, content.len(), "every byte is counted once");
    }
}
