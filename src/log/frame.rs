//! Batch framing (log format 2): one frame per batch of records, after Kafka's RecordBatch v2.
//!
//! ```text
//! frame:  len u32 LE | crc u32 LE (CRC-32 of the rest) | base_offset u64 LE | magic u8 (2)
//!         | attributes u8 | count u32 LE | base_timestamp i64 LE | max_timestamp i64 LE
//!         | producer u64 LE (only with ATTR_ORIGINS) | count records
//! record: timestamp delta (zigzag varint, from base_timestamp)
//!         | key length (zigzag varint, -1 = null) | key | value length (-1 = tombstone) | value
//!         | header count (varint) | (key length varint, key, value length zigzag, value)*
//!         | with ATTR_ORIGINS: origin partition (varint), origin offset (varint)
//! ```
//! Offsets inside a batch are consecutive from `base_offset`. The checksum covers the base
//! offset, so a frame read back is exactly what was written or it is refused. A batch carries
//! one producer (the [`Origin`] of a persistent query's outputs); an append of records from
//! several producers, or with and without origins, becomes several batches, and so does one
//! larger than [`MAX_BATCH_BYTES`]. [`decode`] checks the checksum and parses every record, so
//! a batch it returns can be iterated without failing.

use super::{Header, Origin, Record};

/// The on-disk format this module reads and writes (see `store` for the directory marker).
pub const FORMAT_VERSION: u32 = 2;
pub const MAGIC: u8 = 2;
/// Length and checksum.
pub const FRAME_HEADER: usize = 8;
/// Base offset, magic, attributes, count and the two timestamps.
const BATCH_HEADER: usize = 8 + 1 + 1 + 4 + 8 + 8;
/// Both headers: the bytes a frame starts with, before the producer and the records.
pub(super) const HEADER_BYTES: usize = FRAME_HEADER + BATCH_HEADER;
/// The smallest record: timestamp delta, key and value lengths, header count.
pub const MIN_RECORD: u64 = 4;
/// The smallest frame: one smallest record.
pub const MIN_FRAME: usize = FRAME_HEADER + BATCH_HEADER + MIN_RECORD as usize;
/// Frames larger than this are treated as corruption.
pub const MAX_FRAME: usize = 64 << 20;
/// An append is cut into batches of about this size.
pub const MAX_BATCH_BYTES: usize = 1 << 20;
const ATTR_ORIGINS: u8 = 1;

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

pub(super) fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_zigzag(out, -1),
        Some(b) => {
            put_zigzag(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}

/// Fills in the header and checksum of `frame`, a whole frame whose first [`HEADER_BYTES`]
/// were left for them (see [`BatchBuilder`](super::BatchBuilder)).
pub(super) fn seal(frame: &mut [u8], base: u64, count: u32, ts: (i64, i64), origins: bool) {
    let h = &mut frame[FRAME_HEADER..];
    h[0..8].copy_from_slice(&base.to_le_bytes());
    h[8] = MAGIC;
    h[9] = if origins { ATTR_ORIGINS } else { 0 };
    h[10..14].copy_from_slice(&count.to_le_bytes());
    h[14..22].copy_from_slice(&ts.0.to_le_bytes());
    h[22..30].copy_from_slice(&ts.1.to_le_bytes());
    let len = (frame.len() - FRAME_HEADER) as u32;
    let crc = crc32fast::hash(&frame[FRAME_HEADER..]);
    frame[0..4].copy_from_slice(&len.to_le_bytes());
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// The frames of `records`, the first at offset `first`, appended to `out`; the (base offset,
/// byte position in `out`) of every frame. The log appends through a builder; tests use this.
#[cfg(test)]
pub(super) fn encode(out: &mut Vec<u8>, first: u64, records: &[Record]) -> Vec<(u64, usize)> {
    let mut b = super::BatchBuilder::new();
    for r in records {
        b.push_record(r);
    }
    let at = out.len();
    let placed = b.seal(first);
    out.extend_from_slice(b.bytes());
    placed.into_iter().map(|(o, p)| (o, at + p)).collect()
}

/// A record's headers as read: encoded in a batch, or owned by a [`Record`].
#[derive(Debug, Clone, Copy)]
pub enum HeadersRef<'a> {
    Encoded { count: u32, bytes: &'a [u8] },
    Owned(&'a [Header]),
}

impl<'a> HeadersRef<'a> {
    pub fn is_empty(&self) -> bool {
        match self {
            HeadersRef::Encoded { count, .. } => *count == 0,
            HeadersRef::Owned(h) => h.is_empty(),
        }
    }

    /// The headers in order: (key, value).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a [u8]>)> + 'a {
        let (count, bytes, owned) = match *self {
            HeadersRef::Encoded { count, bytes } => (count as usize, bytes, &[][..]),
            HeadersRef::Owned(h) => (0, &[][..], h),
        };
        let mut c = Cursor { buf: bytes, pos: 0 };
        let encoded = (0..count).map_while(move |_| c.header());
        let owned = owned.iter().map(|h| (h.key.as_str(), h.value.as_deref()));
        encoded.chain(owned)
    }

    pub fn to_vec(&self) -> Vec<Header> {
        self.iter()
            .map(|(k, v)| Header {
                key: k.to_string(),
                value: v.map(<[u8]>::to_vec),
            })
            .collect()
    }
}

/// A record read back, borrowing its bytes (from a batch, or from a [`Record`]).
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// The partition it was read from (0 until a [`Fetch`](super::Fetch) sets it).
    pub partition: u32,
    pub offset: u64,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    /// `None` is a tombstone.
    pub value: Option<&'a [u8]>,
    pub headers: HeadersRef<'a>,
    pub origin: Option<Origin>,
}

impl RecordRef<'_> {
    pub fn to_record(&self) -> Record {
        Record {
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.map(<[u8]>::to_vec),
            timestamp: self.timestamp,
            headers: self.headers.to_vec(),
            origin: self.origin,
        }
    }
}

