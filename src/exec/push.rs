//! Transient push queries: stream a query's rows to one client until LIMIT, cancel, or (when
//! asked to drain) the end of the input that exists.

use super::align::Slice;
use super::persistent::StartAt;
use super::processing_log::ProcessingLog;
use super::{decode, BATCH};
use crate::catalog::Column;
use crate::log::SharedLog;
use crate::plan::QueryPlan;
use datafusion::arrow::array::{AsArray, RecordBatch};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

#[derive(Debug)]
pub enum PushEvent {
    /// Rows: the query's output columns only.
    Rows(RecordBatch),
    /// The query ended: "Limit Reached" or "Query Completed".
    End(&'static str),
    Error(String),
}

/// How long a push query waits for its client to take rows when its buffer is full, before it
/// closes with an error (`brooklet.push.client.timeout.ms`).
pub const CLIENT_TIMEOUT_MS: u64 = 30_000;

pub struct PushQuery {
    pub id: String,
    pub columns: Vec<Column>,
    rows: mpsc::Receiver<PushEvent>,
    /// Why the query ended early (a client too slow), told after the rows already buffered.
    failure: Arc<std::sync::Mutex<Option<String>>>,
    /// A pull query: it ends by itself, and its legacy header marks the key columns.
    pub pull: bool,
    stop: Arc<watch::Sender<bool>>,
    drain: Arc<AtomicBool>,
}

/// ksqlDB's header of a query's rows: `{"header": {"queryId": ..., "schema": "`A` INTEGER"}}`.
pub fn legacy_header(id: &str, columns: &[Column], keys: bool) -> serde_json::Value {
    let schema: Vec<String> = columns
        .iter()
        .map(|c| match c.kind {
            crate::catalog::ColumnKind::Key if keys => format!("`{}` {} KEY", c.name, c.ty),
            _ => format!("`{}` {}", c.name, c.ty),
        })
        .collect();
    serde_json::json!({"header": {"queryId": id, "schema": schema.join(", ")}})
}

impl PushQuery {
    /// The next event; `None` once the query has ended and everything was taken.
    pub async fn next(&mut self) -> Option<PushEvent> {
        match self.rows.recv().await {
            Some(ev) => Some(ev),
            None => self
                .failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .map(PushEvent::Error),
        }
    }

