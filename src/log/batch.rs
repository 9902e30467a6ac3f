//! A batch being built: records encoded into log frames (format 2, see [`frame`](super::frame))
//! as they are added, so an append of N records is one checksum pass and one write of bytes
//! that were written once. The log seals the frames (base offsets, counts, checksums) when it
//! appends them, because only it knows the offsets.
//!
//! A builder is reused from append to append ([`clear`](BatchBuilder::clear) keeps its
//! buffers), so a writer that fills it allocates nothing per record. A frame holds the records
//! of one producer (their origins' query) and closes at about [`MAX_BATCH_BYTES`]; the next
//! record opens a new one.

use super::frame::{put_bytes, put_varint, put_zigzag, HEADER_BYTES, MAX_BATCH_BYTES};
use super::{Header, HeadersRef, Origin, Record};

/// Records encoded as log frames, waiting for their offsets.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    buf: Vec<u8>,
    frames: Vec<OpenFrame>,
    records: usize,
}

/// A frame of the builder: where it starts in `buf` and what its header will say.
#[derive(Debug, Clone, Copy)]
struct OpenFrame {
    start: usize,
    count: u32,
    base_ts: i64,
    max_ts: i64,
    producer: Option<u64>,
}

impl BatchBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder with room for `bytes` of encoded records.
    pub fn with_capacity(bytes: usize) -> Self {
        BatchBuilder {
            buf: Vec::with_capacity(bytes),
            ..Self::default()
        }
    }

    /// Empties the builder, keeping its buffers.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.frames.clear();
        self.records = 0;
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        self.buf.len()
    }

    /// Adds a record with a value only (no key, headers or origin): a line of a file.
    pub fn push_value(&mut self, timestamp: i64, value: &[u8]) {
        self.push(timestamp, None, Some(value), HeadersRef::Owned(&[]), None);
    }

    /// Adds an owned record.
    pub fn push_record(&mut self, r: &Record) {
        let headers = HeadersRef::Owned(&r.headers);
        self.push(
            r.timestamp,
            r.key.as_deref(),
            r.value.as_deref(),
            headers,
            r.origin,
        );
    }

    /// Adds a record (`value` `None` is a tombstone). Headers read from a batch are copied as
    /// they were encoded.
    pub fn push(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: HeadersRef<'_>,
        origin: Option<Origin>,
    ) {
        let f = self.frame_for(timestamp, origin.map(|o| o.producer));
        let base_ts = f.base_ts;
        f.count += 1;
        f.max_ts = f.max_ts.max(timestamp);
        self.records += 1;
        let out = &mut self.buf;
        put_zigzag(out, timestamp.wrapping_sub(base_ts));
        put_bytes(out, key);
        put_bytes(out, value);
        match headers {
            HeadersRef::Encoded { count, bytes } => {
                put_varint(out, u64::from(count));
                out.extend_from_slice(bytes);
            }
            HeadersRef::Owned(hs) => put_headers(out, hs),
        }
        if let Some(o) = origin {
            put_varint(out, u64::from(o.partition));
            put_varint(out, o.offset);
        }
    }

    /// The frame the next record goes into: the last one, unless it holds another producer's
    /// records or is full.
    fn frame_for(&mut self, timestamp: i64, producer: Option<u64>) -> &mut OpenFrame {
        let reuse = self
            .frames
            .last()
            .is_some_and(|f| f.producer == producer && self.buf.len() - f.start < MAX_BATCH_BYTES);
        if !reuse {
            let start = self.buf.len();
            self.buf.resize(start + HEADER_BYTES, 0);
            if let Some(p) = producer {
                self.buf.extend_from_slice(&p.to_le_bytes());
            }
            self.frames.push(OpenFrame {
                start,
                count: 0,
                base_ts: timestamp,
                max_ts: timestamp,
                producer,
            });
        }
        self.frames.last_mut().expect("a frame was just opened")
    }

    /// Writes the frames' headers and checksums, the first record at offset `first`; returns
    /// the (base offset, byte position) of every frame. Sealing again (after a failed append)
    /// rewrites them.
    pub(super) fn seal(&mut self, first: u64) -> Vec<(u64, usize)> {
        let mut base = first;
        let mut placed = Vec::with_capacity(self.frames.len());
        for (i, f) in self.frames.iter().enumerate() {
            let end = self.frames.get(i + 1).map_or(self.buf.len(), |n| n.start);
            super::frame::seal(
                &mut self.buf[f.start..end],
                base,
                f.count,
                (f.base_ts, f.max_ts),
                f.producer.is_some(),
            );
            placed.push((base, f.start));
            base += u64::from(f.count);
        }
        placed
    }

    /// The encoded frames (sealed once [`seal`](Self::seal) ran).
    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf
    }
}

fn put_headers(out: &mut Vec<u8>, headers: &[Header]) {
    put_varint(out, headers.len() as u64);
    for h in headers {
        put_varint(out, h.key.len() as u64);
        out.extend_from_slice(h.key.as_bytes());
        put_bytes(out, h.value.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::frame::{decode, Decoded};

    fn read_all(buf: &[u8]) -> Vec<(u64, Record)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            let Decoded::Batch(b, size) = decode(&buf[at..]) else {
                panic!("no valid frame at {at}");
            };
            out.extend(b.records().map(|r| (r.offset, r.to_record())));
            at += size;
        }
        out
    }

    #[test]
    fn a_reused_builder_seals_what_it_holds_now() {
        let mut b = BatchBuilder::new();
        b.push_value(5, b"old");
        b.seal(0);
        b.clear();
        assert!(b.is_empty());
        b.push_value(7, b"line");
        let headers = [Header {
            key: "h".into(),
            value: None,
        }];
        b.push(
            3,
            Some(b"k"),
            None,
            HeadersRef::Owned(&headers),
            Some(Origin {
                producer: 9,
                partition: 1,
                offset: 2,
            }),
        );
        assert_eq!(b.len(), 2);
        let placed = b.seal(100);
        assert_eq!(
            placed,
            [(100, 0), (101, placed[1].1)],
            "a producer opens a frame"
        );
        // Sealing again (a retried append) gives the same bytes.
        let first = b.bytes().to_vec();
        b.seal(100);
        assert_eq!(b.bytes(), first);
        let back = read_all(b.bytes());
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].0, 100);
        assert_eq!(back[0].1.value.as_deref(), Some(&b"line"[..]));
        assert_eq!(back[1].0, 101);
        assert_eq!(back[1].1.timestamp, 3);
        assert_eq!(back[1].1.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(back[1].1.value, None);
        assert_eq!(back[1].1.headers, headers);
        assert_eq!(back[1].1.origin.map(|o| o.offset), Some(2));
    }

    #[test]
    fn headers_read_from_a_batch_are_copied_as_encoded() {
        let mut src = BatchBuilder::new();
        let headers: Vec<Header> = (0..3)
            .map(|i| Header {
                key: format!("h{i}"),
                value: (i != 1).then(|| vec![i; 2]),
            })
            .collect();
        let r = Record {
            key: None,
            value: Some(b"v".to_vec()),
            timestamp: -4,
            headers: headers.clone(),
            origin: None,
        };
        src.push_record(&r);
        src.seal(0);
        let Decoded::Batch(batch, _) = decode(src.bytes()) else {
            panic!("not a frame");
        };
        let read = batch.records().next().expect("one record");
        let mut copy = BatchBuilder::new();
        copy.push(read.timestamp, read.key, read.value, read.headers, None);
        copy.seal(0);
        assert_eq!(read_all(copy.bytes())[0].1, r);
    }
}
