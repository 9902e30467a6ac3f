//! PRINT: the raw records of a topic, formatted as ksqlDB's CLI prints them.

use crate::catalog::{WindowInfo, WindowType};
use crate::log::{SharedLog, StoredRecord};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

pub struct PrintStream {
    pub lines: mpsc::Receiver<String>,
    stop: watch::Sender<bool>,
    drain: Arc<AtomicBool>,
}

impl PrintStream {
    /// Lines fed from elsewhere (a remote server's answer): the stream, the sender of its
    /// lines, and what tells the feeder it was cancelled.
    pub fn channel(capacity: usize) -> (PrintStream, mpsc::Sender<String>, watch::Receiver<bool>) {
        let (tx, lines) = mpsc::channel(capacity.max(1));
        let (stop, stopped) = watch::channel(false);
        let p = PrintStream {
            lines,
            stop,
            drain: Arc::new(AtomicBool::new(false)),
        };
        (p, tx, stopped)
    }

    pub fn cancel(&self) {
        self.stop.send_replace(true);
    }
    pub fn drain(&self) {
        self.drain.store(true, Ordering::SeqCst);
        self.stop.send_modify(|_| {});
    }
}

impl Drop for PrintStream {
    fn drop(&mut self) {
        self.cancel();
    }
}

fn text(b: &Option<Vec<u8>>) -> String {
    match b {
        None => "<null>".to_string(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) if s.chars().all(|c| !c.is_control() || c == '\t') => s.to_string(),
            _ => b.iter().map(|x| format!("{x:02x}")).collect(),
        },
    }
}

fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}.{:03} Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// A windowed key as ksqlDB prints it: `[key@start/end]`.
fn windowed_text(key: &[u8], w: WindowInfo) -> Option<String> {
    let bound = |b: &[u8]| Some(i64::from_be_bytes(b.try_into().ok()?));
    let (inner, start, end) = if w.kind == WindowType::Session {
        let at = key.len().checked_sub(16)?;
        let end = bound(&key[at..at + 8])?;
        (&key[..at], bound(&key[at + 8..])?, end)
    } else {
        let at = key.len().checked_sub(8)?;
        let start = bound(&key[at..])?;
        (&key[..at], start, start + w.size_ms.unwrap_or(0))
    };
    Some(format!("[{}@{start}/{end}]", text(&Some(inner.to_vec()))))
}

pub fn format_record(r: &StoredRecord, window: Option<WindowInfo>) -> String {
    let key = match (&r.record.key, window) {
        (Some(k), Some(w)) => windowed_text(k, w).unwrap_or_else(|| text(&r.record.key)),
        _ => text(&r.record.key),
    };
    format!(
        "rowtime: {}, key: {}, value: {}, partition: {}",
        format_time(r.record.timestamp),
        key,
        text(&r.record.value),
        r.partition
    )
}

pub fn start(
    log: SharedLog,
    topic: String,
    from_beginning: bool,
    limit: Option<u64>,
    window: Option<WindowInfo>,
) -> crate::error::Result<PrintStream> {
    let parts = log
        .topic(&topic)
        .ok_or_else(|| crate::error::Error::statement(format!("Could not find topic '{topic}', or the KSQL user does not have permissions to list the topic. Topic names are case-sensitive.")))?
        .partitions;
    let mut positions = Vec::new();
    let mut rxs = Vec::new();
    for p in 0..parts {
        positions.push(if from_beginning {
            0
        } else {
            log.end_offset(&topic, p)?
        });
        rxs.push(log.subscribe(&topic, p)?);
    }
    let (tx, lines) = mpsc::channel(256);
    let (stop, mut stop_rx) = watch::channel(false);
    let drain = Arc::new(AtomicBool::new(false));
    let d = drain.clone();
    tokio::spawn(async move {
        let mut remaining = limit;
        loop {
            if *stop_rx.borrow_and_update() {
                return;
            }
            let mut progressed = false;
            for (p, rx) in rxs.iter_mut().enumerate() {
                rx.borrow_and_update();
                let Ok(recs) = log.read(&topic, p as u32, positions[p], 1024) else {
                    return;
                };
                if let Some(last) = recs.last() {
                    positions[p] = last.offset + 1;
                    progressed = true;
                }
                for r in &recs {
                    if remaining == Some(0) {
                        return;
                    }
                    if tx.send(format_record(r, window)).await.is_err() {
                        return;
                    }
                    remaining = remaining.map(|n| n - 1);
                }
                if remaining == Some(0) {
                    return;
                }
            }
            if progressed {
                continue;
            }
            if d.load(Ordering::SeqCst) {
                return;
            }
            let changed =
                futures::future::select_all(rxs.iter_mut().map(|rx| Box::pin(rx.changed())));
            tokio::select! {
                _ = changed => {}
                _ = stop_rx.changed() => {}
                _ = tx.closed() => return,
            }
        }
    });
    Ok(PrintStream { lines, stop, drain })
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_times_like_ksql() {
        assert_eq!(super::format_time(0), "1970/01/01 00:00:00.000 Z");
        assert_eq!(
            super::format_time(1_588_327_200_123),
            "2020/05/01 10:00:00.123 Z"
        );
    }
}
