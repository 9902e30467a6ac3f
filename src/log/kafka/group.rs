//! Consumer groups of processes: the servers of a service share a topic's partitions through
//! Kafka's group protocol (`Log::join_group`). The member's consumer reads nothing (its
//! partitions are paused); it exists to be given partitions and to hear when it loses them.
//! Assignment is cooperative and sticky: a member joining takes only what the assignor moves
//! to it, and a member keeps what it has otherwise (with an eager strategy every join would
//! revoke every partition from everyone). A member is given a partition only after the one
//! that had it has returned from `revoked`, or has left, or its session has timed out.

use super::{kafka_err, KafkaLog};
use crate::log::{GroupListener, GroupMember, LogResult};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct MemberContext {
    topic: String,
    listener: Arc<dyn GroupListener>,
}

impl ClientContext for MemberContext {}

impl ConsumerContext for MemberContext {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let ours = |tpl: &rdkafka::TopicPartitionList| -> Vec<u32> {
            let mut parts: Vec<u32> = tpl
                .elements_for_topic(&self.topic)
                .iter()
                .map(|e| e.partition() as u32)
                .collect();
            parts.sort_unstable();
            parts
        };
        match rebalance {
            Rebalance::Assign(tpl) => {
                // The member's records are not read here.
                let _ = consumer.pause(tpl);
                // Told even when empty: the member has heard its share.
                self.listener.assigned(&ours(tpl));
            }
            Rebalance::Revoke(tpl) => {
                let parts = ours(tpl);
                if !parts.is_empty() {
                    self.listener.revoked(&parts);
                }
            }
            Rebalance::Error(e) => tracing::warn!(topic = %self.topic, "group rebalance: {e}"),
        }
    }
}

/// Joins `group` over `topic`; a thread polls the group until the member leaves.
pub(super) fn join(
    log: &KafkaLog,
    group: &str,
    topic: &str,
    listener: Arc<dyn GroupListener>,
) -> LogResult<GroupMember> {
    let session = log.shared.config.session_timeout_ms;
    let context = MemberContext {
        topic: topic.to_string(),
        listener,
    };
    let consumer: BaseConsumer<MemberContext> = ClientConfig::clone(&log.shared.client)
        .set("group.id", group)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("session.timeout.ms", session.to_string())
        .set("heartbeat.interval.ms", (session / 4).max(100).to_string())
        // Taking a partition over can replay its input for long (inside the rebalance
        // callback); the member must not be thrown out meanwhile.
        .set("max.poll.interval.ms", "86400000")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create_with_context(context)
        .map_err(kafka_err)?;
    consumer.subscribe(&[topic]).map_err(kafka_err)?;
    let leaving = Arc::new(AtomicBool::new(false));
    let flag = leaving.clone();
    let name = format!("kafka-group-{}", group.chars().take(20).collect::<String>());
    let thread = std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            // Rebalances are delivered here; paused partitions yield no records.
            while !flag.load(Ordering::SeqCst) {
                let _ = consumer.poll(Duration::from_millis(100));
            }
            // Revokes what it holds (through the listener) and leaves the group.
            consumer.unsubscribe();
            let _ = consumer.poll(Duration::from_millis(100));
        })
        .map_err(crate::log::LogError::Io)?;
    Ok(GroupMember::new(move || {
        leaving.store(true, Ordering::SeqCst);
        let _ = thread.join();
    }))
}
