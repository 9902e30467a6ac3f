//! `/clusterStatus`: the servers of this server's service, with the input partitions each runs
//! for each persistent query (ksqlDB's `activeStandbyPerQuery`).
//!
//! On Kafka, every server records a heartbeat in the service's topic
//! `_confluent-ksql-<service id>_brooklet_servers` every [`HEARTBEAT`]: its address (keyed by
//! it) and the partitions its tasks read. `/clusterStatus` reads that topic on from where it
//! last stopped and lists every server heard from, alive when its last heartbeat is at most
//! [`ALIVE_FOR`] old (a server stopped or killed stays listed, not alive, as in ksqlDB). On the
//! embedded log the server is alone and lists itself.

use crate::engine::Engine;
use crate::log::Record;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a server says it is there.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
pub use crate::engine::heartbeats::ALIVE_FOR;

/// What a server knows of its service's servers.
#[derive(Default)]
pub struct Cluster {
    /// This server's address, as the others reach it.
    me: Mutex<String>,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// The next offset of the heartbeat topic to read.
    next: u64,
    /// The last heartbeat of each server, by address.
    hosts: BTreeMap<String, Value>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// ksqlDB's `activeStandbyPerQuery` from this server's partitions per query.
fn active_per_query(engine: &Engine) -> Value {
    let per_query: Map<String, Value> = engine
        .local_partitions()
        .into_iter()
        .map(|(id, parts)| {
            let active: Vec<Value> = parts
                .iter()
                .map(|(topic, p)| json!({"topic": topic, "partition": p}))
                .collect();
            let entry = json!({"activeStores": [], "activePartitions": active,
                               "standByStores": [], "standByPartitions": []});
            (id, entry)
        })
        .collect();
    Value::Object(per_query)
}

impl Cluster {
    /// Starts announcing this server (at `me`) to the others of its service, on Kafka.
    pub fn start(self: &Arc<Self>, engine: Arc<Engine>, me: String) {
        *lock(&self.me) = me.clone();
        let Some(topic) = engine.service_topic("brooklet_servers") else {
            return;
        };
        let log = engine.log().clone();
        if log.topic(&topic).is_none() {
            let compacted = crate::log::TopicSpec {
                replicas: None,
                settings: vec![("cleanup.policy".into(), "compact".into())],
            };
            match log.create_topic_with(&topic, 1, &compacted) {
                Ok(()) | Err(crate::log::LogError::TopicExists(_)) => {}
                Err(e) => return tracing::warn!("cannot make {topic}: {e}"),
            }
        }
        let engine = Arc::downgrade(&engine);
        let spawned = std::thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || {
                while let Some(engine) = engine.upgrade() {
                    // The time after the queries: a query left out was stopped by then.
                    let queries = active_per_query(&engine);
                    let beat = json!({"at": now_ms(), "queries": queries});
                    let record = Record {
                        key: Some(me.clone().into_bytes()),
                        value: Some(beat.to_string().into_bytes()),
                        timestamp: now_ms() as i64,
                        ..Record::default()
                    };
                    if let Err(e) = log.append(&topic, 0, &[record]) {
                        tracing::warn!("cannot send a heartbeat: {e}");
                    }
                    drop(engine);
                    std::thread::sleep(HEARTBEAT);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the heartbeat: {e}");
        }
    }

    /// The `/clusterStatus` entity.
    pub fn status(&self, engine: &Engine, host: &str) -> Value {
        let now = now_ms();
        let me = lock(&self.me).clone();
        let me = if me.is_empty() { host.to_string() } else { me };
        let mut hosts = Map::new();
        if let Some(topic) = engine.service_topic("brooklet_servers") {
            let mut seen = lock(&self.seen);
            self.read_on(engine, &topic, &mut seen);
            for (addr, beat) in &seen.hosts {
                let at = beat["at"].as_u64().unwrap_or(0);
                let alive = now.saturating_sub(at) <= ALIVE_FOR.as_millis() as u64;
                hosts.insert(addr.clone(), entry(alive, at, beat["queries"].clone()));
            }
        }
        // This server, as it is now (also before its first heartbeat was read back).
        hosts.insert(me, entry(true, now, active_per_query(engine)));
        json!({ "clusterStatus": hosts })
    }

    fn read_on(&self, engine: &Engine, topic: &str, seen: &mut Seen) {
        let read =
            crate::engine::heartbeats::read_on(&**engine.log(), topic, seen.next, &mut seen.hosts);
        match read {
            Ok(next) => seen.next = next,
            Err(e) => tracing::warn!("cannot read {topic}: {e}"),
        }
    }
}

fn entry(alive: bool, at: u64, queries: Value) -> Value {
    json!({
        "hostAlive": alive,
        "lastStatusUpdateMs": at,
        "activeStandbyPerQuery": queries,
        "hostStoreLags": {"stateStoreLags": {}, "updateTimeMs": at}
    })
}
