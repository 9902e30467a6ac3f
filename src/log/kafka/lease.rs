//! The service's lease: which server of a `ksql.service.id` runs the service's queries.
//!
//! Every server of the service joins one consumer group (`_confluent-ksql-<service
//! id>_brooklet_leader`) subscribed to the command topic, which has one partition: the member
//! Kafka's group protocol assigns that partition to holds the lease. The others wait, and one of
//! them is given the partition when the holder leaves or stops heartbeating (its session times
//! out). Assignment is cooperative and sticky, so a server joining does not take the lease from
//! the one holding it. A holder that loses the lease stops at once (exit status
//! [`LEASE_LOST_EXIT`]): another server is taking over its queries, and two writers would
//! duplicate their output. The lease is fenced by the group's session only: a holder frozen for
//! longer than `session.timeout.ms` that wakes before it notices can write once more.

use super::{kafka_err, KafkaLog};
use crate::log::LogResult;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The exit status of a server whose lease was taken over (EX_TEMPFAIL: start it again and it
/// waits as a standby).
pub const LEASE_LOST_EXIT: i32 = 75;

#[derive(Default)]
struct Held {
    now: bool,
    /// Given back on purpose: a revocation is then no loss.
    closing: bool,
}

/// The lease held, and the thread keeping it.
pub(super) struct Lease {
    held: Arc<(Mutex<Held>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Lease {
    /// Leaves the group, so another server takes over at once rather than after this one's
    /// session times out.
    pub(super) fn release(mut self) {
        lock(&self.held.0).closing = true;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock(m: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct LeaseContext {
    topic: String,
    held: Arc<(Mutex<Held>, Condvar)>,
}

impl ClientContext for LeaseContext {}

impl ConsumerContext for LeaseContext {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let ours = |tpl: &rdkafka::TopicPartitionList| {
            tpl.elements_for_topic(&self.topic)
                .iter()
                .any(|e| e.partition() == 0)
        };
        let (m, cv) = &*self.held;
        let mut held = lock(m);
        match rebalance {
            Rebalance::Assign(tpl) if ours(tpl) => {
                held.now = true;
                // The lease is the assignment; its records are not read here.
                let _ = consumer.pause(tpl);
                cv.notify_all();
            }
            Rebalance::Revoke(tpl) if ours(tpl) && held.now && !held.closing => {
                tracing::error!(
                    "this server lost the service's lease to another server; stopping so that \
                     only one runs the queries"
                );
                std::process::exit(LEASE_LOST_EXIT);
            }
            _ => {}
        }
    }
}

/// Waits until this process holds the service's lease; keeps it (a thread polls the group)
/// until released or the process ends.
pub(super) fn acquire(log: &KafkaLog, session_timeout: Duration) -> LogResult<Lease> {
    let config = &log.shared.config;
    let topic = config.command_topic();
    let held = Arc::new((Mutex::new(Held::default()), Condvar::new()));
    let context = LeaseContext {
        topic: topic.clone(),
        held: held.clone(),
    };
    // Cooperative: a server joining takes nothing from the holder. (With an eager strategy
    // every join revokes every partition, which here would read as the lease lost.)
    let consumer: BaseConsumer<LeaseContext> = ClientConfig::clone(&log.shared.client)
        .set("group.id", config.leader_group())
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set(
            "session.timeout.ms",
            session_timeout.as_millis().to_string(),
        )
        .set(
            "heartbeat.interval.ms",
            (session_timeout.as_millis() / 4).max(100).to_string(),
        )
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create_with_context(context)
        .map_err(kafka_err)?;
    consumer.subscribe(&[&topic]).map_err(kafka_err)?;
    let flags = held.clone();
    let thread = std::thread::Builder::new()
        .name("kafka-lease".into())
        .spawn(move || {
            // Rebalances are delivered here; the paused partition yields no records.
            while !lock(&flags.0).closing {
                let _ = consumer.poll(Duration::from_millis(100));
            }
            consumer.unsubscribe();
            let _ = consumer.poll(Duration::from_millis(100));
            // Dropping the consumer closes it: it leaves the group.
        })
        .map_err(crate::log::LogError::Io)?;
    let (m, cv) = &*held;
    let mut h = lock(m);
    let mut told = false;
    while !h.now {
        let (next, timeout) = cv
            .wait_timeout(h, Duration::from_secs(2))
            .unwrap_or_else(|e| e.into_inner());
        h = next;
        if timeout.timed_out() && !told {
            told = true;
            tracing::warn!(
                service = %config.service_id,
                "another server of this service runs its queries; waiting as a standby"
            );
            eprintln!(
                "waiting to take over service '{}' (another server of it is running)",
                config.service_id
            );
        }
    }
    drop(h);
    Ok(Lease {
        held,
        thread: Some(thread),
    })
}
