//! One partition: a list of segments, each a file (or, in memory mode, a byte buffer) of batch
//! frames, with a sparse offset index (a batch's base offset and byte position, one entry every
//! [`INDEX_INTERVAL`] bytes) kept beside it.

use super::damage::{self, Damage};
use super::frame::{self, Decoded};
use super::{BatchBuilder, Fetch, LogResult};
use std::fs::{File, OpenOptions};
use std::io::Write;
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
            Bytes::File { log, .. } => read_exact_at(log, pos, len),
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

    /// The segment's files (log and index) with their paths; none in memory.
    fn files(&self, dir: &Path) -> Vec<(&File, PathBuf)> {
        let Bytes::File { log, index } = &self.bytes else {
            return Vec::new();
        };
        let (log_path, index_path) = segment_paths(dir, self.base);
        vec![(log, log_path), (index, index_path)]
    }

    fn sync(&self, dir: &Path) {
        for (file, path) in self.files(dir) {
            super::durability::fsync(file, &path);
        }
    }

    /// Undoes a failed append: the segment ends at `size` again, with `index_len` index entries.
    fn roll_back(&mut self, index_len: usize, last_indexed_pos: u64) -> std::io::Result<()> {
        self.index.truncate(index_len);
        self.last_indexed_pos = last_indexed_pos;
        if let Bytes::File { log, index } = &mut self.bytes {
            log.set_len(self.size)?;
            index.set_len((index_len * 16) as u64)?;
        }
        Ok(())
    }

    /// The offset and byte position of the indexed frame to start scanning from to find
    /// `offset`.
    fn scan_start(&self, offset: u64) -> (u64, u64) {
        match self.index.partition_point(|&(o, _)| o <= offset) {
            0 => (self.base, 0),
            i => self.index[i - 1],
        }
    }
}

/// Frames of a segment read in chunks: the last chunk holds the bytes `[at, at + len)`. A
/// scan that `keep`s its chunks hands them to a [`Fetch`] at the end.
struct Scan<'a> {
    seg: &'a Segment,
    chunks: Vec<Vec<u8>>,
    at: u64,
    keep: bool,
}

impl<'a> Scan<'a> {
    fn new(seg: &'a Segment, keep: bool) -> Self {
        Scan {
            seg,
            chunks: vec![Vec::new()],
            at: 0,
            keep,
        }
    }

    fn buf(&self) -> &[u8] {
        self.chunks.last().map_or(&[][..], Vec::as_slice)
    }

    /// Makes `bytes`, read from byte `pos`, the current chunk.
    fn load(&mut self, pos: u64, bytes: Vec<u8>) {
        if !self.keep {
            self.chunks.clear();
        }
        self.chunks.push(bytes);
        self.at = pos;
    }

    /// The current chunk's index and the range of the frame of `size` bytes at `pos` in it.
    fn place(&self, pos: u64, size: usize) -> (usize, std::ops::Range<usize>) {
        let start = (pos - self.at) as usize;
        (self.chunks.len() - 1, start..start + size)
    }

    /// Whether the frame at `pos` starts in the current chunk and is complete there (or ends
    /// where the segment ends).
    fn holds(&self, pos: u64) -> bool {
        let end = self.at + self.buf().len() as u64;
        if pos < self.at || pos >= end {
            return false;
        }
        let rest = &self.buf()[(pos - self.at) as usize..];
        if rest.len() < frame::FRAME_HEADER {
            return end >= self.seg.size;
        }
        let len = frame::frame_len(rest);
        len > frame::MAX_FRAME || rest.len() >= len + frame::FRAME_HEADER || end >= self.seg.size
    }

    /// The frame at byte `pos` (`Incomplete` only where the segment ends inside it).
    fn frame(&mut self, pos: u64) -> std::io::Result<Decoded<'_>> {
        if !self.holds(pos) {
            let mut bytes = self.seg.read_at(pos, READ_CHUNK)?;
            if bytes.len() >= frame::FRAME_HEADER {
                let whole = frame::frame_len(&bytes) + frame::FRAME_HEADER;
                if whole > bytes.len() && whole <= frame::MAX_FRAME + frame::FRAME_HEADER {
                    bytes = self.seg.read_at(pos, whole)?;
                }
            }
            self.load(pos, bytes);
        }
        let at = (pos - self.at) as usize;
        Ok(frame::decode(&self.buf()[at..]))
    }
}

pub(crate) struct Partition {
    /// `topic/partition`, for reports.
    label: String,
    damage: Damage,
    dir: Option<PathBuf>,
    segments: Vec<Segment>,
    next_offset: u64,
    segment_bytes: u64,
    /// Oldest segments are deleted while the partition holds more (see `enforce_retention`).
    retention_bytes: Option<u64>,
}

