//! A persistent query shared out among the servers of a service (Kafka's scale-out model).
//!
//! Every server of the service runs every persistent query as a member of the query's consumer
//! group (ksqlDB's name, `_confluent-ksql-<service id>query_<query id>`), over its first
//! input's topic. Kafka's group protocol splits that topic's partitions among the members, and
//! each partition given to this server starts a *task*: the query over that one input
//! partition, with its own committed positions, checkpoints and output origins (its own
//! producer id, [`task_producer`]), so that when the partition moves, the next owner resumes
//! exactly where the task committed and skips the outputs it had written after that (or, under
//! `exactly_once_v2`, fences its transactions).
//!
//! That is correct only when everything the query keeps per key stays within one input
//! partition ([`QueryPlan::partition_local`]): stateless queries, and aggregations grouped by
//! the input's own key. Any other query (a GROUP BY of other columns, a join) runs whole, as
//! one task over every input partition, on the member given partition 0, unless it reads a
//! repartition topic ([`QuerySpec::partitioned`]; see `engine::repartition`).
//!
//! A task taken over from another server rebuilds its state from its last checkpoint (in the
//! query's changelog topic, or this server's copy of it; see `state::changelog`) and a replay
//! of its input partition from there up to the committed position.

use super::{
    consumer_group, input_partitions, producer_id, start_task, Pending, QueryHandle, QuerySpec,
    QueryState, StartAt, SINK_MARK,
};
use crate::error::Result;
use crate::exec::processing_log::ProcessingLog;
use crate::log::{GroupListener, GroupMember, SharedLog};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

/// The consumer group of a query on a service whose command topic is `command_topic`
/// (`_confluent-ksql-<service id>_command_topic`): ksqlDB's
/// `_confluent-ksql-<service id>query_<query id>`.
pub fn group_name(command_topic: &str, query_id: &str) -> String {
    let service = command_topic
        .strip_prefix("_confluent-ksql-")
        .and_then(|s| s.strip_suffix("_command_topic"))
        .unwrap_or(command_topic);
    format!("_confluent-ksql-{service}query_{query_id}")
}

/// The producer id of task `task`'s outputs, from the query's.
pub fn task_producer(query: u64, task: u32) -> u64 {
    producer_id(&format!("{query:016x}/{task}"))
}

struct Task {
    handle: QueryHandle,
    done: tokio::task::JoinHandle<()>,
}

/// The tasks of a shared query on this server.
pub(crate) struct Split {
    spec: QuerySpec,
    /// The consumer group and the topic whose partitions are its tasks.
    group: String,
    topic: String,
    /// One task over every partition (held with partition 0), or one per partition.
    whole: bool,
    log: SharedLog,
    plog: ProcessingLog,
    runtime: tokio::runtime::Handle,
    tasks: Mutex<BTreeMap<u32, Task>>,
    member: Mutex<Option<GroupMember>>,
    /// The thread leaving the group after [`Split::stop`].
    leaving: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The group has told this server its share at least once.
    heard: AtomicBool,
    stopped: AtomicBool,
    /// The first error that stopped a task.
    failed: Mutex<Option<String>>,
}

/// The set-up half of [`Pending`]: joins the group when launched.
pub struct Starter(Arc<Split>);

pub(super) fn start(
    spec: QuerySpec,
    log: SharedLog,
    plog: ProcessingLog,
) -> Result<(QueryHandle, Pending)> {
    let inputs = spec.plan.inputs();
    let topic = inputs[0].0.topic.clone();
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| crate::error::Error::generic(format!("no runtime for query: {e}")))?;
    let split = Arc::new(Split {
        group: spec.shared.clone().unwrap_or_default(),
        whole: !(spec.plan.partition_local() || spec.partitioned),
        topic,
        log,
        plog,
        runtime,
        tasks: Mutex::new(BTreeMap::new()),
        member: Mutex::new(None),
        leaving: Mutex::new(None),
        heard: AtomicBool::new(false),
        stopped: AtomicBool::new(false),
        failed: Mutex::new(None),
        spec,
    });
    let (stop, _) = tokio::sync::watch::channel(false);
    let s = &split.spec;
    let handle = QueryHandle {
        id: s.id.clone(),
        statement: s.statement.clone(),
        sink: s.sink.name.clone(),
        sink_topic: s.sink.topic.clone(),
        sources: inputs.iter().map(|(s, _)| s.name.clone()).collect(),
        inputs: Vec::new(),
        split: Some(split.clone()),
        feeder: None,
        state: Arc::new(Mutex::new(QueryState::Running)),
        busy: Default::default(),
        positions: Default::default(),
        flush: Default::default(),
        late: Default::default(),
        state_rows: Default::default(),
        meter: Arc::new(super::profile::Meter::new(0)),
        stop,
    };
    Ok((handle, Pending::Split(Starter(split))))
}

