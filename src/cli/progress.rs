//! Progress of a bounded `brooklet run` while it waits for its input to be loaded and its
//! queries to catch up: a line per loading source connector and per catching-up query, with
//! records per second and an estimate of the time left, redrawn in place on the terminal.
//!
//! Shown only when standard output and standard error are both a terminal and the output is
//! tabular: piped output and `--output json` stay as they are. Nothing is drawn for waits
//! shorter than a second, and the lines are cleared when the wait is over.

use crate::engine::Engine;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Whether progress lines may be drawn.
pub fn wanted(tabular: bool) -> bool {
    tabular && std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

/// One thing being waited for: what it is, how far it is, and how far it must go.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub label: String,
    pub done: u64,
    pub total: Option<u64>,
    /// What `done` counts ("records", "% of the file").
    pub unit: &'static str,
}

/// What the engine is busy with: loading connectors, then queries behind their input.
pub fn items(engine: &Engine) -> Vec<Item> {
    let mut out: Vec<Item> = crate::engine::connectors::loads(engine)
        .into_iter()
        .map(|(name, records, progress)| Item {
            label: format!("connector {name} loading"),
            done: progress.map_or(records, |p| (p * 1000.0) as u64),
            total: progress.map(|_| 1000),
            unit: if progress.is_some() { "‰" } else { "records" },
        })
        .collect();
    for (id, done, total) in engine.backlogs() {
        if done < total {
            out.push(Item {
                label: format!("query {id} catching up"),
                done,
                total: Some(total),
                unit: "records",
            });
        }
    }
    out
}

/// A line for `item`, given its `done` earlier (`before`) and the seconds since.
pub fn line(item: &Item, before: Option<u64>, secs: f64) -> String {
    let rate = before
        .filter(|_| secs > 0.0)
        .map(|b| item.done.saturating_sub(b) as f64 / secs);
    let shown = |n: u64| match item.unit {
        "‰" => format!("{:.1}%", n as f64 / 10.0),
        _ => n.to_string(),
    };
    let mut s = format!("{}: {}", item.label, shown(item.done));
    if let (Some(t), "records") = (item.total, item.unit) {
        s.push_str(&format!(" of {t} records"));
    }
    if let Some(r) = rate.filter(|_| item.unit == "records") {
        s.push_str(&format!(", {r:.0} records/s"));
    }
    if let (Some(r), Some(t)) = (rate.filter(|r| *r > 0.0), item.total) {
        let left = t.saturating_sub(item.done) as f64 / r;
        s.push_str(&format!(", about {} left", eta(left)));
    }
    s
}

fn eta(secs: f64) -> String {
    match secs.round() as u64 {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// Runs `wait`, drawing progress lines on standard error meanwhile.
pub async fn while_waiting<F: std::future::Future<Output = ()>>(engine: &Arc<Engine>, wait: F) {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let e = engine.clone();
    let drawer = tokio::spawn(async move {
        let started = Instant::now();
        let mut drawn = 0usize;
        // Each item as first seen: rates are averages since then (a connector that moves in
        // steps would show no rate between two draws).
        let mut first: std::collections::HashMap<String, (Instant, u64)> = Default::default();
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            if started.elapsed() < Duration::from_secs(1) {
                continue;
            }
            let lines: Vec<String> = items(&e)
                .iter()
                .map(|item| {
                    let seen = *first
                        .entry(item.label.clone())
                        .or_insert((Instant::now(), item.done));
                    line(item, Some(seen.1), seen.0.elapsed().as_secs_f64())
                })
                .collect();
            drawn = redraw(drawn, &lines);
        }
        redraw(drawn, &[]);
    });
    wait.await;
    let _ = stop.send(());
    let _ = drawer.await;
}

/// Replaces the `drawn` lines drawn last with `lines`; returns how many are drawn now.
fn redraw(drawn: usize, lines: &[String]) -> usize {
    let mut err = std::io::stderr().lock();
    let mut out = String::new();
    if drawn > 0 {
        out.push_str(&format!("\x1b[{drawn}A"));
    }
    for l in lines {
        out.push_str(&format!("\r\x1b[2K{l}\n"));
    }
    // Clear what is left of a longer drawing, and come back up.
    for _ in lines.len()..drawn {
        out.push_str("\r\x1b[2K\n");
    }
    if drawn > lines.len() {
        out.push_str(&format!("\x1b[{}A", drawn - lines.len()));
    }
    let _ = err.write_all(out.as_bytes());
    let _ = err.flush();
    lines.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_rate_and_time_left() {
        let item = Item {
            label: "query CSAS_X_0 catching up".into(),
            done: 3000,
            total: Some(10_000),
            unit: "records",
        };
        assert_eq!(
            line(&item, None, 0.0),
            "query CSAS_X_0 catching up: 3000 of 10000 records"
        );
        assert_eq!(
            line(&item, Some(1000), 2.0),
            "query CSAS_X_0 catching up: 3000 of 10000 records, 1000 records/s, about 7 s left"
        );
        let load = Item {
            label: "connector SRC loading".into(),
            done: 250,
            total: Some(1000),
            unit: "‰",
        };
        assert_eq!(
            line(&load, Some(125), 1.0),
            "connector SRC loading: 25.0%, about 6 s left"
        );
        assert_eq!(eta(4000.0), "1 h 6 min");
    }
}