/// A valid batch frame, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct BatchView<'a> {
    pub base: u64,
    pub count: u32,
    producer: Option<u64>,
    base_ts: i64,
    records: &'a [u8],
}

impl<'a> BatchView<'a> {
    /// The offset after the batch's last record.
    pub fn next(&self) -> u64 {
        self.base + u64::from(self.count)
    }

    /// The batch's records in order.
    pub fn records(&self) -> impl Iterator<Item = RecordRef<'a>> + 'a {
        let view = *self;
        let mut c = Cursor {
            buf: view.records,
            pos: 0,
        };
        (0..u64::from(view.count)).map_while(move |i| c.record(&view, view.base + i))
    }
}

/// What [`decode`] found at the start of a buffer.
#[derive(Debug)]
pub enum Decoded<'a> {
    /// A valid batch and the frame's size in bytes.
    Batch(BatchView<'a>, usize),
    /// The buffer ends inside a frame (more bytes may complete it).
    Incomplete,
    /// The bytes are not a valid frame.
    Corrupt,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }
    fn bytes(&mut self) -> Option<Option<&'a [u8]>> {
        match self.zigzag()? {
            -1 => Some(None),
            n => Some(Some(self.take(usize::try_from(n).ok()?)?)),
        }
    }
    fn header(&mut self) -> Option<(&'a str, Option<&'a [u8]>)> {
        let klen = usize::try_from(self.varint()?).ok()?;
        let key = std::str::from_utf8(self.take(klen)?).ok()?;
        Some((key, self.bytes()?))
    }
    fn record(&mut self, batch: &BatchView<'a>, offset: u64) -> Option<RecordRef<'a>> {
        let timestamp = batch.base_ts.wrapping_add(self.zigzag()?);
        let key = self.bytes()?;
        let value = self.bytes()?;
        let count = u32::try_from(self.varint()?).ok()?;
        let from = self.pos;
        for _ in 0..count {
            self.header()?;
        }
        let headers = HeadersRef::Encoded {
            count,
            bytes: &self.buf[from..self.pos],
        };
        let origin = match batch.producer {
            None => None,
            Some(producer) => Some(Origin {
                producer,
                partition: u32::try_from(self.varint()?).ok()?,
                offset: self.varint()?,
            }),
        };
        Some(RecordRef {
            partition: 0,
            offset,
            timestamp,
            key,
            value,
            headers,
            origin,
        })
    }
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().unwrap_or_default())
}

fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().unwrap_or_default())
}

/// The length field of the frame at the start of `buf` (at least [`FRAME_HEADER`] bytes).
pub fn frame_len(buf: &[u8]) -> usize {
    le_u32(&buf[0..4]) as usize
}

/// The batch of a frame [`decode`] found valid before, without checking it again (its records
/// iterate up to the first that does not parse, which for such a frame is none).
pub fn view(frame: &[u8]) -> Option<BatchView<'_>> {
    let payload = frame.get(FRAME_HEADER..)?;
    if payload.len() < BATCH_HEADER {
        return None;
    }
    batch_header(payload)
}