impl Starter {
    /// Joins the query's group; tasks start as the group gives this server partitions.
    pub fn launch(self) -> Result<()> {
        let split = self.0;
        let listener = Arc::new(Listener(Arc::downgrade(&split)));
        match split.log.join_group(&split.group, &split.topic, listener)? {
            Some(member) => *lock(&split.member) = Some(member),
            // A log without groups of processes: this server owns every partition.
            None => {
                let n = split.log.topic(&split.topic).map_or(1, |t| t.partitions);
                split.take(&(0..n).collect::<Vec<_>>());
            }
        }
        Ok(())
    }
}

impl Starter {
    /// Fixes where a new query reading from the end of its input (`auto.offset.reset` latest)
    /// starts: the input's ends now, committed for every task, so its tasks (started later, on
    /// whichever server is given them) read everything written after the statement.
    pub fn pin_start(&self) -> Result<()> {
        let split = &self.0;
        let (spec, log) = (&split.spec, &split.log);
        if spec.start != StartAt::Latest {
            return Ok(());
        }
        let parts = input_partitions(&spec.plan.inputs(), log)?;
        let sink = &spec.sink.topic;
        let sink_parts = log.topic(sink).map_or(0, |t| t.partitions);
        let mut sink_ends = Vec::new();
        for p in 0..sink_parts {
            sink_ends.push((format!("{SINK_MARK}{sink}"), p, log.end_offset(sink, p)?));
        }
        let n = log.topic(&split.topic).map_or(1, |t| t.partitions);
        for k in (0..n).filter_map(|p| split.task_of(p)) {
            let task = split.task_spec(k);
            let group = consumer_group(&task.key());
            if !log.committed(&group)?.is_empty() {
                continue;
            }
            let mut commit = sink_ends.clone();
            for (_, topic, p) in parts.iter().filter(|(_, _, p)| task.owns(*p)) {
                commit.push((topic.clone(), *p, log.end_offset(topic, *p)?));
            }
            log.commit(&group, &commit)?;
        }
        Ok(())
    }
}

struct Listener(Weak<Split>);

impl GroupListener for Listener {
    fn assigned(&self, partitions: &[u32]) {
        if let Some(split) = self.0.upgrade() {
            split.take(partitions);
        }
    }