    /// Stops the query; the stream ends.
    pub fn cancel(&self) {
        self.stop.send_replace(true);
    }
    /// What stops the query from elsewhere (`send_replace(true)`), e.g. `/close-query`.
    pub fn canceller(&self) -> Arc<watch::Sender<bool>> {
        self.stop.clone()
    }
    /// Ends the query once it has read everything its input holds now (batch files).
    pub fn drain(&self) {
        self.drain.store(true, Ordering::SeqCst);
        self.stop.send_modify(|_| {});
    }
}

impl Drop for PushQuery {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// A query whose rows are all known (a pull query): its batches, then its end.
pub fn finished(
    id: String,
    columns: Vec<Column>,
    batches: Vec<RecordBatch>,
    pull: bool,
) -> PushQuery {
    let (q, tx, _) = channel(id, columns, pull, batches.len() + 1);
    for b in batches.into_iter().filter(|b| b.num_rows() > 0) {
        let _ = tx.try_send(PushEvent::Rows(b));
    }
    let _ = tx.try_send(PushEvent::End("Query Completed"));
    q
}

/// A query fed from elsewhere (a remote server's answer): the query, the sender of its
/// events, and what tells the feeder it was cancelled.
pub fn channel(
    id: String,
    columns: Vec<Column>,
    pull: bool,
    capacity: usize,
) -> (PushQuery, mpsc::Sender<PushEvent>, watch::Receiver<bool>) {
    let (tx, rows) = mpsc::channel(capacity.max(1));
    let (stop, stopped) = watch::channel(false);
    let q = PushQuery {
        id,
        columns,
        rows,
        failure: Default::default(),
        pull,
        stop: Arc::new(stop),
        drain: Arc::new(AtomicBool::new(false)),
    };
    (q, tx, stopped)
}

/// How a push query hands rows to its client.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// How long it waits for a client that takes no rows.
    pub client_timeout: std::time::Duration,
    /// A table's deletions are rows too (flagged after the row's columns).
    pub tombstones: bool,
}

/// Starts a push query. `delivery.client_timeout` bounds how long it waits for a client that does not
/// take its rows (its buffer holds 16 batches): then it ends with an error, so a stalled client
/// holds neither the query nor memory.
pub fn start(
    id: String,
    plan: QueryPlan,
    limit: Option<u64>,
    start: StartAt,
    log: SharedLog,
    plog: ProcessingLog,
    delivery: Delivery,
) -> crate::error::Result<PushQuery> {
    let Delivery {
        client_timeout,
        tombstones,
    } = delivery;
    let mut processor = super::Processor::new(&plan)?;
    let inputs = plan.inputs();
    let width = plan.output().len();
    let table = tombstones && emits_table(&plan);
    let parts = super::persistent::input_partitions(&inputs, &log)?;
    let mut positions = Vec::with_capacity(parts.len());
    let mut rxs = Vec::with_capacity(parts.len());
    for (_, topic, p) in &parts {
        positions.push(match start {
            StartAt::Earliest => 0,
            StartAt::Latest => log.end_offset(topic, *p)?,
        });
        rxs.push(log.subscribe(topic, *p)?);
    }
    let (tx, rows) = mpsc::channel(16);
    let (stop, mut stop_rx) = watch::channel(false);
    let drain = Arc::new(AtomicBool::new(false));
    let columns = plan.output().iter().map(|c| c.column.clone()).collect();
    let failure: Arc<std::sync::Mutex<Option<String>>> = Default::default();
    let client = Client {
        tx,
        failure: failure.clone(),
        timeout: client_timeout,
    };
    let q = PushQuery {
        id: id.clone(),
        columns,
        rows,
        failure,
        pull: false,
        stop: Arc::new(stop),
        drain: drain.clone(),
    };
    tokio::spawn(async move {
        let mut remaining = limit;
        if remaining == Some(0) {
            let _ = client.send(PushEvent::End("Limit Reached")).await;
            return;
        }
        let mut aligner = super::align::Aligner::new(parts.len());
        loop {
            if *stop_rx.borrow_and_update() {
                return;
            }
            for rx in rxs.iter_mut() {
                rx.borrow_and_update();
            }
            // Rows of all input partitions in event-time order (a join's two sources).
            let round = aligner.round(&mut positions, |g, pos| {
                let (input, topic, part) = &parts[g];
                let fetch = log.fetch(topic, *part, pos, BATCH)?;
                let next = fetch.next_offset();
                if next == pos {
                    return Ok(None);
                }
                let recs: Vec<_> = fetch.records().collect();
                let (source, needed) = &inputs[*input];
                let batch = decode::decode(source, &recs, &plog, &id, needed);
                Ok(Some((next, batch)))
            });
            let slices = match round {
                Ok(s) => s,
                Err(e) => {
                    let _ = client.send(PushEvent::Error(e.to_string())).await;
                    return;
                }
            };
            let progressed = slices.is_some();
            let batches: Vec<(usize, Slice)> = slices
                .unwrap_or_default()
                .into_iter()
                .map(|s| (parts[s.g].0, s))
                .collect();
            if !batches.is_empty() {
                match processor.process_many(&batches, &plog, &id) {
                    Ok(Some(out)) => {
                        if let Flow::Stop = send(out, width, table, &mut remaining, &client).await {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let _ = client.send(PushEvent::Error(e.to_string())).await;
                        return;
                    }
                }
            }
            if progressed {
                tokio::task::yield_now().await;
                continue;
            }
            if drain.load(Ordering::SeqCst) {
                // The input ends here: open windows close.
                match processor.flush(&plog, &id) {
                    Ok(Some(out)) => {
                        if let Flow::Stop = send(out, width, table, &mut remaining, &client).await {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let _ = client.send(PushEvent::Error(e.to_string())).await;
                        return;
                    }
                }
                let _ = client.send(PushEvent::End("Query Completed")).await;
                return;
            }
            let changed =
                futures::future::select_all(rxs.iter_mut().map(|rx| Box::pin(rx.changed())));
            tokio::select! {
                _ = changed => {}
                _ = stop_rx.changed() => {}
                _ = client.tx.closed() => return,
            }
        }
    });
    Ok(q)
}

/// The query's end of its client's buffer.
struct Client {
    tx: mpsc::Sender<PushEvent>,
    failure: Arc<std::sync::Mutex<Option<String>>>,
    timeout: std::time::Duration,
}

impl Client {
    /// Hands an event to the client; false when the client is gone, or did not make room for
    /// it in time (the query then ends, and the client is told why after the rows it has).
    async fn send(&self, event: PushEvent) -> bool {
        match tokio::time::timeout(self.timeout, self.tx.send(event)).await {
            Ok(sent) => sent.is_ok(),
            Err(_) => {
                *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!(
                    "Push query closed: its client took no rows for {} ms while its buffer was full",
                    self.timeout.as_millis()
                ));
                false
            }
        }
    }
}

enum Flow {
    Continue,
    Stop,
}

/// Whether a query's rows are a table's changes (its deletions are rows too).
fn emits_table(plan: &QueryPlan) -> bool {
    match plan {
        QueryPlan::Aggregate(_) => true,
        QueryPlan::Stream(p) => p.source.kind == crate::sql::ast::SourceKind::Table,
        QueryPlan::Join(j) => matches!(
            j.join.shape,
            crate::plan::join::JoinShape::TableTable | crate::plan::join::JoinShape::ForeignKey
        ),
    }
}

/// Sends a processed batch's rows (up to the LIMIT left) to the client. Over a stream,
/// records with a null value carry no row; over a table, a deletion is a row of its key,
/// followed (past `width`) by a true tombstone flag, as ksqlDB's push queries mark it.
async fn send(
    out: RecordBatch,
    width: usize,
    table: bool,
    remaining: &mut Option<u64>,
    client: &Client,
) -> Flow {
    let flag = out.num_columns() - 1;
    let tombstone = out.column(flag).as_boolean().clone();
    let mut out = if table {
        let mut columns: Vec<usize> = (0..width).collect();
        if tombstone.true_count() > 0 {
            columns.push(flag);
        }
        out.project(&columns).unwrap_or(out)
    } else {
        let kept = datafusion::arrow::compute::not(&tombstone).ok();
        let out = kept
            .and_then(|k| datafusion::arrow::compute::filter_record_batch(&out, &k).ok())
            .unwrap_or(out);
        out.project(&(0..width).collect::<Vec<_>>()).unwrap_or(out)
    };
    if let Some(r) = *remaining {
        let take = (r as usize).min(out.num_rows());
        out = out.slice(0, take);
        *remaining = Some(r - take as u64);
    }
    if out.num_rows() > 0 && !client.send(PushEvent::Rows(out)).await {
        return Flow::Stop;
    }
    if *remaining == Some(0) {
        let _ = client.send(PushEvent::End("Limit Reached")).await;
        return Flow::Stop;
    }
    Flow::Continue
}
