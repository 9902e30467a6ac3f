//! `brooklet topic-dump` and `brooklet topic-load`: a topic's records as JSON lines, and back.
//! The crash trials (`bench/crash_trials.py`) compare sinks with them and feed the input a
//! crashed run ended with to an uncrashed one.
//!
//! A line: `{"p": partition, "o": offset, "ts": timestamp, "k": hex or null, "v": hex or null,
//! "h": [[key, hex or null], ...]}`. Keys and values are hex because they are bytes (a windowed
//! key ends with its window's bounds).
//!
//! `topic-load` also takes text, for input written by hand (the recipes in `queries/patterns`):
//! `"key"` and `"value"` as UTF-8 text instead of `"k"` and `"v"`, `"headers"` as an object of
//! text values instead of `"h"`, and partition 0 when `"p"` is absent.

use crate::error::{Error, Result};
use crate::log::{Header, Record, SharedLog, StoredRecord};
use std::io::{BufRead, Write};

fn hex(bytes: Option<&[u8]>) -> serde_json::Value {
    match bytes {
        None => serde_json::Value::Null,
        Some(b) => b
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
            .into(),
    }
}

fn unhex(v: &serde_json::Value) -> Result<Option<Vec<u8>>> {
    let Some(s) = v.as_str() else {
        return Ok(None);
    };
    let bad = || Error::generic(format!("not hex: {s}"));
    if s.len() % 2 != 0 {
        return Err(bad());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
        .collect::<Result<Vec<u8>>>()
        .map(Some)
}

/// Calls `f` with every record of `topic`, partition by partition, in order.
pub fn each_record(
    log: &SharedLog,
    topic: &str,
    mut f: impl FnMut(&StoredRecord) -> Result<()>,
) -> Result<()> {
    let parts = log
        .topic(topic)
        .ok_or_else(|| Error::statement(format!("Topic '{topic}' does not exist.")))?
        .partitions;
    for p in 0..parts {
        crate::log::read_to_end(&**log, topic, p, 0, 65_536, |fetch| {
            fetch.to_stored().iter().try_for_each(&mut f)
        })?;
    }
    Ok(())
}

/// Writes every record of `topic`, partition by partition, to `out`.
pub fn dump(log: &SharedLog, topic: &str, out: &mut dyn Write) -> Result<u64> {
    let mut count = 0;
    each_record(log, topic, |r| {
        let p = r.partition;
        let headers: Vec<serde_json::Value> = r
            .record
            .headers
            .iter()
            .map(|h| serde_json::json!([h.key, hex(h.value.as_deref())]))
            .collect();
        let line = serde_json::json!({
            "p": p, "o": r.offset, "ts": r.record.timestamp,
            "k": hex(r.record.key.as_deref()), "v": hex(r.record.value.as_deref()),
            "h": headers,
        });
        writeln!(out, "{line}").map_err(|e| Error::generic(e.to_string()))?;
        count += 1;
        Ok(())
    })?;
    Ok(count)
}

/// Appends the records of a dump to `topic` (created with as many partitions as the dump names
/// if it does not exist), each to its partition, in order.
pub fn load(log: &SharedLog, topic: &str, input: &mut dyn BufRead) -> Result<u64> {
    let mut parts: Vec<Vec<Record>> = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(|e| Error::generic(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |what: &str| Error::generic(format!("line {}: {what}", n + 1));
        let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| bad(&e.to_string()))?;
        let p = match &v["p"] {
            serde_json::Value::Null => 0,
            p => p.as_u64().ok_or_else(|| bad("no partition"))? as usize,
        };
        if p >= 10_000 {
            return Err(bad("partition out of range"));
        }
        let headers = v["h"]
            .as_array()
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        Ok(Header {
                            key: h[0].as_str().unwrap_or_default().to_string(),
                            value: unhex(&h[1])?,
                        })
                    })
                    .collect::<Result<Vec<Header>>>()
            })
            .transpose()?
            .or_else(|| {
                let text = v["headers"].as_object()?;
                let header = |(k, h): (&String, &serde_json::Value)| Header {
                    key: k.clone(),
                    value: h.as_str().map(|t| t.as_bytes().to_vec()),
                };
                Some(text.iter().map(header).collect())
            })
            .unwrap_or_default();
        let bytes = |hexed: &str, text: &str| match v[text].as_str() {
            Some(t) => Ok(Some(t.as_bytes().to_vec())),
            None => unhex(&v[hexed]),
        };
        if parts.len() <= p {
            parts.resize_with(p + 1, Vec::new);
        }
        parts[p].push(Record {
            key: bytes("k", "key")?,
            value: bytes("v", "value")?,
            timestamp: v["ts"].as_i64().ok_or_else(|| bad("no timestamp"))?,
            headers,
            origin: None,
        });
    }
    if log.topic(topic).is_none() {
        log.create_topic(topic, parts.len().max(1) as u32)?;
    }
    let mut count = 0;
    for (p, records) in parts.iter().enumerate() {
        for chunk in records.chunks(8192) {
            log.append(topic, p as u32, chunk)?;
            count += chunk.len() as u64;
        }
    }
    Ok(count)
}
