//! Record framing: `[len: u32 LE][crc32 of payload: u32 LE][payload]`.
//!
//! Payload: `offset u64 | timestamp i64 | flags u8 | key | value | headers | origin?` where byte
//! strings are `i32` length-prefixed (`-1` = null) and headers are a `u32` count of
//! (`u32` key length, key, value). Flag bit 0 marks an [`Origin`](super::Origin) at the end.

use super::{Header, Origin, Record};

pub const FRAME_HEADER: usize = 8;
/// Frames larger than this are treated as corruption.
pub const MAX_FRAME: usize = 64 << 20;

fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => out.extend_from_slice(&(-1i32).to_le_bytes()),
        Some(b) => {
            out.extend_from_slice(&(b.len() as i32).to_le_bytes());
            out.extend_from_slice(b);
        }
    }
}

/// Appends the frame of `record` at `offset` to `out`.
pub fn encode(out: &mut Vec<u8>, offset: u64, record: &Record) {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER]);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&record.timestamp.to_le_bytes());
    out.push(u8::from(record.origin.is_some()));
    put_bytes(out, record.key.as_deref());
    put_bytes(out, record.value.as_deref());
    out.extend_from_slice(&(record.headers.len() as u32).to_le_bytes());
    for h in &record.headers {
        out.extend_from_slice(&(h.key.len() as u32).to_le_bytes());
        out.extend_from_slice(h.key.as_bytes());
        put_bytes(out, h.value.as_deref());
    }
    if let Some(o) = record.origin {
        out.extend_from_slice(&o.producer.to_le_bytes());
        out.extend_from_slice(&o.partition.to_le_bytes());
        out.extend_from_slice(&o.offset.to_le_bytes());
    }
    let payload_len = (out.len() - start - FRAME_HEADER) as u32;
    let crc = crc32fast::hash(&out[start + FRAME_HEADER..]);
    out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// What [`decode`] found at the start of a buffer.
#[derive(Debug)]
pub enum Decoded {
    /// A valid frame: its offset, record and total size in bytes.
    Frame(u64, Record, usize),
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
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<Option<Vec<u8>>> {
        let len = i32::from_le_bytes(self.take(4)?.try_into().ok()?);
        if len == -1 {
            return Some(None);
        }
        Some(Some(self.take(usize::try_from(len).ok()?)?.to_vec()))
    }
}

/// Decodes the frame at the start of `buf`.
pub fn decode(buf: &[u8]) -> Decoded {
    if buf.len() < FRAME_HEADER {
        return Decoded::Incomplete;
    }
    let len = u32::from_le_bytes(buf[0..4].try_into().unwrap_or_default()) as usize;
    if len > MAX_FRAME {
        return Decoded::Corrupt;
    }
    let Some(payload) = buf.get(FRAME_HEADER..FRAME_HEADER + len) else {
        return Decoded::Incomplete;
    };
    let crc = u32::from_le_bytes(buf[4..8].try_into().unwrap_or_default());
    if crc32fast::hash(payload) != crc {
        return Decoded::Corrupt;
    }
    match parse_payload(payload) {
        Some((offset, record)) => Decoded::Frame(offset, record, FRAME_HEADER + len),
        None => Decoded::Corrupt,
    }
}

fn parse_payload(payload: &[u8]) -> Option<(u64, Record)> {
    let mut c = Cursor {
        buf: payload,
        pos: 0,
    };
    let offset = c.u64()?;
    let timestamp = c.u64()? as i64;
    let flags = c.take(1)?[0];
    let key = c.bytes()?;
    let value = c.bytes()?;
    let n = c.u32()? as usize;
    let mut headers = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let klen = c.u32()? as usize;
        let key = String::from_utf8(c.take(klen)?.to_vec()).ok()?;
        headers.push(Header {
            key,
            value: c.bytes()?,
        });
    }
    let origin = if flags & 1 == 1 {
        Some(Origin {
            producer: c.u64()?,
            partition: c.u32()?,
            offset: c.u64()?,
        })
    } else {
        None
    };
    (c.pos == payload.len()).then_some((
        offset,
        Record {
            key,
            value,
            timestamp,
            headers,
            origin,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            key: Some(b"k".to_vec()),
            value: None,
            timestamp: -5,
            headers: vec![Header {
                key: "h".into(),
                value: Some(vec![1, 2]),
            }],
            origin: Some(Origin {
                producer: 7,
                partition: 1,
                offset: 9,
            }),
        }
    }

    #[test]
    fn round_trips_and_detects_damage() {
        let mut buf = Vec::new();
        encode(&mut buf, 42, &sample());
        match decode(&buf) {
            Decoded::Frame(off, rec, size) => {
                assert_eq!((off, size), (42, buf.len()));
                assert_eq!(rec, sample());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(decode(&buf[..buf.len() - 1]), Decoded::Incomplete));
        let mut bad = buf.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        assert!(matches!(decode(&bad), Decoded::Corrupt));
    }
}