/// `len` bytes of `file` from byte `pos`, read into a buffer that is not zeroed first (a
/// fetch reads a quarter of a megabyte at a time; zeroing it cost more than the copy).
fn read_exact_at(file: &File, pos: u64, len: usize) -> std::io::Result<Vec<u8>> {
    use std::os::fd::AsRawFd;
    let mut buf: Vec<u8> = Vec::with_capacity(len);
    while buf.len() < len {
        let done = buf.len();
        let at = libc::off_t::try_from(pos + done as u64)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: pread writes at most `len - done` bytes into the buffer's spare capacity,
        // which starts at `done` and holds `len - done` bytes.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                buf.as_mut_ptr().add(done).cast(),
                len - done,
                at,
            )
        };
        match n {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n if n < 0 => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            // SAFETY: pread initialized the `n` bytes after `done`.
            n => unsafe { buf.set_len(done + n as usize) },
        }
    }
    Ok(buf)
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
            label: "memory".into(),
            damage: Damage::default(),
            dir: None,
            segments: vec![seg],
            next_offset: 0,
            segment_bytes,
            retention_bytes: None,
        }
    }

    /// Opens (or creates) a partition directory, recovering a torn tail (see [`damage`]).
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
        let name = |p: Option<&Path>| {
            p.and_then(|p| p.file_name())
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        };
        let mut p = Partition {
            label: format!("{}/{}", name(dir.parent()), name(Some(dir))),
            damage: Damage::default(),
            dir: Some(dir.to_path_buf()),
            segments: Vec::new(),
            next_offset: 0,
            segment_bytes,
            retention_bytes: None,
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

    /// Scans the last segment from its last index entry. A batch that fails its checksum with
    /// valid batches after it is damage (reported; reads skip it); with none after it, a torn
    /// tail, truncated.
    fn recover_tail(&mut self) -> LogResult<()> {
        let seg = self.segments.last_mut().expect("a partition has a segment");
        // Index entries beyond the data are dropped (the index may be ahead of a torn log).
        let indexed = seg.index.len();
        while seg.index.last().is_some_and(|&(_, p)| p >= seg.size) {
            seg.index.pop();
        }
        if seg.index.len() < indexed {
            seg.last_indexed_pos = seg.index.last().map_or(0, |e| e.1);
            if let Bytes::File { index, .. } = &mut seg.bytes {
                index.set_len((seg.index.len() * 16) as u64)?;
            }
        }
        let (mut offset, mut pos) = seg.index.last().copied().unwrap_or((seg.base, 0));
        let mut frames = Vec::new();
        let mut torn = None;
        {
            let seg: &Segment = seg;
            let mut scan = Scan::new(seg, false);
            while pos < seg.size {
                match scan.frame(pos)? {
                    Decoded::Batch(b, size) if b.base == offset => {
                        frames.push((b.base, pos));
                        pos += size as u64;
                        offset = b.next();
                    }
                    _ => {
                        let read = |p, n| seg.read_at(p, n);
                        match damage::resync(&read, seg.size, pos, offset, &seg.index)? {
                            Some((p, o)) => {
                                self.damage.report(&self.label, seg.base, pos, offset, o);
                                (pos, offset) = (p, o);
                            }
                            None => {
                                torn = Some(pos);
                                break;
                            }
                        }
                    }
                }
            }
        }
        for (o, p) in frames {
            seg.index_entry(o, p)?;
        }
        if let Some(end) = torn {
            tracing::warn!(
                "log recovery: {} truncated a torn tail of {} bytes at offset {offset}",
                self.label,
                seg.size - end
            );
            if let Bytes::File { log, index } = &mut seg.bytes {
                log.set_len(end)?;
                index.set_len((seg.index.len() * 16) as u64)?;
            }
            seg.size = end;
        }
        self.next_offset = offset;
        Ok(())
    }

    /// Offset ranges found damaged so far (see [`damage`]).
    pub fn damaged(&self) -> Vec<(u64, u64)> {
        self.damage.ranges()
    }

    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Appends the builder's records (sealed here with their offsets) as one write.
    pub fn append(&mut self, batch: &mut BatchBuilder) -> LogResult<u64> {
        let first = self.next_offset;
        if batch.is_empty() {
            return Ok(first);
        }
        if self
            .segments
            .last()
            .is_some_and(|s| s.size >= self.segment_bytes)
        {
            self.roll()?;
            self.enforce_retention()?;
        }
        let seg = self.segments.last_mut().expect("a partition has a segment");
        let frames = batch.seal(first);
        let bytes = batch.bytes();
        let (index_len, last_indexed_pos) = (seg.index.len(), seg.last_indexed_pos);
        let mut write = || -> std::io::Result<()> {
            for &(base, at) in &frames {
                seg.index_entry(base, seg.size + at as u64)?;
            }
            match &mut seg.bytes {
                Bytes::Memory(v) => v.extend_from_slice(bytes),
                Bytes::File { log, .. } => log.write_all(bytes)?,
            }
            Ok(())
        };
        if let Err(e) = write() {
            // A full disk (or any failed write) leaves no partial frame behind: the next
            // append, once there is room, goes where this one started.
            if let Err(undo) = seg.roll_back(index_len, last_indexed_pos) {
                tracing::error!("log: cannot undo a failed append: {undo}");
            }
            return Err(e.into());
        }
        seg.size += bytes.len() as u64;
        self.next_offset = first + batch.len() as u64;
        Ok(first)
    }

    /// Forces the last segment to disk; a failure stops the process (`durability`).
    pub fn sync(&self) -> LogResult<()> {
        if let (Some(seg), Some(dir)) = (self.segments.last(), &self.dir) {
            seg.sync(dir);
        }
        Ok(())
    }

    /// Handles of the active segment's files (log and index) with their paths, to force them
    /// to disk without holding the partition (`group_commit`). `None` in memory.
    pub fn sync_handles(&self) -> std::io::Result<Vec<(File, PathBuf)>> {
        let (Some(seg), Some(dir)) = (self.segments.last(), &self.dir) else {
            return Ok(Vec::new());
        };
        seg.files(dir)
            .into_iter()
            .map(|(file, path)| Ok((file.try_clone()?, path)))
            .collect()
    }

    pub fn set_retention_bytes(&mut self, bytes: u64) {
        self.retention_bytes = Some(bytes);
    }

    /// The first offset still held.
    pub fn start_offset(&self) -> u64 {
        self.segments.first().map_or(0, |s| s.base)
    }

    /// Deletes the oldest segments (never the active one) while the partition holds more than
    /// its retention.
    pub fn enforce_retention(&mut self) -> LogResult<()> {
        let Some(limit) = self.retention_bytes else {
            return Ok(());
        };
        let mut total: u64 = self.segments.iter().map(|s| s.size).sum();
        while self.segments.len() > 1 && total > limit {
            let old = self.segments.remove(0);
            total -= old.size;
            if let Some(dir) = &self.dir {
                let (log_path, index_path) = segment_paths(dir, old.base);
                drop(old);
                std::fs::remove_file(log_path)?;
                std::fs::remove_file(index_path)?;
            }
        }
        Ok(())
    }

    fn roll(&mut self) -> LogResult<()> {
        // The segment being closed is complete on disk before the next one starts.
        self.sync()?;
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

    /// Up to `max` records from `offset`, in the batches that hold them. Batches that fail
    /// their checksum are never returned: the read goes on after them (their offsets are
    /// missing from the result) and the damage is reported once ([`damage`](super::damage)).
    pub fn fetch(&self, partition: u32, offset: u64, max: usize) -> LogResult<Fetch> {
        // Records before the start were deleted by retention: a read from there starts at the
        // first record still held.
        let offset = offset.max(self.start_offset());
        let mut out = Fetch::new(partition, offset);
        if offset >= self.next_offset || max == 0 {
            return Ok(out);
        }
        let first = self
            .segments
            .partition_point(|s| s.base <= offset)
            .saturating_sub(1);
        let (mut want, end) = (offset, offset.saturating_add(max as u64));
        for (i, seg) in self.segments.iter().enumerate().skip(first) {
            let seg_end = self
                .segments
                .get(i + 1)
                .map_or(self.next_offset, |s| s.base);
            let (mut expect, mut pos) = seg.scan_start(want);
            let mut trusted = pos == 0;
            let mut scan = Scan::new(seg, true);
            let mut found = Vec::new();
            while pos < seg.size && want < end {
                let placed = match scan.frame(pos)? {
                    Decoded::Batch(b, size) => Some((b.base, b.next(), size)),
                    Decoded::Incomplete | Decoded::Corrupt => None,
                };
                match placed {
                    Some((base, _, _)) if !trusted && base != expect => {
                        // The index points elsewhere than it says: scan the segment.
                        (expect, pos, trusted) = (seg.base, 0, true);
                    }
                    Some((base, next, size)) => {
                        trusted = true;
                        if next > want {
                            let (chunk, frame) = scan.place(pos, size);
                            found.push((chunk, frame, want.max(base), next.min(end)));
                            want = next;
                        }
                        expect = next;
                        pos += size as u64;
                    }
                    None => {
                        let found = damage::resync(
                            &|p, n| seg.read_at(p, n),
                            seg.size,
                            pos,
                            expect,
                            &seg.index,
                        )?;
                        let (next_pos, next) = found.unwrap_or((seg.size, seg_end));
                        self.damage.report(&self.label, seg.base, pos, expect, next);
                        want = want.max(next);
                        (expect, pos, trusted) = (next, next_pos, true);
                    }
                }
            }
            let base = out.add_chunks(std::mem::take(&mut scan.chunks));
            for (chunk, frame, from, to) in found {
                out.add(base + chunk, frame, from, to);
            }
            if want >= end {
                break;
            }
        }
        // Damage through the end of what is there is passed too.
        out.set_next(want.min(end).min(self.next_offset));
        Ok(out)
    }

    pub fn delete_files(&self) -> LogResult<()> {
        if let Some(dir) = &self.dir {
            std::fs::remove_dir_all(dir)?;
        }
        Ok(())
    }
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
    let mut scan = Scan::new(seg, false);
    while pos < seg.size {
        match scan.frame(pos)? {
            Decoded::Batch(b, size) => {
                offset = b.next();
                pos += size as u64;
            }
            _ => break,
        }
    }
    Ok(offset)
}
