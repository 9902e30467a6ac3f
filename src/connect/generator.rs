//! The Nexmark source connector's task (the event model is in `nexmark`).

use super::{group, nexmark, now_ms, Connector, ConnectorState, Kind, BATCH};
use crate::error::{Error, Result};
use crate::log::{BatchBuilder, SharedLog};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A property parsed as a number, or its default.
fn number<T: std::str::FromStr>(
    props: &BTreeMap<String, String>,
    key: &str,
    default: T,
) -> Result<T> {
    match props.get(key) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            Error::statement(format!("The property '{key}' must be a number, got '{v}'."))
        }),
    }
}

/// The Nexmark generator: properties `events` or `bids`, `seed` (42), `rate` (events per
/// simulated second, 10000), `ooo.prob` (0.1), `ooo.max.ms` (500), `throttle` (events per
/// wall-clock second; 0, the default, is as fast as possible) and `topic.person`,
/// `topic.auction`, `topic.bid` (person, auction, bid).
pub(super) fn start(
    name: &str,
    props: BTreeMap<String, String>,
    class: String,
    log: SharedLog,
) -> Result<Connector> {
    let events = match (props.get("events"), props.get("bids")) {
        (Some(_), _) => number(&props, "events", 0u64)?,
        (None, Some(_)) => nexmark::events_for_bids(number(&props, "bids", 0u64)?),
        (None, None) => {
            return Err(Error::statement(
                "The Nexmark connector needs 'events' or 'bids'.",
            ))
        }
    };
    let params = nexmark::Params {
        seed: number(&props, "seed", 42)?,
        rate: number(&props, "rate", 10_000u64)?.max(1),
        ooo_prob: number(&props, "ooo.prob", 0.1)?,
        ooo_max_ms: number(&props, "ooo.max.ms", 500)?,
        events,
    };
    let throttle: u64 = number(&props, "throttle", 0)?;
    let topics: Vec<String> = ["person", "auction", "bid"]
        .iter()
        .map(|t| {
            props
                .get(&format!("topic.{t}"))
                .cloned()
                .unwrap_or_else(|| t.to_string())
        })
        .collect();
    for t in &topics {
        if log.topic(t).is_none() {
            log.create_topic(t, 1)?;
        }
    }
    let c = Connector::new(name, Kind::Nexmark, class, props, topics[2].clone(), events);
    let (state, records, stop, group) = (
        c.state.clone(),
        c.records.clone(),
        c.stop.clone(),
        group(name),
    );
    std::thread::Builder::new()
        .name(format!("connector-{name}"))
        .spawn(move || {
            // On a service of several servers, one runs its connectors.
            if !log.wait_lease(&stop) {
                return;
            }
            let result = generate(&log, &group, &topics, params, throttle, &records, &stop);
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            *s = match result {
                Ok(()) => ConnectorState::Finished,
                Err(e) => ConnectorState::Failed(e.message),
            };
        })
        .map_err(|e| Error::generic(format!("cannot start the connector: {e}")))?;
    Ok(c)
}

/// Generates events into the three topics in batches, committing after each the events done
/// and the topics' ends; a restart regenerates from there, skipping records appended after
/// the last commit (the connector is the topics' only writer).
fn generate(
    log: &SharedLog,
    group: &str,
    topics: &[String],
    params: nexmark::Params,
    throttle: u64,
    records: &AtomicU64,
    stop: &AtomicBool,
) -> Result<()> {
    let committed = log.committed(group)?;
    let get = |k: &str| {
        committed
            .iter()
            .find(|(t, _, _)| t == k)
            .map(|(_, _, o)| *o)
    };
    let ends = |log: &SharedLog| -> Result<Vec<u64>> {
        topics.iter().map(|t| Ok(log.end_offset(t, 0)?)).collect()
    };
    let now_ends = ends(log)?;
    let (done, mut skip) = match get("events") {
        None => {
            let mut c = vec![("events".to_string(), 0, 0)];
            c.extend(
                topics
                    .iter()
                    .zip(&now_ends)
                    .map(|(t, e)| (format!("end.{t}"), 0, *e)),
            );
            log.commit(group, &c)?;
            (0, vec![0; 3])
        }
        Some(done) => {
            let skip = topics
                .iter()
                .zip(&now_ends)
                .map(|(t, e)| e.saturating_sub(get(&format!("end.{t}")).unwrap_or(*e)))
                .collect();
            (done, skip)
        }
    };
    let mut g = nexmark::Generator::new(params, done);
    records.store(done, Ordering::Relaxed);
    let started = std::time::Instant::now();
    let mut batches: Vec<BatchBuilder> = (0..3).map(|_| BatchBuilder::new()).collect();
    let mut line = String::new();
    // One clock reading per batch: the records of a batch share their timestamp.
    let mut now = now_ms();
    loop {
        line.clear();
        let stream = g.event(&mut line);
        if let Some(s) = stream {
            let i = s as usize;
            if skip[i] > 0 {
                skip[i] -= 1;
            } else {
                batches[i].push_value(now, line.as_bytes());
            }
        }
        let at = g.position();
        if stream.is_none() || at.is_multiple_of(BATCH as u64) {
            for (t, b) in topics.iter().zip(batches.iter_mut()) {
                log.append_batch(t, 0, b)?;
                b.clear();
            }
            let mut c = vec![("events".to_string(), 0, at)];
            c.extend(
                topics
                    .iter()
                    .zip(ends(log)?)
                    .map(|(t, e)| (format!("end.{t}"), 0, e)),
            );
            log.commit(group, &c)?;
            records.store(at, Ordering::Relaxed);
            now = now_ms();
            if stream.is_none() || stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            if throttle > 0 {
                // Rate limit: no faster than `throttle` events per second of wall time.
                let due = std::time::Duration::from_secs_f64((at - done) as f64 / throttle as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
    }
}
