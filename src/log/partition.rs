//! One partition: a list of segments, each a file (or, in memory mode, a byte buffer) of frames,
//! with a sparse offset index (one entry every [`INDEX_INTERVAL`] bytes) kept beside it.

use super::frame::{self, Decoded};
use super::{LogResult, Record, StoredRecord};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const INDEX_INTERVAL: u64 = 4096;
const READ_CHUNK: usize = 256 * 1024;

enum Bytes {
    File { log: File, index: File },
    Memory(Vec<u8>),
}

struct Segment {
    base: u64,
    size: u64,
    /// (offset, byte position) pairs, ascending.
    index: Vec<(u64, u64)>,
    last_indexed_pos: u64,
    bytes: Bytes,
}

impl Segment {
    fn read_at(&self, pos: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let end = (pos + len as u64).min(self.size);
        let len = end.saturating_sub(pos) as usize;
        match &self.bytes {
            Bytes::Memory(v) => Ok(v[pos as usize..pos as usize + len].to_vec()),
            Bytes::File { log, .. } => {
                let mut buf = vec![0u8; len];
                log.read_exact_at(&mut buf, pos)?;
                Ok(buf)
            }
        }
    }

    fn index_entry(&mut self, offset: u64, pos: u64) -> std::io::Result<()> {
        if self.index.is_empty() || pos - self.last_indexed_pos >= INDEX_INTERVAL {
            self.index.push((offset, pos));
            self.last_indexed_pos = pos;
            if let Bytes::File { index, .. } = &mut self.bytes {
                let mut e = [0u8; 16];
                e[..8].copy_from_slice(&offset.to_le_bytes());
                e[8..].copy_from_slice(&pos.to_le_bytes());
                index.write_all(&e)?;
            }
        }
        Ok(())
    }

    /// The byte position to start scanning from to find `offset`.
    fn scan_start(&self, offset: u64) -> u64 {
        match self.index.partition_point(|&(o, _)| o <= offset) {
            0 => 0,
            i => self.index[i - 1].1,
        }
    }
}

pub(crate) struct Partition {
    dir: Option<PathBuf>,
    segments: Vec<Segment>,
    next_offset: u64,
    segment_bytes: u64,
}

fn segment_paths(dir: &Path, base: u64) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{base:020}.log")),
        dir.join(format!("{base:020}.index")),
    )
}

impl Partition {
    pub fn memory(segment_bytes: u64) -> Self {
        let seg = Segment {
            base: 0,
            size: 0,
            index: Vec::new(),
            last_indexed_pos: 0,
            bytes: Bytes::Memory(Vec::new()),
        };
        Partition {
            dir: None,
            segments: vec![seg],
            next_offset: 0,
            segment_bytes,
        }
    }

