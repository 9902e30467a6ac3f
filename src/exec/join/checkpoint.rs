//! Checkpoints of the join operator: each side's table rows and buffered stream rows, the
//! rows waiting for their window to close, and the operator's clocks. Rows are kept in Arrow's
//! row format already, so they are written as they are, behind a fingerprint of the sides'
//! column types (rows of another layout are refused, never misread).

use super::{Buffered, Joiner, TableRow};
use crate::error::{Error, Result};

fn bad(what: &str) -> Error {
    Error::generic(format!("malformed join checkpoint: {what}"))
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u64(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn take_u64(data: &mut &[u8]) -> Result<u64> {
    let (head, rest) = data
        .split_first_chunk::<8>()
        .ok_or_else(|| bad("truncated"))?;
    *data = rest;
    Ok(u64::from_le_bytes(*head))
}

fn take_i64(data: &mut &[u8]) -> Result<i64> {
    take_u64(data).map(|v| v as i64)
}

fn take_bytes<'a>(data: &mut &'a [u8]) -> Result<&'a [u8]> {
    let n = take_u64(data)? as usize;
    if data.len() < n {
        return Err(bad("truncated"));
    }
    let (b, rest) = data.split_at(n);
    *data = rest;
    Ok(b)
}

impl Joiner {
    /// The layout of the rows this operator keeps: a checkpoint is only read back by an
    /// operator with the same.
    fn layout(&self) -> u64 {
        let text = format!(
            "{:?}",
            self.schema
                .fields()
                .iter()
                .map(|f| f.data_type())
                .collect::<Vec<_>>()
        );
        crate::exec::persistent::producer_id(&text)
    }

    /// The operator's whole state as bytes.
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_u64(&mut out, self.layout());
        for v in [
            self.stream_time as u64,
            self.seq,
            self.late,
            self.last_origin.0 as u64,
            self.last_origin.1 as u64,
        ] {
            put_u64(&mut out, v);
        }
        for s in &self.sides {
            put_u64(&mut out, s.time as u64);
            put_u64(&mut out, s.oldest as u64);
            put_u64(&mut out, s.table.len() as u64);
            for (k, t) in &s.table {
                put_bytes(&mut out, k);
                put_u64(&mut out, t.ts as u64);
                put_bytes(&mut out, t.row.as_ref());
            }
            put_u64(&mut out, s.buffer.len() as u64);
            for (k, rows) in &s.buffer {
                put_bytes(&mut out, k);
                put_u64(&mut out, rows.len() as u64);
                for b in rows {
                    put_u64(&mut out, b.ts as u64);
                    put_u64(&mut out, b.seq);
                    out.push(u8::from(b.waiting));
                    put_bytes(&mut out, b.row.as_ref());
                }
            }
        }
        // Foreign-key joins: the left rows by foreign key, in order (each row's foreign key
        // follows from it).
        put_u64(&mut out, self.referrers.len() as u64);
        for (f, pks) in &self.referrers {
            put_bytes(&mut out, f);
            put_u64(&mut out, pks.len() as u64);
            for pk in pks {
                put_bytes(&mut out, pk);
            }
        }
        // The steps before (N-way joins).
        let before = self
            .before
            .as_ref()
            .map(|b| b.checkpoint())
            .unwrap_or_default();
        put_bytes(&mut out, &before);
        put_u64(&mut out, self.pending.len() as u64);
        for ((ts, seq), (side, key)) in &self.pending {
            put_u64(&mut out, *ts as u64);
            put_u64(&mut out, *seq);
            out.push(*side as u8);
            put_bytes(&mut out, key);
        }
        out
    }

    /// Replaces the operator's state with a [`checkpoint`](Self::checkpoint).
    pub fn restore(&mut self, mut data: &[u8]) -> Result<()> {
        let data = &mut data;
        if take_u64(data)? != self.layout() {
            return Err(bad("its rows have another layout"));
        }
        self.stream_time = take_i64(data)?;
        self.seq = take_u64(data)?;
        self.late = take_u64(data)?;
        self.last_origin = (take_u64(data)? as i32, take_i64(data)?);
        for s in &mut self.sides {
            let parser = s.conv.parser();
            s.time = take_i64(data)?;
            s.oldest = take_i64(data)?;
            s.table.clear();
            for _ in 0..take_u64(data)? {
                let key = take_bytes(data)?.into();
                let ts = take_i64(data)?;
                let row = parser.parse(take_bytes(data)?).owned();
                s.table.insert(key, TableRow { ts, row });
            }
            s.buffer.clear();
            for _ in 0..take_u64(data)? {
                let key: Box<[u8]> = take_bytes(data)?.into();
                let n = take_u64(data)? as usize;
                let mut rows = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    let ts = take_i64(data)?;
                    let seq = take_u64(data)?;
                    let (&waiting, rest) = data.split_first().ok_or_else(|| bad("truncated"))?;
                    *data = rest;
                    let row = parser.parse(take_bytes(data)?).owned();
                    rows.push(Buffered {
                        ts,
                        seq,
                        row,
                        waiting: waiting != 0,
                    });
                }
                s.buffer.insert(key, rows);
            }
        }
        self.referrers.clear();
        self.foreign.clear();
        for _ in 0..take_u64(data)? {
            let f: Box<[u8]> = take_bytes(data)?.into();
            let n = take_u64(data)? as usize;
            let mut pks = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                let pk: Box<[u8]> = take_bytes(data)?.into();
                self.foreign.insert(pk.clone(), f.clone());
                pks.push(pk);
            }
            self.referrers.insert(f, pks);
        }
        let before = take_bytes(data)?;
        if let Some(b) = self.before.as_mut() {
            b.restore(before)?;
        } else if !before.is_empty() {
            return Err(bad("the state of a join step the query does not have"));
        }
        self.pending.clear();
        for _ in 0..take_u64(data)? {
            let ts = take_i64(data)?;
            let seq = take_u64(data)?;
            let (&side, rest) = data.split_first().ok_or_else(|| bad("truncated"))?;
            *data = rest;
            if side > 1 {
                return Err(bad("a side other than left or right"));
            }
            let key = take_bytes(data)?.into();
            self.pending.insert((ts, seq), (side as usize, key));
        }
        if !data.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(())
    }
}
