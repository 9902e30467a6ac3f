//! Persistent queries (CSAS, INSERT INTO ... SELECT): a task per query that reads its source
//! from committed offsets, writes its sink, then commits. Output records carry their origin
//! (query, input partition, input offset); after a crash the query skips the outputs it had
//! already written past its last commit, so the sink holds every result exactly once.

use super::processing_log::ProcessingLog;
use super::recovery;

mod ahead;
mod durable;
mod fetch;
pub mod profile;
pub(crate) mod split;
use super::{decode, encode, Processor, BATCH};
use crate::catalog::Source;
use crate::error::{Error, Result};
use crate::log::{BatchBuilder, LogResult, Origin, SharedLog};
use crate::plan::QueryPlan;
use crate::state::StateStore;
use datafusion::arrow::array::RecordBatch;
pub(in crate::exec) use fetch::Fetcher;
use hashbrown::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryState {
    Running,
    Error(String),
    Terminated,
}

/// Where a query without committed offsets starts (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    Earliest,
    Latest,
}

/// What the engine keeps of a running persistent query.
pub struct QueryHandle {
    pub id: String,
    pub statement: String,
    pub sink: String,
    pub sink_topic: String,
    /// The sources the query reads.
    pub sources: Vec<String>,
    /// Its input partitions, in the order of its positions: (topic, partition), `None` for
    /// those another task reads.
    inputs: Vec<Option<(String, u32)>>,
    /// A query shared out among the servers of a service: its tasks here (see [`split`]).
    split: Option<Arc<split::Split>>,
    /// The stage writing the repartition topic this query reads (see `engine::repartition`).
    feeder: Option<Box<QueryHandle>>,
    pub state: Arc<Mutex<QueryState>>,
    busy: Arc<AtomicBool>,
    positions: Arc<Mutex<Vec<u64>>>,
    flush: Arc<AtomicU8>,
    late: Arc<AtomicU64>,
    state_rows: Arc<AtomicU64>,
    /// What it has done, for EXPLAIN.
    meter: Arc<profile::Meter>,
    stop: watch::Sender<bool>,
}

/// States of a flush request (the end of a bounded input).
const FLUSH_IDLE: u8 = 0;
const FLUSH_ASKED: u8 = 1;
const FLUSH_WROTE: u8 = 2;
const FLUSH_EMPTY: u8 = 3;

impl QueryHandle {
    pub fn state(&self) -> QueryState {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(QueryState::Error(e)) = self.feeder.as_ref().map(|f| f.state()) {
            if state == QueryState::Running {
                return QueryState::Error(e);
            }
        }
        match &self.split {
            Some(split) if state == QueryState::Running => split.state(),
            _ => state,
        }
    }

    /// True when the query has processed everything its input holds right now.
    pub fn caught_up(&self, log: &SharedLog) -> bool {
        if self.state() != QueryState::Running {
            return true;
        }
        // The feeder first: what it has written is then there to be read.
        if self.feeder.as_ref().is_some_and(|f| !f.caught_up(log)) {
            return false;
        }
        if let Some(split) = &self.split {
            return split.caught_up(log);
        }
        if self.busy.load(Ordering::SeqCst) {
            return false;
        }
        let positions = self
            .positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let owned = positions.iter().zip(&self.inputs);
        owned
            .filter_map(|(pos, i)| Some((pos, i.as_ref()?)))
            .all(|(pos, (topic, p))| {
                let end = log.end_offset(topic, *p);
                tracing::debug!(topic, p, pos, ?end, "caught up?");
                end.map_or(true, |end| *pos >= end)
            })
    }

    /// How far the query has read its input partitions and where they end now (records),
    /// for a query run whole on this server (none for one shared among servers).
    pub fn backlog(&self, log: &SharedLog) -> Option<(u64, u64)> {
        if self.split.is_some() {
            return None;
        }
        let positions = self
            .positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let (mut done, mut total) = (0, 0);
        for (pos, input) in positions.iter().zip(&self.inputs) {
            if let Some((topic, p)) = input {
                done += pos;
                total += log.end_offset(topic, *p).unwrap_or(*pos).max(*pos);
            }
        }
        Some((done, total))
    }

