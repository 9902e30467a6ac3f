//! The heartbeats servers of a service send to `_confluent-ksql-<service id>_brooklet_servers`
//! (see `server::cluster`, which sends them and lists them in `/clusterStatus`): read here for
//! both that listing and TERMINATE's wait for the other servers (`engine::repartition`).

use crate::log::{Log, LogError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long after its last heartbeat a server counts as alive.
pub const ALIVE_FOR: Duration = Duration::from_secs(3);

/// Reads `topic` on from offset `from` into `hosts` (each server's last heartbeat, by address;
/// a tombstone forgets one); the offset to read on from next time.
pub fn read_on(
    log: &dyn Log,
    topic: &str,
    from: u64,
    hosts: &mut BTreeMap<String, Value>,
) -> Result<u64, LogError> {
    let mut next = from;
    crate::log::read_to_end(log, topic, 0, from, 4096, |fetch| {
        for r in fetch.records() {
            next = r.offset + 1;
            let Some(addr) = r.key.and_then(|k| std::str::from_utf8(k).ok()) else {
                continue;
            };
            match r.value.map(serde_json::from_slice::<Value>) {
                Some(Ok(beat)) => {
                    hosts.insert(addr.to_string(), beat);
                }
                None => {
                    hosts.remove(addr);
                }
                Some(Err(_)) => {}
            }
        }
        Ok::<_, LogError>(())
    })?;
    Ok(next)
}
