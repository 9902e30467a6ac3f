//! Group commit for `--fsync <n>ms`: appends never wait for the disk. An append marks its
//! partition dirty and returns; one thread per log wakes every interval and forces each dirty
//! partition's active segment to disk through its own handle of the file, outside the
//! partition's lock, so appending and reading go on while the disk works (Kafka's
//! `log.flush.interval.ms` the same way). What a power loss can take is what was appended in
//! the last interval or so, as before; a process crash takes nothing (the page cache survives
//! it). A failed fsync still stops the process ([`durability`](super::durability)).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// Something the syncer forces to disk: a partition.
pub(super) trait Syncable: Send + Sync {
    /// Forces what was appended to disk if anything was since the last call.
    fn sync_now(&self);
}

/// A partition's durability: whether it has data not yet forced to disk, and how far it is.
#[derive(Default)]
pub(super) struct Durable {
    dirty: AtomicBool,
    synced: AtomicU64,
}

impl Durable {
    /// Appended data awaits the next sync.
    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// Takes the dirty mark: whether a sync is due. An append after this marks it again.
    pub fn take_dirty(&self) -> bool {
        self.dirty.swap(false, Ordering::SeqCst)
    }

    /// Records that offsets before `end` are on disk.
    pub fn synced_to(&self, end: u64) {
        self.synced.fetch_max(end, Ordering::SeqCst);
    }

    /// The offset before which every record is known to be on disk.
    pub fn synced(&self) -> u64 {
        self.synced.load(Ordering::SeqCst)
    }
}

/// The partitions of one log and the thread that syncs them.
pub(super) struct GroupCommit {
    members: Mutex<Vec<Weak<dyn Syncable>>>,
}

impl GroupCommit {
    /// Starts the syncer; it stops within an interval of the last handle being dropped.
    pub fn start(interval: Duration) -> Arc<GroupCommit> {
        let gc = Arc::new(GroupCommit {
            members: Mutex::new(Vec::new()),
        });
        let weak = Arc::downgrade(&gc);
        let spawned = std::thread::Builder::new()
            .name("log-fsync".into())
            .spawn(move || loop {
                std::thread::sleep(interval);
                let Some(gc) = weak.upgrade() else { return };
                for m in gc.live() {
                    m.sync_now();
                }
            });
        if let Err(e) = spawned {
            tracing::error!("log: cannot start the fsync thread ({e}); appends sync at rolls only");
        }
        gc
    }

    pub fn add(&self, member: Weak<dyn Syncable>) {
        self.members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(member);
    }

    /// The members still alive (deleted partitions are forgotten).
    fn live(&self) -> Vec<Arc<dyn Syncable>> {
        let mut members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        members.retain(|m| m.strong_count() > 0);
        members.iter().filter_map(Weak::upgrade).collect()
    }
}
