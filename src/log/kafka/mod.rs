//! The Kafka backend of the [`Log`]: topics, appends, fetches and commits on an Apache Kafka
//! cluster (or any broker speaking its protocol) through librdkafka (`rdkafka`).
//!
//! - Appends (`write`) produce every record of a [`BatchBuilder`] with an idempotent producer
//!   (acks from all replicas) and wait for their delivery; the first record's offset is
//!   returned. A record that carries an [`Origin`](crate::log::Origin) (a persistent query's
//!   output) carries it in the header [`ORIGIN_HEADER`], which fetches take off again, so crash
//!   recovery works as on the embedded log. Other consumers see the header; Brooklet never
//!   shows it as a column. With `processing.guarantee=exactly_once_v2` a query's outputs and
//!   its commit are one transaction (`txn`).
//! - Fetches read through a pool of consumers per partition (`read`).
//! - Commits go to a compacted topic of the service (`offsets`): one record per commit, so a
//!   query's input positions, sink ends and flush numbers are stored together, which Kafka's
//!   own group offsets (real topics only, no atomic multi-topic metadata) could not do.
//! - `subscribe` is served by a thread that asks the brokers for each watched partition's end
//!   every [`WATCH_INTERVAL`], and fetches there, and wakes its readers when it grew (or when
//!   this process appends or reads past it). A broker may report an end short of what a fetch
//!   returns, by up to a batch (tansu's memory engine does): the fetch at the reported end
//!   finds the rest, and `end_offset` does the same. A fetch below a known end polls until it
//!   gets records, so an empty fetch means what it means on the embedded log: nothing yet.
//! - The servers of a service share each query's input partitions as members of a consumer
//!   group (`group`, `Log::join_group`); one of them, the holder of the service's lease
//!   (`lease`), runs its connectors.

mod config;
mod group;
mod lease;
mod offsets;
mod read;
mod txn;
mod write;

pub use config::{KafkaConfig, DEFAULT_SERVICE_ID};
pub use lease::LEASE_LOST_EXIT;

use super::{BatchBuilder, Fetch, GroupOffsets, Log, LogError, LogResult, TopicInfo, TopicSpec};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureProducer;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The header carrying a persistent query's output origin (producer, partition, offset).
pub const ORIGIN_HEADER: &str = "brooklet.origin";
/// How often watched partitions' ends are asked for.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);
/// How long a fetch below a partition's known end polls before it may come back empty.
const FETCH_PATIENCE: Duration = Duration::from_secs(5);

/// A log on a Kafka cluster.
pub struct KafkaLog {
    shared: Arc<Shared>,
    lease: Mutex<Option<lease::Lease>>,
}

struct Shared {
    config: KafkaConfig,
    client: ClientConfig,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    meta: BaseConsumer,
    timeout: Duration,
    /// Partition counts of topics seen.
    topics: Mutex<HashMap<String, u32>>,
    pools: Mutex<HashMap<(String, u32), read::Pool>>,
    /// Consumers that only look for a partition's true end (see `end_offset`), apart from the
    /// readers so that a look never moves a query's reader.
    probes: Mutex<HashMap<(String, u32), read::Pool>>,
    /// The highest end each partition was seen to have (by a produce, a fetch or the broker).
    ends: Mutex<HashMap<(String, u32), u64>>,
    watches: Mutex<HashMap<(String, u32), watch::Sender<u64>>>,
    offsets: offsets::Offsets,
    txns: txn::Txns,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A Kafka error as the log's.
pub(super) fn kafka_err(e: KafkaError) -> LogError {
    LogError::Io(std::io::Error::other(format!("Kafka: {e}")))
}

impl KafkaLog {
    /// Connects to the cluster, makes sure the service's offsets topic exists and loads the
    /// committed positions from it.
    pub fn connect(config: KafkaConfig) -> LogResult<KafkaLog> {
        Self::connect_with_timeout(config, Duration::from_secs(30))
    }