    fn revoked(&self, partitions: &[u32]) {
        if let Some(split) = self.0.upgrade() {
            split.give_up(partitions);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Split {
    /// The task a partition given to this server runs, if any: every partition's own, or the
    /// whole query's with partition 0.
    fn task_of(&self, partition: u32) -> Option<u32> {
        (!self.whole || partition == 0).then_some(partition)
    }

    fn task_spec(&self, k: u32) -> QuerySpec {
        let mut spec = self.spec.clone();
        if !self.whole {
            spec.task = Some(k);
            spec.producer = task_producer(self.spec.producer, k);
        }
        spec.shared = None;
        spec
    }

    /// Starts the tasks of partitions given to this server (their state rebuilt first).
    fn take(&self, partitions: &[u32]) {
        for k in partitions.iter().filter_map(|p| self.task_of(*p)) {
            if self.stopped.load(Ordering::SeqCst) || lock(&self.tasks).contains_key(&k) {
                continue;
            }
            let began = Instant::now();
            let _entered = self.runtime.enter();
            let started = start_task(self.task_spec(k), self.log.clone(), self.plog.clone())
                .and_then(|(handle, pending)| Ok((handle, pending.launch()?)));
            match started {
                Ok((handle, done)) => {
                    tracing::info!(
                        query = %self.spec.id,
                        task = k,
                        restore_ms = began.elapsed().as_millis() as u64,
                        "task started on this server"
                    );
                    lock(&self.tasks).insert(k, Task { handle, done });
                }
                Err(e) => {
                    tracing::error!(query = %self.spec.id, task = k, "cannot start task: {e}");
                    lock(&self.failed).get_or_insert(e.message);
                }
            }
        }
        // Only now: until its tasks run, the query has not caught up.
        self.heard.store(true, Ordering::SeqCst);
    }

    /// Stops the tasks of partitions taken from this server, and waits until they have.
    fn give_up(&self, partitions: &[u32]) {
        for k in partitions.iter().filter_map(|p| self.task_of(*p)) {
            let Some(task) = lock(&self.tasks).remove(&k) else {
                continue;
            };
            task.handle.stop();
            let _ = self.runtime.block_on(task.done);
            tracing::info!(query = %self.spec.id, task = k, "task handed over");
        }
    }

    /// Stops every task and leaves the group (without waiting: the caller may be a thread the
    /// tasks need to finish). Only once the tasks have stopped and this server's consumers
    /// of the input have gone does it leave: the input may be deleted once the group is empty
    /// (a repartition topic, on TERMINATE).
    pub(super) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let tasks = std::mem::take(&mut *lock(&self.tasks));
        for task in tasks.values() {
            task.handle.stop();
        }
        let member = lock(&self.member).take();
        let (runtime, log, topic) = (self.runtime.clone(), self.log.clone(), self.topic.clone());
        let leaving = std::thread::Builder::new()
            .name("leave-group".into())
            .spawn(move || {
                for task in tasks.into_values() {
                    let _ = runtime.block_on(task.done);
                }
                log.forget_topic(&topic);
                drop(member);
            });
        *lock(&self.leaving) = leaving.ok();
    }

    /// After [`Split::stop`]: waits until this server has left the group, so the others take
    /// its partitions at once (not once its session times out).
    pub(super) fn wait_left(&self) {
        if let Some(t) = lock(&self.leaving).take() {
            let _ = t.join();
        }
    }

    pub(super) fn state(&self) -> QueryState {
        if let Some(e) = lock(&self.failed).clone() {
            return QueryState::Error(e);
        }
        let tasks = lock(&self.tasks);
        let failed = tasks.values().map(|t| t.handle.state());
        failed
            .into_iter()
            .find(|s| matches!(s, QueryState::Error(_)))
            .unwrap_or(QueryState::Running)
    }

    /// Heard from the group, and every task here has read all its input holds.
    pub(super) fn caught_up(&self, log: &SharedLog) -> bool {
        self.heard.load(Ordering::SeqCst)
            && lock(&self.tasks).values().all(|t| t.handle.caught_up(log))
    }

    pub(super) fn each(&self, f: impl Fn(&QueryHandle)) {
        lock(&self.tasks).values().for_each(|t| f(&t.handle));
    }

    /// The tasks' profiles and rates, added up.
    pub(super) fn profile(&self) -> (super::profile::Profile, super::profile::Rates) {
        let mut total = <(super::profile::Profile, super::profile::Rates)>::default();
        for t in lock(&self.tasks).values() {
            let (p, r) = t.handle.profile();
            total.0.add(&p);
            total.1.add(&r);
        }
        total
    }

    pub(super) fn sum(&self, f: impl Fn(&QueryHandle) -> u64) -> u64 {
        lock(&self.tasks).values().map(|t| f(&t.handle)).sum()
    }

    /// `None` while a task's flush is pending, else whether any wrote.
    pub(super) fn flushed(&self) -> Option<bool> {
        let tasks = lock(&self.tasks);
        let mut wrote = false;
        for t in tasks.values() {
            wrote |= t.handle.flushed()?;
        }
        Some(wrote)
    }

    pub(super) fn local_partitions(&self) -> Vec<(String, u32)> {
        let tasks = lock(&self.tasks);
        tasks
            .values()
            .flat_map(|t| t.handle.local_partitions())
            .collect()
    }

    /// Every task's key (commits and checkpoints), on whichever server it runs.
    pub(super) fn keys(&self, log: &SharedLog) -> Vec<String> {
        if self.whole {
            return vec![self.spec.key()];
        }
        let n = log.topic(&self.topic).map_or(0, |t| t.partitions);
        (0..n).map(|k| self.task_spec(k).key()).collect()
    }
}