/// Decodes the frame at the start of `buf`: checksum, header and every record.
pub fn decode(buf: &[u8]) -> Decoded<'_> {
    if buf.len() < FRAME_HEADER {
        return Decoded::Incomplete;
    }
    let len = frame_len(buf);
    if !(BATCH_HEADER..=MAX_FRAME).contains(&len) {
        return Decoded::Corrupt;
    }
    let Some(payload) = buf.get(FRAME_HEADER..FRAME_HEADER + len) else {
        return Decoded::Incomplete;
    };
    if crc32fast::hash(payload) != le_u32(&buf[4..8]) {
        return Decoded::Corrupt;
    }
    match parse_batch(payload) {
        Some(view) => Decoded::Batch(view, FRAME_HEADER + len),
        None => Decoded::Corrupt,
    }
}

fn batch_header(payload: &[u8]) -> Option<BatchView<'_>> {
    let (attrs, count) = (payload[9], le_u32(&payload[10..14]));
    if payload[8] != MAGIC || attrs & !ATTR_ORIGINS != 0 || count == 0 {
        return None;
    }
    let mut records = &payload[BATCH_HEADER..];
    let producer = if attrs & ATTR_ORIGINS != 0 {
        let p = le_u64(records.get(..8)?);
        records = &records[8..];
        Some(p)
    } else {
        None
    };
    Some(BatchView {
        base: le_u64(&payload[0..8]),
        count,
        producer,
        base_ts: le_u64(&payload[14..22]) as i64,
        records,
    })
}

fn parse_batch(payload: &[u8]) -> Option<BatchView<'_>> {
    let view = batch_header(payload)?;
    let (records, count) = (view.records, view.count);
    // Every record parses and the records fill the batch exactly.
    let mut c = Cursor {
        buf: records,
        pos: 0,
    };
    for i in 0..u64::from(count) {
        c.record(&view, view.base + i)?;
    }
    (c.pos == records.len()).then_some(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: u64, producer: Option<u64>) -> Record {
        Record {
            key: (!i.is_multiple_of(3)).then(|| format!("k{i}").into_bytes()),
            value: (i % 4 != 1).then(|| vec![i as u8; i as usize % 7]),
            timestamp: 1_000 - i as i64 * 37,
            headers: (0..i % 3)
                .map(|h| Header {
                    key: format!("h{h}"),
                    value: (h == 0).then(|| vec![1, 2]),
                })
                .collect(),
            origin: producer.map(|producer| Origin {
                producer,
                partition: if i == 5 { u32::MAX } else { i as u32 },
                offset: u64::MAX - i,
            }),
        }
    }

    fn decode_all(buf: &[u8]) -> Vec<(u64, Record)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            match decode(&buf[at..]) {
                Decoded::Batch(b, size) => {
                    out.extend(b.records().map(|r| (r.offset, r.to_record())));
                    at += size;
                }
                other => panic!("unexpected {other:?} at {at}"),
            }
        }
        out
    }

    #[test]
    fn round_trips_batches_split_by_producer() {
        let records: Vec<Record> = (0..12)
            .map(|i| sample(i, [None, Some(7), Some(7), Some(9)][i as usize / 3]))
            .collect();
        let mut buf = Vec::new();
        let batches = encode(&mut buf, 40, &records);
        // No origin, producer 7 (two runs of 3 together), producer 9.
        assert_eq!(
            batches.iter().map(|b| b.0).collect::<Vec<_>>(),
            [40, 43, 49]
        );
        let back = decode_all(&buf);
        assert_eq!(back.len(), 12);
        for (i, (o, r)) in back.into_iter().enumerate() {
            assert_eq!((o, r), (40 + i as u64, records[i].clone()));
        }
    }

    #[test]
    fn large_appends_are_cut_into_batches() {
        let big = Record {
            value: Some(vec![b'x'; MAX_BATCH_BYTES / 3]),
            ..Default::default()
        };
        let mut buf = Vec::new();
        let batches = encode(&mut buf, 0, &vec![big; 7]);
        assert_eq!(
            batches.iter().map(|b| b.0).collect::<Vec<_>>(),
            [0, 3, 6],
            "a batch closes once it holds MAX_BATCH_BYTES"
        );
        assert_eq!(decode_all(&buf).len(), 7);
    }

    #[test]
    fn detects_truncation_and_every_flipped_byte() {
        let records: Vec<Record> = (0..4).map(|i| sample(i, Some(3))).collect();
        let mut buf = Vec::new();
        encode(&mut buf, 42, &records);
        assert!(matches!(decode(&buf[..buf.len() - 1]), Decoded::Incomplete));
        for at in 0..buf.len() {
            let mut bad = buf.clone();
            bad[at] ^= 0x10;
            assert!(
                !matches!(decode(&bad), Decoded::Batch(..)),
                "a flip at byte {at} went unnoticed"
            );
        }
    }
}
