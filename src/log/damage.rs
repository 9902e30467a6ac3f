//! Damage inside a segment: batch frames that fail their checksum (a bit flipped on disk, a
//! sector lost) with valid frames after them. The records of such a batch are never served: a read finds the next
//! valid frame ([`resync`]) and goes on from there, so the partition stays readable, and the
//! damaged offsets are reported once (topic, partition, offsets, segment and byte) as an error
//! in the server's log. Readers see the offsets missing; a persistent query writes a
//! processing-log entry for them and goes on (`exec::persistent`). Damage at the very end of
//! the last segment, with no valid frame after it, is a torn write instead: recovery truncates
//! it (`partition::Partition::open`).

use super::frame::{self, Decoded, FRAME_HEADER, MAX_FRAME, MIN_FRAME, MIN_RECORD};
use std::collections::BTreeMap;
use std::sync::Mutex;

type ReadAt<'a> = &'a dyn Fn(u64, usize) -> std::io::Result<Vec<u8>>;

/// The next valid frame after damage at byte `pos` of a segment of `size` bytes, where the
/// frame of offset `expect` was due: `(byte position, offset)`. Tried in turn: the frame right
/// after the damaged one (if its length survived), every byte up to the next index entry (a
/// frame whose offset field is plausible is decoded and checked), the index entry, and on.
/// `None`: no valid frame follows in this segment.
pub(super) fn resync(
    read_at: ReadAt<'_>,
    size: u64,
    pos: u64,
    expect: u64,
    index: &[(u64, u64)],
) -> std::io::Result<Option<(u64, u64)>> {
    let head = read_at(pos, FRAME_HEADER)?;
    if head.len() == FRAME_HEADER {
        let len = u32::from_le_bytes(head[0..4].try_into().unwrap_or_default()) as u64;
        let next = pos + FRAME_HEADER as u64 + len;
        if len as usize <= MAX_FRAME {
            if let Some(o) = frame_at(read_at, size, next, expect)? {
                return Ok(Some((next, o)));
            }
        }
    }
    let mut from = pos + 1;
    let stops = index
        .iter()
        .map(|&(_, p)| p)
        .filter(|p| *p > pos)
        .chain(std::iter::once(size));
    for stop in stops {
        let window = read_at(from, (stop.saturating_sub(from) + 16) as usize)?;
        for i in 0..stop.saturating_sub(from) as usize {
            let Some(field) = window.get(i + 8..i + 16) else {
                break;
            };
            let o = u64::from_le_bytes(field.try_into().unwrap_or_default());
            let c = from + i as u64;
            // Damaged bytes hold at most one record per MIN_RECORD bytes.
            if o < expect || o > expect + (c - pos) / MIN_RECORD + 1 {
                continue;
            }
            if let Some(o) = frame_at(read_at, size, c, expect)? {
                return Ok(Some((c, o)));
            }
        }
        if let Some(o) = frame_at(read_at, size, stop, expect)? {
            return Ok(Some((stop, o)));
        }
        from = stop + 1;
    }
    Ok(None)
}

/// The offset of the valid frame at byte `pos`, if there is one of offset `expect` or later.
fn frame_at(read_at: ReadAt<'_>, size: u64, pos: u64, expect: u64) -> std::io::Result<Option<u64>> {
    if pos + MIN_FRAME as u64 > size {
        return Ok(None);
    }
    let head = read_at(pos, FRAME_HEADER)?;
    let len = u32::from_le_bytes(head[0..4].try_into().unwrap_or_default()) as usize;
    if len > MAX_FRAME || pos + (FRAME_HEADER + len) as u64 > size {
        return Ok(None);
    }
    Ok(match frame::decode(&read_at(pos, FRAME_HEADER + len)?) {
        Decoded::Batch(b, _) if b.base >= expect => Some(b.base),
        _ => None,
    })
}

/// The damaged offset ranges of a partition found so far, each reported once.
#[derive(Default)]
pub(super) struct Damage {
    /// First damaged offset to the offset after the damage.
    ranges: Mutex<BTreeMap<u64, u64>>,
}

impl Damage {
    /// Records offsets `from..to` as damaged (the frame at byte `pos` of segment `segment`
    /// failed its checksum); reported the first time.
    pub fn report(&self, label: &str, segment: u64, pos: u64, from: u64, to: u64) {
        let mut ranges = self.ranges.lock().unwrap_or_else(|e| e.into_inner());
        if ranges.insert(from, to).is_none() {
            tracing::error!(
                "log damage: {label} offsets {from}..{to} ({} records) fail their checksum \
                 (segment {segment}, byte {pos}); they are skipped",
                to.saturating_sub(from)
            );
        }
    }

    /// The damaged ranges `(from, to)` found so far.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let ranges = self.ranges.lock().unwrap_or_else(|e| e.into_inner());
        ranges.iter().map(|(a, b)| (*a, *b)).collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::log::{frame, EmbeddedLog, FsyncPolicy, Log, Record};