    /// Opens (or creates) a partition directory, recovering a torn or corrupt tail.
    pub fn open(dir: &Path, segment_bytes: u64) -> LogResult<Self> {
        std::fs::create_dir_all(dir)?;
        let mut bases: Vec<u64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".log")?.parse().ok()
            })
            .collect();
        bases.sort_unstable();
        if bases.is_empty() {
            bases.push(0);
        }
        let mut p = Partition {
            dir: Some(dir.to_path_buf()),
            segments: Vec::new(),
            next_offset: 0,
            segment_bytes,
        };
        let last = bases.len() - 1;
        for (i, base) in bases.into_iter().enumerate() {
            let seg = open_segment(dir, base)?;
            p.segments.push(seg);
            if i == last {
                p.recover_tail()?;
            } else {
                // Older segments were complete when the next one was rolled.
                p.next_offset = bases_next(&p.segments[i])?;
            }
        }
        Ok(p)
    }

    /// Scans the last segment from its last index entry, truncating at the first bad frame.
    fn recover_tail(&mut self) -> LogResult<()> {
        let seg = self.segments.last_mut().expect("a partition has a segment");
        let (mut offset, mut pos) = seg.index.last().copied().unwrap_or((seg.base, 0));
        // Index entries beyond the data are dropped (the index may be ahead of a torn log).
        while let Some(&(o, p)) = seg.index.last() {
            if p < seg.size {
                break;
            }
            seg.index.pop();
            (offset, pos) = seg.index.last().copied().unwrap_or((seg.base, 0));
            let _ = o;
        }
        loop {
            let buf = seg.read_at(pos, READ_CHUNK)?;
            let mut at = 0usize;
            let mut progressed = false;
            loop {
                match frame::decode(&buf[at..]) {
                    Decoded::Frame(o, _, size) if o == offset => {
                        seg.index_entry(o, pos + at as u64)?;
                        at += size;
                        offset += 1;
                        progressed = true;
                    }
                    Decoded::Incomplete if buf.len() == READ_CHUNK && at > 0 => break,
                    Decoded::Incomplete if buf.len() == READ_CHUNK && at == 0 => {
                        // A frame larger than one chunk: read it whole.
                        let len =
                            u32::from_le_bytes(buf[0..4].try_into().unwrap_or_default()) as usize;
                        let whole = seg.read_at(pos, len + frame::FRAME_HEADER)?;
                        match frame::decode(&whole) {
                            Decoded::Frame(o, _, size) if o == offset => {
                                seg.index_entry(o, pos)?;
                                pos += size as u64;
                                offset += 1;
                                progressed = true;
                            }
                            _ => return Self::truncate(seg, pos, offset, &mut self.next_offset),
                        }
                        break;
                    }
                    _ => {
                        let end = pos + at as u64;
                        return Self::truncate(seg, end, offset, &mut self.next_offset);
                    }
                }
            }
            pos += at as u64;
            if !progressed {
                return Self::truncate(seg, pos, offset, &mut self.next_offset);
            }
        }
    }

    fn truncate(seg: &mut Segment, end: u64, next_offset: u64, out: &mut u64) -> LogResult<()> {
        if end < seg.size {
            tracing::warn!(
                "log recovery: truncated a torn or corrupt tail of {} bytes at offset {next_offset}",
                seg.size - end
            );
            if let Bytes::File { log, index } = &mut seg.bytes {
                log.set_len(end)?;
                index.set_len((seg.index.len() * 16) as u64)?;
            }
            seg.size = end;
        }
        *out = next_offset;
        Ok(())
    }

    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    pub fn append(&mut self, records: &[Record], buf: &mut Vec<u8>) -> LogResult<u64> {
        let first = self.next_offset;
        if self
            .segments
            .last()
            .is_some_and(|s| s.size >= self.segment_bytes)
        {
            self.roll()?;
        }
        let seg = self.segments.last_mut().expect("a partition has a segment");
        buf.clear();
        let mut offset = first;
        for r in records {
            let at = buf.len() as u64;
            frame::encode(buf, offset, r);
            seg.index_entry(offset, seg.size + at)?;
            offset += 1;
        }
        match &mut seg.bytes {
            Bytes::Memory(v) => v.extend_from_slice(buf),
            Bytes::File { log, .. } => log.write_all(buf)?,
        }
        seg.size += buf.len() as u64;
        self.next_offset = offset;
        Ok(first)
    }

    pub fn sync(&self) -> LogResult<()> {
        if let Some(Segment {
            bytes: Bytes::File { log, index },
            ..
        }) = self.segments.last()
        {
            log.sync_data()?;
            index.sync_data()?;
        }
        Ok(())
    }

    fn roll(&mut self) -> LogResult<()> {
        let base = self.next_offset;
        let seg = match &self.dir {
            Some(dir) => open_segment(dir, base)?,
            None => Segment {
                base,
                size: 0,
                index: Vec::new(),
                last_indexed_pos: 0,
                bytes: Bytes::Memory(Vec::new()),
            },
        };
        self.segments.push(seg);
        Ok(())
    }

    pub fn read(&self, partition: u32, offset: u64, max: usize) -> LogResult<Vec<StoredRecord>> {
        let mut out = Vec::new();
        if offset >= self.next_offset || max == 0 {
            return Ok(out);
        }
        let first = self
            .segments
            .partition_point(|s| s.base <= offset)
            .saturating_sub(1);
        let mut want = offset;
        for seg in &self.segments[first..] {
            let mut pos = seg.scan_start(want);
            while pos < seg.size && out.len() < max {
                let buf = seg.read_at(pos, READ_CHUNK)?;
                let mut at = 0usize;
                while out.len() < max {
                    match frame::decode(&buf[at..]) {
                        Decoded::Frame(o, record, size) => {
                            if o >= want {
                                out.push(StoredRecord {
                                    partition,
                                    offset: o,
                                    record,
                                });
                                want = o + 1;
                            }
                            at += size;
                        }
                        Decoded::Incomplete if at == 0 => {
                            let len = u32::from_le_bytes(buf[0..4].try_into().unwrap_or_default())
                                as usize;
                            let whole = seg.read_at(pos, len + frame::FRAME_HEADER)?;
                            if let Decoded::Frame(o, record, size) = frame::decode(&whole) {
                                if o >= want {
                                    out.push(StoredRecord {
                                        partition,
                                        offset: o,
                                        record,
                                    });
                                    want = o + 1;
                                }
                                at = size;
                            } else {
                                return Err(corrupt(seg.base, pos));
                            }
                            break;
                        }
                        Decoded::Incomplete => break,
                        Decoded::Corrupt => return Err(corrupt(seg.base, pos + at as u64)),
                    }
                }
                pos += at as u64;
            }
            if out.len() >= max {
                break;
            }
        }
        Ok(out)
    }

    pub fn delete_files(&self) -> LogResult<()> {
        if let Some(dir) = &self.dir {
            std::fs::remove_dir_all(dir)?;
        }
        Ok(())
    }
}

