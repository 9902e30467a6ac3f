//! The service's lease: which server of a `ksql.service.id` runs the service's connectors
//! (queries are shared out partition by partition instead: `exec::persistent::split`).
//!
//! Every server of the service joins one consumer group (`_confluent-ksql-<service
//! id>_brooklet_leader`) over the command topic, which has one partition (`group`): the member
//! given that partition holds the lease. The others wait, and one of them is given the
//! partition when the holder leaves or stops heartbeating (its session times out). A holder
//! that loses the lease stops at once (exit status [`LEASE_LOST_EXIT`]): another server is
//! starting its connectors, and two would load their input twice. The lease is fenced by the
//! group's session only: a holder frozen for longer than `session.timeout.ms` that wakes
//! before it notices can write once more.

use super::KafkaLog;
use crate::log::{GroupListener, GroupMember, LogResult};
use std::sync::{Arc, Mutex};

/// The exit status of a server whose lease was taken over (EX_TEMPFAIL: start it again and it
/// waits as a standby).
pub const LEASE_LOST_EXIT: i32 = 75;

#[derive(Default)]
struct Held {
    now: bool,
    /// Given back on purpose: a revocation is then no loss.
    closing: bool,
}

/// The lease held, and the group membership keeping it.
pub(super) struct Lease {
    held: Arc<Mutex<Held>>,
    member: GroupMember,
}

impl Lease {
    /// Leaves the group, so another server takes over at once rather than after this one's
    /// session times out.
    pub(super) fn release(self) {
        lock(&self.held).closing = true;
        drop(self.member);
    }
}

fn lock(m: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct LeaseListener(Arc<Mutex<Held>>);

impl GroupListener for LeaseListener {
    fn assigned(&self, partitions: &[u32]) {
        if partitions.contains(&0) {
            lock(&self.0).now = true;
        }
    }

    fn revoked(&self, partitions: &[u32]) {
        let held = lock(&self.0);
        if partitions.contains(&0) && held.now && !held.closing {
            tracing::error!(
                "this server lost the service's lease to another server; stopping so that \
                 only one runs its connectors"
            );
            std::process::exit(LEASE_LOST_EXIT);
        }
    }
}

/// Joins the service's lease group; the lease may come later (see [`Lease::held`]).
pub(super) fn join(log: &KafkaLog) -> LogResult<Lease> {
    let config = &log.shared.config;
    let held = Arc::new(Mutex::new(Held::default()));
    let listener = Arc::new(LeaseListener(held.clone()));
    let member = super::group::join(
        log,
        &config.leader_group(),
        &config.command_topic(),
        listener,
    )?;
    Ok(Lease { held, member })
}

impl Lease {
    /// Whether this process holds the lease now.
    pub(super) fn held(&self) -> bool {
        lock(&self.held).now
    }
}