    fn rec(i: usize) -> Record {
        Record {
            key: Some(i.to_string().into_bytes()),
            value: Some(format!("value {i} {}", "x".repeat(i % 50)).into_bytes()),
            timestamp: i as i64,
            ..Default::default()
        }
    }

    /// Records per batch in [`partition`].
    const BATCH: usize = 10;

    /// A partition of `n` records appended [`BATCH`] at a time; the byte position of each
    /// batch's frame.
    fn partition(dir: &std::path::Path, n: usize) -> Vec<usize> {
        let log = EmbeddedLog::open(dir, FsyncPolicy::Never).unwrap();
        log.create_topic("t", 1).unwrap();
        let records: Vec<Record> = (0..n).map(rec).collect();
        let mut buf = Vec::new();
        let mut at = Vec::new();
        for (i, chunk) in records.chunks(BATCH).enumerate() {
            log.append("t", 0, chunk).unwrap();
            let frames = frame::encode(&mut buf, (i * BATCH) as u64, chunk);
            at.extend(frames.iter().map(|f| f.1));
        }
        assert_eq!(at.len(), n.div_ceil(BATCH), "one frame per append");
        at
    }

    fn flip(dir: &std::path::Path, at: usize) {
        let seg = dir.join("topics/t/0").join(format!("{:020}.log", 0));
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[at] ^= 0x10;
        std::fs::write(&seg, bytes).unwrap();
    }

    /// Reopens the log, reads everything, appends one more record: (offsets read, damage, end).
    fn reopen(dir: &std::path::Path) -> (Vec<u64>, Vec<(u64, u64)>, u64) {
        let log = EmbeddedLog::open(dir, FsyncPolicy::Never).unwrap();
        let offsets = log
            .read("t", 0, 0, usize::MAX)
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(
                    r.record,
                    rec(r.offset as usize),
                    "a record came back changed"
                );
                r.offset
            })
            .collect();
        let first = log.append("t", 0, &[rec(7)]).unwrap();
        (offsets, log.damaged("t", 0).unwrap(), first)
    }

    /// Offsets `0..n` but those of batch `skipped`.
    fn all_but(n: u64, skipped: u64) -> Vec<u64> {
        let b = BATCH as u64;
        (0..n).filter(|o| o / b != skipped).collect()
    }

    #[test]
    fn a_bit_flipped_in_the_middle_skips_that_batch_only() {
        let dir = tempfile::tempdir().unwrap();
        let at = partition(dir.path(), 3000);
        flip(dir.path(), at[120] + 30); // in the payload: the checksum fails
        let (offsets, damage, next) = reopen(dir.path());
        assert_eq!(offsets, all_but(3000, 120));
        assert_eq!(damage, [(1200, 1210)]);
        assert_eq!(next, 3000, "appends go on after the last record");
    }

    #[test]
    fn a_damaged_length_is_passed_by_finding_the_next_frame() {
        let dir = tempfile::tempdir().unwrap();
        let at = partition(dir.path(), 3000);
        flip(dir.path(), at[150] + 2); // the length: the next frame is not where it says
        let (offsets, damage, _) = reopen(dir.path());
        assert_eq!(offsets, all_but(3000, 150));
        assert_eq!(damage, [(1500, 1510)]);
    }

    #[test]
    fn a_damaged_base_offset_is_caught_by_the_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let at = partition(dir.path(), 3000);
        flip(dir.path(), at[77] + 9); // the base offset's second byte
        let (offsets, damage, _) = reopen(dir.path());
        assert_eq!(offsets, all_but(3000, 77));
        assert_eq!(damage, [(770, 780)]);
    }

    #[test]
    fn damage_near_the_end_with_records_after_it_is_not_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let at = partition(dir.path(), 3000);
        flip(dir.path(), at[298] + 40);
        let (offsets, damage, next) = reopen(dir.path());
        assert_eq!(
            offsets,
            all_but(3000, 298),
            "the last batch was truncated away"
        );
        assert_eq!(damage, [(2980, 2990)]);
        assert_eq!(next, 3000);
        // A fetch that meets only damage says where to go on: past it, not past the end.
        let log = EmbeddedLog::open(dir.path(), FsyncPolicy::Never).unwrap();
        let f = log.fetch("t", 0, 2980, 10).unwrap();
        assert_eq!((f.len(), f.next_offset()), (0, 2990));
        let f = log.fetch("t", 0, 2975, 100).unwrap();
        assert_eq!((f.len(), f.next_offset()), (16, 3001));
        let f = log.fetch("t", 0, 3001, 100).unwrap();
        assert_eq!((f.len(), f.next_offset()), (0, 3001), "nothing there yet");
    }

    #[test]
    fn a_damaged_last_batch_is_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let at = partition(dir.path(), 100);
        flip(dir.path(), at[9] + 40);
        let (offsets, damage, next) = reopen(dir.path());
        assert_eq!(offsets, (0..90).collect::<Vec<_>>());
        assert!(damage.is_empty());
        assert_eq!(next, 90);
    }
}