fn corrupt(base: u64, pos: u64) -> super::LogError {
    super::LogError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("corrupt frame in segment {base} at byte {pos}"),
    ))
}

fn open_segment(dir: &Path, base: u64) -> LogResult<Segment> {
    let (log_path, index_path) = segment_paths(dir, base);
    let log = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&log_path)?;
    let mut index_file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&index_path)?;
    let size = log.metadata()?.len();
    let raw = std::fs::read(&index_path)?;
    let mut index: Vec<(u64, u64)> = raw
        .chunks_exact(16)
        .map(|c| {
            let o = u64::from_le_bytes(c[..8].try_into().unwrap_or_default());
            let p = u64::from_le_bytes(c[8..].try_into().unwrap_or_default());
            (o, p)
        })
        .collect();
    // Keep only a consistent, ascending prefix.
    let good = index
        .windows(2)
        .position(|w| w[1].0 <= w[0].0 || w[1].1 <= w[0].1)
        .map_or(index.len(), |i| i + 1);
    index.truncate(good);
    if index.first().is_some_and(|&(o, p)| o != base || p != 0) {
        index.clear();
    }
    if (index.len() * 16) as u64 != raw.len() as u64 {
        index_file.set_len((index.len() * 16) as u64)?;
        index_file.flush()?;
    }
    let last_indexed_pos = index.last().map_or(0, |e| e.1);
    Ok(Segment {
        base,
        size,
        index,
        last_indexed_pos,
        bytes: Bytes::File {
            log,
            index: index_file,
        },
    })
}

/// The next offset after a complete segment: scan from its last index entry.
fn bases_next(seg: &Segment) -> LogResult<u64> {
    let (mut offset, mut pos) = seg.index.last().copied().unwrap_or((seg.base, 0));
    while pos < seg.size {
        let buf = seg.read_at(pos, READ_CHUNK)?;
        let mut at = 0;
        while let Decoded::Frame(o, _, size) = frame::decode(&buf[at..]) {
            offset = o + 1;
            at += size;
        }
        if at == 0 {
            break;
        }
        pos += at as u64;
    }
    Ok(offset)
}