    /// Asks the query to close its open windows, as at the end of a bounded input.
    pub fn request_flush(&self) {
        self.flush.store(FLUSH_ASKED, Ordering::SeqCst);
        self.stop.send_modify(|_| {});
        if let Some(split) = &self.split {
            split.each(QueryHandle::request_flush);
        }
    }

    /// After [`request_flush`](Self::request_flush): `None` while pending, then whether the
    /// flush wrote any output.
    pub fn flushed(&self) -> Option<bool> {
        if self.state() != QueryState::Running {
            return Some(false);
        }
        if let Some(split) = &self.split {
            return split.flushed();
        }
        match self.flush.load(Ordering::SeqCst) {
            FLUSH_WROTE => Some(true),
            FLUSH_EMPTY | FLUSH_IDLE => Some(false),
            _ => None,
        }
    }

    /// Records a windowed aggregation dropped because their windows had closed.
    pub fn late_records(&self) -> u64 {
        match &self.split {
            Some(split) => split.sum(QueryHandle::late_records),
            None => self.late.load(Ordering::Relaxed),
        }
    }

    /// Rows of state the query held when last measured: when it was last idle, or at most a
    /// second before (see `Processor::counters`).
    pub fn state_rows(&self) -> u64 {
        match &self.split {
            Some(split) => split.sum(QueryHandle::state_rows),
            None => self.state_rows.load(Ordering::Relaxed),
        }
    }

    /// What the query has done since it started here, and its rates now (see [`profile`]).
    pub fn profile(&self) -> (profile::Profile, profile::Rates) {
        match &self.split {
            Some(split) => split.profile(),
            None => self.meter.snapshot(),
        }
    }

    /// Stops the task, leaving the query in the catalog (shutdown).
    pub fn stop(&self) {
        self.stop.send_replace(true);
        if let Some(split) = &self.split {
            split.stop();
        }
        if let Some(f) = &self.feeder {
            f.stop();
        }
    }

    /// Makes `feeder` the stage writing the repartition topic this query reads: it runs,
    /// stops and fails with this query.
    pub fn fed_by(&mut self, feeder: QueryHandle) {
        self.feeder = Some(Box::new(feeder));
    }

    /// The input partitions this server reads for the query: all of them, or those of its
    /// tasks here (see [`split`]).
    pub fn local_partitions(&self) -> Vec<(String, u32)> {
        let mut parts = match &self.feeder {
            Some(f) => f.local_partitions(),
            None => Vec::new(),
        };
        match &self.split {
            Some(split) => parts.extend(split.local_partitions()),
            None => parts.extend(self.inputs.iter().flatten().cloned()),
        }
        parts
    }

    /// After [`stop`](Self::stop), on a thread the query's tasks do not need: waits until
    /// this server has handed the query's partitions back to the others of its service.
    pub fn wait_stopped(&self) {
        if let Some(split) = &self.split {
            split.wait_left();
        }
        if let Some(f) = &self.feeder {
            f.wait_stopped();
        }
    }

    /// What the query's commits and checkpoints are kept under: its id, or its tasks' keys.
    pub fn keys(&self, log: &SharedLog) -> Vec<String> {
        match &self.split {
            Some(split) => split.keys(log),
            None => vec![self.id.clone()],
        }
    }

    /// The keys of its feeder's tasks (see [`fed_by`](Self::fed_by)), if it has one.
    pub fn feeder_keys(&self, log: &SharedLog) -> Vec<String> {
        self.feeder.as_ref().map_or(Vec::new(), |f| f.keys(log))
    }

    pub fn terminate(&self) {
        self.stop();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if *s == QueryState::Running {
            *s = QueryState::Terminated;
        }
    }
}