    /// [`connect`](Self::connect), with the time any one request to the cluster may take.
    pub fn connect_with_timeout(config: KafkaConfig, timeout: Duration) -> LogResult<KafkaLog> {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", &config.bootstrap);
        for (k, v) in &config.client {
            client.set(k, v);
        }
        let producer: FutureProducer = client
            .clone()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("allow.auto.create.topics", "false")
            .create()
            .map_err(kafka_err)?;
        let admin = client.create().map_err(kafka_err)?;
        let meta = read::consumer(&client)?;
        let shared = Arc::new(Shared {
            offsets: offsets::Offsets::new(config.offsets_topic()),
            txns: txn::Txns::default(),
            config,
            client,
            producer,
            admin,
            meta,
            timeout,
            topics: Mutex::default(),
            pools: Mutex::default(),
            probes: Mutex::default(),
            ends: Mutex::default(),
            watches: Mutex::default(),
        });
        let log = KafkaLog {
            shared,
            lease: Mutex::new(None),
        };
        // Fail now, with the cluster's error, rather than at the first statement.
        log.shared
            .meta
            .fetch_metadata(None, log.shared.timeout)
            .map_err(|e| {
                LogError::Io(std::io::Error::other(format!(
                    "cannot reach the Kafka cluster at {}: {e}",
                    log.shared.config.bootstrap
                )))
            })?;
        let topic = log.shared.offsets.topic().to_string();
        if log.topic(&topic).is_none() {
            let compacted = TopicSpec {
                replicas: None,
                settings: vec![("cleanup.policy".into(), "compact".into())],
            };
            // Another server of the service starting at once may make it first.
            match log.create_topic_with(&topic, 1, &compacted) {
                Ok(()) | Err(LogError::TopicExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        log.shared.offsets.load(&log)?;
        spawn_watcher(Arc::downgrade(&log.shared));
        Ok(log)
    }

    /// Joins the service's lease group (see `lease`): the one server of the service holding it
    /// runs its connectors. Kept until the process ends; lost, it ends the process.
    pub fn join_lease(&self) -> LogResult<()> {
        let lease = lease::join(self)?;
        *lock(&self.lease) = Some(lease);
        Ok(())
    }

    /// Whether this process holds the service's lease now.
    pub fn holds_lease(&self) -> bool {
        lock(&self.lease).as_ref().is_some_and(lease::Lease::held)
    }

    pub fn config(&self) -> &KafkaConfig {
        &self.shared.config
    }
}

impl Shared {
    /// The topic's partition count as the cluster says now.
    fn fetch_topic(&self, name: &str) -> Option<u32> {
        let md = self.meta.fetch_metadata(Some(name), self.timeout).ok()?;
        let t = md.topics().iter().find(|t| t.name() == name)?;
        if t.error().is_some() || t.partitions().is_empty() {
            return None;
        }
        let n = t.partitions().len() as u32;
        lock(&self.topics).insert(name.to_string(), n);
        Some(n)
    }

    fn partitions(&self, topic: &str) -> LogResult<u32> {
        let cached = lock(&self.topics).get(topic).copied();
        cached
            .or_else(|| self.fetch_topic(topic))
            .ok_or_else(|| LogError::UnknownTopic(topic.to_string()))
    }

    /// Reads through a consumer of `pools` (see `read`).
    fn fetch_from(
        &self,
        pools: &Mutex<HashMap<(String, u32), read::Pool>>,
        topic: &str,
        partition: u32,
        offset: u64,
        max: usize,
    ) -> LogResult<Fetch> {
        self.check(topic, partition)?;
        let reader = lock(pools)
            .entry((topic.to_string(), partition))
            .or_default()
            .take(offset, || read::consumer(&self.client))?;
        let started = Instant::now();
        let read = lock(&reader).read(topic, partition, offset, max)?;
        tracing::trace!(
            topic,
            partition,
            offset,
            records = read.as_ref().map_or(0, Fetch::len),
            took_us = started.elapsed().as_micros() as u64,
            "kafka fetch"
        );
        match read {
            Some(fetch) => {
                if let Some(last) = fetch.last_offset() {
                    self.saw_end(topic, partition, last + 1);
                }
                Ok(fetch)
            }
            // Out of range: before the start (deleted by retention) reads on from the start;
            // past the end there is nothing yet.
            None => {
                let (lo, _) = self.watermarks(topic, partition)?;
                if offset < lo {
                    self.fetch_from(pools, topic, partition, lo, max)
                } else {
                    Ok(Fetch::new(partition, offset))
                }
            }
        }
    }

    fn check(&self, topic: &str, partition: u32) -> LogResult<()> {
        if partition < self.partitions(topic)? {
            Ok(())
        } else {
            Err(read::unknown(topic, partition))
        }
    }

    /// Where a partition really ends: the broker's end, or further when fetches there (through
    /// the probe consumers, never a query's) find records. A broker may report an end short of
    /// what it holds (see the module comment).
    fn find_end(&self, topic: &str, partition: u32) -> LogResult<u64> {
        let (_, hi) = self.watermarks(topic, partition)?;
        self.saw_end(topic, partition, hi);
        loop {
            let end = self.known_end(topic, partition);
            if self
                .fetch_from(&self.probes, topic, partition, end, 4096)?
                .is_empty()
            {
                return Ok(end);
            }
        }
    }

    /// Records that `topic`/`partition` reaches at least `end`, waking its readers.
    fn saw_end(&self, topic: &str, partition: u32, end: u64) {
        let key = (topic.to_string(), partition);
        let mut ends = lock(&self.ends);
        let e = ends.entry(key.clone()).or_insert(0);
        if end > *e {
            *e = end;
            drop(ends);
            if let Some(tx) = lock(&self.watches).get(&key) {
                tx.send_replace(end);
            }
        }
    }

    fn known_end(&self, topic: &str, partition: u32) -> u64 {
        let key = (topic.to_string(), partition);
        lock(&self.ends).get(&key).copied().unwrap_or(0)
    }

    fn watermarks(&self, topic: &str, partition: u32) -> LogResult<(u64, u64)> {
        let (lo, hi) = self
            .meta
            .fetch_watermarks(topic, partition as i32, self.timeout)
            .map_err(kafka_err)?;
        Ok((lo.max(0) as u64, hi.max(0) as u64))
    }
}

/// Wakes the readers of watched partitions every [`WATCH_INTERVAL`] (see the module comment).
fn spawn_watcher(shared: Weak<Shared>) {
    let spawned = std::thread::Builder::new()
        .name("kafka-watch".into())
        .spawn(move || loop {
            std::thread::sleep(WATCH_INTERVAL);
            let Some(s) = shared.upgrade() else {
                return;
            };
            let watched: Vec<_> = lock(&s.watches)
                .iter()
                .filter(|(_, tx)| tx.receiver_count() > 0)
                .map(|(k, _)| k.clone())
                .collect();
            lock(&s.watches).retain(|_, tx| tx.receiver_count() > 0);
            for (topic, p) in watched {
                if let Err(e) = s.find_end(&topic, p) {
                    tracing::debug!(topic, p, "cannot find the end of a watched partition: {e}");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the Kafka watch thread: {e}");
    }
}

impl Log for KafkaLog {
    fn wait_lease(&self, stop: &std::sync::atomic::AtomicBool) -> bool {
        use std::sync::atomic::Ordering;
        let service = &self.shared.config.service_id;
        let mut told = false;
        loop {
            if stop.load(Ordering::SeqCst) {
                return false;
            }
            if self.holds_lease() {
                return true;
            }
            if !told {
                told = true;
                tracing::info!(
                    service,
                    "waiting for the service's lease to run a connector"
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn join_group(
        &self,
        group: &str,
        topic: &str,
        listener: Arc<dyn super::GroupListener>,
    ) -> LogResult<Option<super::GroupMember>> {
        group::join(self, group, topic, listener).map(Some)
    }

    /// Gives the service's lease back (the process is stopping).
    fn close(&self) {
        if let Some(lease) = lock(&self.lease).take() {
            lease.release();
        }
    }

    fn create_topic(&self, name: &str, partitions: u32) -> LogResult<()> {
        self.create_topic_with(name, partitions, &TopicSpec::default())
    }

    /// Creates a topic with its replicas (the configured ones unless given) and settings.
    fn create_topic_with(&self, name: &str, partitions: u32, spec: &TopicSpec) -> LogResult<()> {
        let s = &self.shared;
        let replicas = spec.replicas.map_or(s.config.replicas, |r| r as i32);
        let mut topic = NewTopic::new(name, partitions as i32, TopicReplication::Fixed(replicas));
        for (k, v) in &spec.settings {
            topic = topic.set(k, v);
        }
        let opts = AdminOptions::new().operation_timeout(Some(s.timeout));
        let results = futures::executor::block_on(s.admin.create_topics([&topic], &opts))
            .map_err(kafka_err)?;
        for r in results {
            match r {
                Ok(_) => {}
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    return Err(LogError::TopicExists(name.to_string()))
                }
                Err((_, code)) => {
                    return Err(kafka_err(KafkaError::AdminOp(code)));
                }
            }
        }
        // The brokers' metadata catches up with a creation a moment later.
        let deadline = Instant::now() + s.timeout;
        while s.fetch_topic(name).is_none_or(|p| p < partitions) {
            if Instant::now() > deadline {
                return Err(LogError::UnknownTopic(name.to_string()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn delete_topic(&self, name: &str) -> LogResult<()> {
        let s = &self.shared;
        // This process's consumers stop fetching it first: a fetch of a topic being deleted
        // can crash librdkafka on tansu (its answer names the topic by neither id nor name).
        self.forget_topic(name);
        let opts = AdminOptions::new().operation_timeout(Some(s.timeout));
        let results = futures::executor::block_on(s.admin.delete_topics(&[name], &opts))
            .map_err(kafka_err)?;
        lock(&s.topics).remove(name);
        for r in results {
            match r {
                Ok(_) => {}
                Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {
                    return Err(LogError::UnknownTopic(name.to_string()))
                }
                Err((_, code)) => return Err(kafka_err(KafkaError::AdminOp(code))),
            }
        }
        Ok(())
    }

    fn set_retention_bytes(&self, topic: &str, bytes: u64) -> LogResult<()> {
        use rdkafka::admin::{AlterConfig, ResourceSpecifier};
        let s = &self.shared;
        let value = bytes.to_string();
        let change =
            AlterConfig::new(ResourceSpecifier::Topic(topic)).set("retention.bytes", &value);
        let opts = AdminOptions::new().operation_timeout(Some(s.timeout));
        // A broker that cannot alter topic settings keeps its own retention: not an error.
        if let Err(e) = futures::executor::block_on(s.admin.alter_configs([&change], &opts)) {
            tracing::debug!(topic, "cannot set retention.bytes on the cluster: {e}");
        }
        Ok(())
    }

    fn start_offset(&self, topic: &str, partition: u32) -> LogResult<u64> {
        self.shared.check(topic, partition)?;
        Ok(self.shared.watermarks(topic, partition)?.0)
    }

    fn topic(&self, name: &str) -> Option<TopicInfo> {
        self.shared
            .partitions(name)
            .ok()
            .map(|partitions| TopicInfo {
                name: name.to_string(),
                partitions,
            })
    }

    fn topics(&self) -> Vec<TopicInfo> {
        let s = &self.shared;
        let Ok(md) = s.meta.fetch_metadata(None, s.timeout) else {
            return Vec::new();
        };
        let mut out: Vec<TopicInfo> = md
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .map(|t| TopicInfo {
                name: t.name().to_string(),
                partitions: t.partitions().len() as u32,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn append_batch(
        &self,
        topic: &str,
        partition: u32,
        batch: &mut BatchBuilder,
    ) -> LogResult<u64> {
        self.shared.check(topic, partition)?;
        write::append(&self.shared, topic, partition, batch)
    }

    fn fetch(&self, topic: &str, partition: u32, offset: u64, max: usize) -> LogResult<Fetch> {
        let s = &self.shared;
        if !lock(&s.ends).contains_key(&(topic.to_string(), partition)) {
            // The first read of a partition: learn where it ends, so that patience applies.
            let (_, hi) = s.watermarks(topic, partition)?;
            lock(&s.ends)
                .entry((topic.to_string(), partition))
                .or_insert(hi);
        }
        let deadline = Instant::now() + FETCH_PATIENCE;
        loop {
            let f = s.fetch_from(&s.pools, topic, partition, offset, max)?;
            if !f.is_empty()
                || f.next_offset() > offset
                || offset >= s.known_end(topic, partition)
                || Instant::now() > deadline
            {
                return Ok(f);
            }
        }
    }

    fn end_offset(&self, topic: &str, partition: u32) -> LogResult<u64> {
        self.shared.check(topic, partition)?;
        self.shared.find_end(topic, partition)
    }

    fn subscribe(&self, topic: &str, partition: u32) -> LogResult<watch::Receiver<u64>> {
        self.shared.check(topic, partition)?;
        let s = &self.shared;
        let end = s.known_end(topic, partition);
        let mut watches = lock(&s.watches);
        let tx = watches
            .entry((topic.to_string(), partition))
            .or_insert_with(|| watch::channel(end).0);
        Ok(tx.subscribe())
    }

    fn commit(&self, group: &str, offsets: &[(String, u32, u64)]) -> LogResult<()> {
        self.shared.offsets.commit(self, group, Some(offsets))
    }

    fn begin_outputs(&self, producer: u64) -> LogResult<()> {
        let s = &self.shared;
        if s.config.exactly_once {
            s.txns.get(s, producer)?;
        }
        Ok(())
    }

    /// With transactions, the commit record joins the outputs' transaction, which commits.
    fn commit_outputs(
        &self,
        group: &str,
        producer: u64,
        offsets: &[(String, u32, u64)],
    ) -> LogResult<()> {
        match self.shared.txns.open(producer) {
            Some(txn) => write::commit_in(&self.shared, &txn, group, offsets),
            None => self.commit(group, offsets),
        }
    }

    fn committed(&self, group: &str) -> LogResult<GroupOffsets> {
        self.shared.offsets.get(self, group)
    }

    fn delete_group(&self, group: &str) -> LogResult<()> {
        self.shared.offsets.commit(self, group, None)
    }

    fn forget_topic(&self, name: &str) {
        let s = &self.shared;
        lock(&s.pools).retain(|(t, _), _| t != name);
        lock(&s.probes).retain(|(t, _), _| t != name);
        lock(&s.ends).retain(|(t, _), _| t != name);
    }
}

#[cfg(test)]
mod tests;