pub fn producer_id(query_id: &str) -> u64 {
    // FNV-1a: stable across runs and builds.
    query_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

pub fn consumer_group(query_id: &str) -> String {
    format!("_brooklet_query_{query_id}")
}

/// Prefix of the committed entries that record the sink's end offsets.
const SINK_MARK: &str = ">";

/// The sink ends (partition, next offset) the query or task keyed `key` ([`QuerySpec::key`])
/// committed with its last batches: positions between its batches.
pub fn committed_sink_ends(
    log: &dyn crate::log::Log,
    key: &str,
    topic: &str,
) -> Result<Vec<(u32, u64)>> {
    let mark = format!("{SINK_MARK}{topic}");
    Ok(log
        .committed(&consumer_group(key))?
        .into_iter()
        .filter(|(t, _, _)| *t == mark)
        .map(|(_, p, o)| (p, o))
        .collect())
}

#[derive(Clone)]
pub struct QuerySpec {
    pub id: String,
    /// Set for one task of a query shared out among the servers of a service (see [`split`]):
    /// it reads only this partition of its input. Its commits, checkpoints and output origins
    /// are then its own ([`QuerySpec::key`], [`split::task_producer`]).
    pub task: Option<u32>,
    /// The consumer group (ksqlDB's name, [`split::group_name`]) through which the servers of
    /// a service share the query's input partitions, where the log has groups of processes
    /// (see [`split`]).
    pub shared: Option<String>,
    /// Its first input is a repartition topic, where each group's rows are in one partition,
    /// so its tasks can run apart however it groups (see `engine::repartition`).
    pub partitioned: bool,
    /// The producer id its outputs' origins carry (see `Engine::producer_id`).
    pub producer: u64,
    pub statement: String,
    pub plan: QueryPlan,
    pub sink: Arc<Source>,
    pub start: StartAt,
    /// Where stateful queries checkpoint their state, and how often.
    pub state: Arc<dyn StateStore>,
    pub checkpoint_every: std::time::Duration,
    /// A record without a valid event time fails the query (`ksql.timestamp.throw.on.invalid`)
    /// instead of going to the processing log.
    pub fail_on_bad_timestamp: bool,
}

impl QuerySpec {
    /// What the query's (or its task's) commits and checkpoints are kept under.
    pub fn key(&self) -> String {
        match self.task {
            Some(k) => format!("{}_task_{k}", self.id),
            None => self.id.clone(),
        }
    }

    /// Whether input partition `p` of the query's inputs is read by this query (or task).
    fn owns(&self, p: u32) -> bool {
        self.task.is_none_or(|k| k == p)
    }
}

/// A query's input partitions, numbered across its sources (a join reads two): for each, the
/// input it belongs to, its topic and partition. Outputs record this number as their origin.
pub(crate) fn input_partitions(
    inputs: &[(Arc<Source>, Vec<bool>)],
    log: &SharedLog,
) -> Result<Vec<(usize, String, u32)>> {
    let mut parts = Vec::new();
    for (i, (source, _)) in inputs.iter().enumerate() {
        let topic = &source.topic;
        let n = log
            .topic(topic)
            .ok_or_else(|| Error::generic(format!("Topic '{topic}' does not exist")))?
            .partitions;
        parts.extend((0..n).map(|p| (i, topic.clone(), p)));
    }
    Ok(parts)
}

/// For each input, the number of its first partition among [`input_partitions`].
pub(crate) fn partition_bases(parts: &[(usize, String, u32)]) -> Vec<i32> {
    let mut bases = Vec::new();
    for (g, (input, _, _)) in parts.iter().enumerate() {
        if bases.len() == *input {
            bases.push(g as i32);
        }
    }
    bases
}

/// Sets a persistent query up (started by [`Pending::launch`]): on a log with groups of
/// processes and `spec.shared`, as a member of the query's group (see [`split`]).
pub fn start(
    spec: QuerySpec,
    log: SharedLog,
    plog: ProcessingLog,
) -> Result<(QueryHandle, Pending)> {
    if spec.shared.is_some() && spec.task.is_none() {
        return split::start(spec, log, plog);
    }
    let (handle, pending) = start_task(spec, log, plog)?;
    Ok((handle, Pending::Task(Box::new(pending))))
}

fn start_task(
    spec: QuerySpec,
    log: SharedLog,
    plog: ProcessingLog,
) -> Result<(QueryHandle, TaskPending)> {
    let inputs = spec.plan.inputs();
    let parts = input_partitions(&inputs, &log)?;
    let sink_parts = log
        .topic(&spec.sink.topic)
        .ok_or_else(|| Error::generic(format!("Topic '{}' does not exist", spec.sink.topic)))?
        .partitions;
    let group = consumer_group(&spec.key());
    // The only writer of the query's outputs from here on (a backend with transactions fences
    // an earlier owner), before reading what the previous one committed.
    log.begin_outputs(spec.producer)?;
    let committed = log.committed(&group)?;
    let mut positions = vec![0u64; parts.len()];
    let mut sink_ends: Vec<Option<u64>> = vec![None; sink_parts as usize];
    let fresh = committed.is_empty();
    for (t, p, o) in &committed {
        if let Some(g) = parts.iter().position(|(_, pt, pp)| pt == t && pp == p) {
            // Offsets never run ahead of the data (after a power loss without `--fsync always`
            // they could): a position past the end would skip the records appended next.
            positions[g] = (*o).min(log.end_offset(t, *p)?);
        } else if t.strip_prefix(SINK_MARK) == Some(spec.sink.topic.as_str())
            && (*p as usize) < sink_ends.len()
        {
            sink_ends[*p as usize] = Some(*o);
        }
    }
    if fresh {
        let owned = positions.iter_mut().zip(&parts);
        for (pos, (_, topic, p)) in owned.filter(|(_, (_, _, p))| spec.owns(*p)) {
            *pos = match spec.start {
                StartAt::Earliest => 0,
                StartAt::Latest => log.end_offset(topic, *p)?,
            };
        }
    }
    let producer = spec.producer;
    // Outputs written after the last commit: (sink partition, input partition) -> the last
    // input offset, how many outputs it had written (one input record can cause several, and
    // a crash can tear them apart) and the sink offset after the last of them.
    let mut written: Written = HashMap::new();
    for (sp, end) in sink_ends.iter_mut().enumerate() {
        let mut at = end.unwrap_or(0);
        loop {
            let recs = log.read(&spec.sink.topic, sp as u32, at, BATCH)?;
            let Some(last) = recs.last() else { break };
            at = last.offset + 1;
            for r in &recs {
                let Some(o) = r.record.origin.filter(|o| o.producer == producer) else {
                    continue;
                };
                let e = written
                    .entry((sp as u32, o.partition))
                    .or_insert((o.offset, 0, 0));
                if o.offset > e.0 {
                    *e = (o.offset, 0, 0);
                }
                if o.offset == e.0 {
                    (e.1, e.2) = (e.1 + 1, r.offset + 1);
                }
            }
        }
        // A new query's sink starts at its end now. A resumed query keeps its committed end
        // until it commits again: moving it past the outputs just scanned, with the input
        // positions left where they were, would have a crash before that commit replay those
        // inputs and find no outputs to skip (each written twice).
        end.get_or_insert(at);
    }
    let flush = recovery::committed_flush(&committed, parts.len());
    let mut commit: Vec<(String, u32, u64)> = positions
        .iter()
        .zip(&parts)
        .filter(|(_, (_, _, p))| spec.owns(*p))
        .map(|(o, (_, topic, p))| (topic.clone(), *p, *o))
        .collect();
    commit.extend(sink_ends.iter().enumerate().map(|(p, o)| {
        (
            format!("{SINK_MARK}{}", spec.sink.topic),
            p as u32,
            o.unwrap_or(0),
        )
    }));
    log.commit(&group, &commit)?;
    recovery::crash_point("after-start-commit");

    let (stop, stop_rx) = watch::channel(false);
    let handle = QueryHandle {
        id: spec.id.clone(),
        statement: spec.statement.clone(),
        sink: spec.sink.name.clone(),
        sink_topic: spec.sink.topic.clone(),
        sources: inputs.iter().map(|(s, _)| s.name.clone()).collect(),
        inputs: parts
            .iter()
            .map(|(_, t, p)| spec.owns(*p).then(|| (t.clone(), *p)))
            .collect(),
        split: None,
        feeder: None,
        state: Arc::new(Mutex::new(QueryState::Running)),
        busy: Arc::new(AtomicBool::new(false)),
        positions: Arc::new(Mutex::new(positions.clone())),
        flush: Arc::new(AtomicU8::new(FLUSH_IDLE)),
        late: Arc::new(AtomicU64::new(0)),
        state_rows: Arc::new(AtomicU64::new(0)),
        meter: Arc::new(profile::Meter::new(inputs.len())),
        stop,
    };
    let mut processor = Processor::new(&spec.plan)?;
    processor.set_partition_bases(&partition_bases(&parts));
    let fetcher = Fetcher {
        log: log.clone(),
        inputs: Arc::new(inputs),
        parts: Arc::new(parts),
        plog: plog.clone(),
        query_id: spec.id.clone(),
        fail_on_bad_timestamp: spec.fail_on_bad_timestamp,
    };
    let runner = Runner {
        aligner: (fetcher.inputs.len() > 1).then(|| Aligner::new(fetcher.parts.len())),
        fetcher,
        ahead: (0..positions.len()).map(|_| None).collect(),
        resumed_at: positions.clone(),
        processor,
        spec,
        log,
        plog,
        group,
        producer,
        written,
        skipped_end: vec![None; sink_parts as usize],
        sink_parts,
        sink_batches: Vec::new(),
        busy: handle.busy.clone(),
        flush: handle.flush.clone(),
        late: handle.late.clone(),
        state_rows: handle.state_rows.clone(),
        meter: handle.meter.clone(),
        measured: std::time::Instant::now(),
        last_checkpoint: std::time::Instant::now(),
        flushes: 0,
        shared_positions: handle.positions.clone(),
        state: handle.state.clone(),
        stopping: stop_rx.clone(),
    };
    Ok((
        handle,
        TaskPending {
            runner,
            positions,
            flush,
            stop: stop_rx,
        },
    ))
}

/// A query set up but not running yet: a restart's replay of the statements starts queries
/// only once it is over, so that a query terminated later in the history never runs.
pub enum Pending {
    Task(Box<TaskPending>),
    /// Joins the query's group; its tasks start as partitions are given to this server.
    Split(split::Starter),
}

impl Pending {
    /// A new query (not one a replay of the statements sets up again): pins where it starts
    /// (see [`split::Starter::pin_start`]) before it runs.
    pub fn launch_new(self) -> Result<()> {
        if let Pending::Split(s) = &self {
            s.pin_start()?;
        }
        self.launch()
    }

    /// Runs the query (see [`TaskPending::launch`], [`split::Starter::launch`]).
    pub fn launch(self) -> Result<()> {
        match self {
            Pending::Task(t) => t.launch().map(drop),
            Pending::Split(s) => s.launch(),
        }
    }
}

/// One task (or a whole query) set up but not running yet.
pub struct TaskPending {
    runner: Runner,
    positions: Vec<u64>,
    /// The last flush committed (see [`recovery`]).
    flush: Option<(u64, Vec<u64>)>,
    stop: watch::Receiver<bool>,
}

impl TaskPending {
    /// Rebuilds the query's state (the last checkpoint, then a replay of the input after it)
    /// and runs the query; the handle ends when it has stopped.
    pub fn launch(mut self) -> Result<tokio::task::JoinHandle<()>> {
        let r = &mut self.runner;
        if r.processor.stateful() {
            let flush = self.flush.take();
            match recovery::rebuild(
                &mut r.processor,
                &r.spec,
                &r.fetcher,
                &self.positions,
                flush,
            ) {
                Ok(flushes) => r.flushes = flushes,
                Err(e) => {
                    r.fail(Error::generic(e.message.clone()));
                    return Err(e);
                }
            }
            r.late.store(r.processor.late_records(), Ordering::Relaxed);
        }
        Ok(tokio::spawn(self.runner.run(self.positions, self.stop)))
    }
}

use super::align::{Aligner, Slice};

/// Outputs found in the sink past its committed end at start: (sink partition, input
/// partition) -> (last input offset, outputs of it not yet skipped, sink offset after them).
type Written = HashMap<(u32, u32), (u64, usize, u64)>;

struct Runner {
    processor: Processor,
    spec: QuerySpec,
    log: SharedLog,
    plog: ProcessingLog,
    group: String,
    producer: u64,
    written: Written,
    /// Per sink partition: the sink end after outputs found written before a restart and
    /// skipped since, to commit with the next input positions (see `already_written`).
    skipped_end: Vec<Option<u64>>,
    /// The committed input positions the query started from: everything before them was
    /// processed and its outputs written, so an output caused by an earlier record (a flush
    /// of state rebuilt by replay) is not written again.
    resumed_at: Vec<u64>,
    fetcher: Fetcher,
    /// For a query over several inputs (a join): their rows in event-time order.
    aligner: Option<Aligner>,
    /// Per input partition: the batches being read and decoded ahead (see [`ahead`]).
    ahead: Vec<Option<ahead::ReadAhead>>,
    sink_parts: u32,
    /// One batch per sink partition, reused from write to write.
    sink_batches: Vec<BatchBuilder>,
    busy: Arc<AtomicBool>,
    flush: Arc<AtomicU8>,
    late: Arc<AtomicU64>,
    state_rows: Arc<AtomicU64>,
    meter: Arc<profile::Meter>,
    /// When `state_rows` was last measured.
    measured: std::time::Instant,
    last_checkpoint: std::time::Instant,
    /// How many times the end of a bounded input closed the open windows (see [`recovery`]).
    flushes: u64,
    shared_positions: Arc<Mutex<Vec<u64>>>,
    state: Arc<Mutex<QueryState>>,
    /// Whether the query was asked to stop.
    stopping: watch::Receiver<bool>,
}

impl Runner {
    async fn run(mut self, mut positions: Vec<u64>, mut stop: watch::Receiver<bool>) {
        // The input partitions this query (or task) reads, and their wake-ups.
        let mut owned = Vec::new();
        let mut rxs = Vec::new();
        for (g, (_, topic, p)) in self.fetcher.parts.iter().enumerate() {
            if !self.spec.owns(*p) {
                continue;
            }
            match self.log.subscribe(topic, *p) {
                Ok(rx) => {
                    owned.push(g);
                    rxs.push(rx);
                }
                Err(e) => return self.fail(e.into()),
            }
        }
        loop {
            if *stop.borrow() {
                return;
            }
            self.busy.store(true, Ordering::SeqCst);
            let mut progressed = false;
            if self.aligner.is_some() {
                for rx in rxs.iter_mut() {
                    rx.borrow_and_update();
                }
                match self.step_aligned(&mut positions).await {
                    Ok(p) => progressed = p,
                    Err(e) => {
                        self.busy.store(false, Ordering::SeqCst);
                        return self.fail(e);
                    }
                }
                if progressed {
                    *self
                        .shared_positions
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()) = positions.clone();
                }
            }
            let single = self.aligner.is_none();
            for (&p, rx) in owned.iter().zip(rxs.iter_mut()).filter(|_| single) {
                rx.borrow_and_update();
                match self.step(p, positions[p]).await {
                    Ok(Some(next)) => {
                        positions[p] = next;
                        progressed = true;
                        *self
                            .shared_positions
                            .lock()
                            .unwrap_or_else(|e| e.into_inner()) = positions.clone();
                    }
                    Ok(None) => {}
                    Err(e) => {
                        self.busy.store(false, Ordering::SeqCst);
                        return self.fail(e);
                    }
                }
            }
            let mut flushed = false;
            if !progressed && self.flush.load(Ordering::SeqCst) == FLUSH_ASKED {
                flushed = true;
                let done = match self.flush_windows(&positions).await {
                    Ok(true) => FLUSH_WROTE,
                    Ok(false) => FLUSH_EMPTY,
                    Err(e) => {
                        self.busy.store(false, Ordering::SeqCst);
                        return self.fail(e);
                    }
                };
                self.flush.store(done, Ordering::SeqCst);
            }
            // A flush checkpoints at once: a restart finds only the last flush in the committed
            // offsets, so the state must include every earlier one.
            let due = progressed && self.last_checkpoint.elapsed() >= self.spec.checkpoint_every;
            if due || flushed {
                if let Err(e) = self.checkpoint(&positions) {
                    // The query goes on; a restart then replays more of its input.
                    tracing::warn!(query = %self.spec.id, "checkpoint failed: {e}");
                    if flushed && !self.checkpoint_until_saved(&positions).await {
                        self.busy.store(false, Ordering::SeqCst);
                        return;
                    }
                }
            }
            if !progressed || self.measured.elapsed() >= std::time::Duration::from_secs(1) {
                self.measured = std::time::Instant::now();
                let counters = self.processor.counters();
                self.state_rows
                    .store(counters.state_rows as u64, Ordering::Relaxed);
                self.meter.measure(counters);
            }
            self.busy.store(false, Ordering::SeqCst);
            if progressed {
                tokio::task::yield_now().await;
                continue;
            }
            let changed =
                futures::future::select_all(rxs.iter_mut().map(|rx| Box::pin(rx.changed())));
            tokio::select! {
                _ = changed => {}
                _ = stop.changed() => {}
            }
        }
    }

    fn fail(&self, e: Error) {
        tracing::error!(query = %self.spec.id, "query failed: {e}");
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = QueryState::Error(e.message);
    }

    /// Saves the operator's state with the input positions it corresponds to.
    fn checkpoint(&mut self, positions: &[u64]) -> Result<()> {
        self.last_checkpoint = std::time::Instant::now();
        let Some(state) = self.processor.checkpoint()? else {
            return Ok(());
        };
        let data =
            recovery::encode_checkpoint(&self.spec.statement, positions, self.flushes, &state);
        self.spec.state.save(&self.spec.key(), &data)
    }

    /// Closes the open windows and writes what that emits, committed with the flush's number
    /// and `positions` (see [`recovery`]); true if it wrote anything.
    async fn flush_windows(&mut self, positions: &[u64]) -> Result<bool> {
        if !self.processor.stateful() {
            return Ok(false);
        }
        let n = self.flushes + 1;
        let out = self.processor.flush(&self.plog, &self.spec.id)?;
        let commit = recovery::flush_commit(n, positions);
        let wrote = match out {
            Some(out) => self.write_from(&out, commit, Some(n)).await?,
            None => {
                self.commit(&commit).await?;
                false
            }
        };
        self.flushes = n;
        Ok(wrote)
    }

    /// Processes a round of rows of all inputs in event-time order (see [`Aligner`]); true if
    /// it read anything.
    async fn step_aligned(&mut self, positions: &mut [u64]) -> Result<bool> {
        let Some(aligner) = self.aligner.as_mut() else {
            return Ok(false);
        };
        let fetcher = &self.fetcher;
        let before = positions.to_vec();
        let Some(slices) = aligner.round(positions, |g, pos| fetcher.fetch(g, pos))? else {
            return Ok(false);
        };
        for (g, (was, now)) in before.iter().zip(positions.iter()).enumerate() {
            let rows: usize = slices.iter().filter(|s| s.g == g).map(|s| s.len).sum();
            let input = self.fetcher.parts[g].0;
            self.meter
                .read(input, now.saturating_sub(*was), rows as u64);
        }
        let batches: Vec<(usize, Slice)> = slices
            .into_iter()
            .map(|s| (self.fetcher.parts[s.g].0, s))
            .collect();
        let commit: Vec<(String, u32, u64)> = self
            .fetcher
            .parts
            .iter()
            .zip(positions.iter())
            .map(|((_, t, p), o)| (t.clone(), *p, *o))
            .collect();
        let out = self
            .processor
            .process_many(&batches, &self.plog, &self.spec.id)?;
        self.late
            .store(self.processor.late_records(), Ordering::Relaxed);
        match out {
            Some(out) => {
                self.write(&out, commit).await?;
            }
            None => self.commit(&commit).await?,
        }
        Ok(true)
    }

    /// Processes one batch of partition `p` from `pos`; returns the new position if it read any.
    /// The batches after it are read and decoded on another thread while this one is processed
    /// (both cores at work: see [`ahead`]).
    async fn step(&mut self, g: usize, pos: u64) -> Result<Option<u64>> {
        let ahead = match self.ahead[g].as_mut() {
            Some(reader) => reader.take(pos).await,
            None => None,
        };
        let fetched = match ahead {
            Some(fetched) => fetched?,
            None => {
                // No reader, or it stopped: read here, then start one after this batch.
                self.ahead[g] = None;
                self.fetcher.fetch(g, pos)?
            }
        };
        let Some((next, batch)) = fetched else {
            return Ok(None);
        };
        if self.ahead[g].is_none() {
            let reader = ahead::ReadAhead::start(self.fetcher.clone(), g, next);
            self.ahead[g] = Some(reader);
        }
        let (input, topic, p) = &self.fetcher.parts[g];
        let input = *input;
        let rows = batch.as_ref().map_or(0, |b| b.num_rows() as u64);
        self.meter.read(input, next.saturating_sub(pos), rows);
        let commit = vec![(topic.clone(), *p, next)];
        let out = match batch {
            Some(batch) => {
                let out = self
                    .processor
                    .process(input, &batch, &self.plog, &self.spec.id)?;
                self.late
                    .store(self.processor.late_records(), Ordering::Relaxed);
                out
            }
            None => None,
        };
        match out {
            Some(out) => self.write(&out, commit).await?,
            None => {
                self.commit(&commit).await?;
                false
            }
        };
        Ok(Some(next))
    }

    /// Appends a batch's outputs to the sink (skipping those written before a crash), then
    /// commits the sink ends with `commit`; true if it appended anything.
    async fn write(&mut self, out: &RecordBatch, commit: Vec<(String, u32, u64)>) -> Result<bool> {
        self.write_from(out, commit, None).await
    }

    /// [`write`](Self::write), the outputs of the flush numbered `flush` if given.
    async fn write_from(
        &mut self,
        out: &RecordBatch,
        mut commit: Vec<(String, u32, u64)>,
        flush: Option<u64>,
    ) -> Result<bool> {
        let enc = encode(
            out,
            &self.spec.sink,
            self.sink_parts,
            Some(self.producer),
            self.spec.plan.passes_key(),
        )?;
        let mut batches = std::mem::take(&mut self.sink_batches);
        batches.resize_with(self.sink_parts as usize, BatchBuilder::new);
        let mut pushed = 0;
        for row in enc.rows() {
            let mut origin = row.origin.expect("persistent outputs carry an origin");
            if let Some(n) = flush {
                (origin.partition, origin.offset) = (recovery::FLUSH_ORIGIN, n);
            }
            if self.already_written(row.partition, origin) {
                continue;
            }
            enc.push_to(row, &mut batches[row.partition as usize], Some(origin));
            pushed += 1;
        }
        self.meter.wrote(pushed);
        let written = self.append_all(&mut batches, &mut commit).await;
        batches.iter_mut().for_each(BatchBuilder::clear);
        self.sink_batches = batches;
        let wrote = written?;
        if !commit.is_empty() {
            self.commit(&commit).await?;
        }
        Ok(wrote)
    }

    /// Whether the output of input position `origin` to sink partition `sp` was written
    /// before a restart (see [`recovery`]): then it is not written again.
    fn already_written(&mut self, sp: u32, origin: Origin) -> bool {
        if self
            .resumed_at
            .get(origin.partition as usize)
            .is_some_and(|at| origin.offset < *at)
        {
            return true;
        }
        let Some(&(last, left, sink_next)) = self.written.get(&(sp, origin.partition)) else {
            return false;
        };
        if origin.offset < last {
            return true;
        }
        if origin.offset == last && left > 0 {
            self.written
                .insert((sp, origin.partition), (last, left - 1, sink_next));
            // The last output written before the restart was skipped: the sink holds every
            // output up to it, so its end is committed with the input positions (else a table
            // read through the sink would stay behind it until the next output). Only where
            // one input partition wrote to `sp`: another's outputs before that end may still
            // be ahead of its committed position.
            let alone = self.written.keys().filter(|(s, _)| *s == sp).count() == 1;
            if left == 1 && alone {
                self.skipped_end[sp as usize] = Some(sink_next);
            }
            return true;
        }
        false
    }

    /// Appends each sink partition's batch, adding the sink ends to `commit`; whether any
    /// was written.
    async fn append_all(
        &mut self,
        batches: &mut [BatchBuilder],
        commit: &mut Vec<(String, u32, u64)>,
    ) -> Result<bool> {
        let topic = &self.spec.sink.topic;
        let mut wrote = false;
        for (sp, batch) in batches.iter_mut().enumerate() {
            let skipped = self.skipped_end[sp].take();
            if batch.is_empty() {
                if let Some(end) = skipped {
                    commit.push((format!("{SINK_MARK}{topic}"), sp as u32, end));
                }
                continue;
            }
            wrote = true;
            let first = self
                .durable(|log| log.append_batch(topic, sp as u32, batch))
                .await?;
            // The end after this batch (not the partition's end: another writer may follow).
            let end = first + batch.len() as u64;
            commit.push((format!("{SINK_MARK}{topic}"), sp as u32, end));
        }
        Ok(wrote)
    }
}
