//! Kafka transactions for queries' outputs, with `processing.guarantee=exactly_once_v2` (or
//! `exactly_once`), as ksqlDB's setting names it. Each query (its origin producer) writes
//! through a transactional producer of its own, `transactional.id` `<service id>brooklet-<query
//! producer>`: the outputs appended since the query's last commit and the commit record itself
//! (in the offsets topic) are one transaction, so a reader sees both or neither. A server taking
//! a query over initializes the same transactional id before reading the query's committed
//! positions, which fences the previous owner: its open transaction is aborted and its next
//! write fails, and the fenced process stops (the lease's exit status). Without the setting,
//! exactly-once rests on the origin headers alone (see the parent module).

use super::{kafka_err, lease::LEASE_LOST_EXIT, lock, Shared};
use crate::log::LogResult;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, Producer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A query's transactional producer and whether a transaction is open.
pub(super) struct Txn {
    pub producer: FutureProducer,
    pub open: bool,
}

#[derive(Default)]
pub(super) struct Txns {
    by_producer: Mutex<HashMap<u64, Arc<Mutex<Txn>>>>,
}

impl Txns {
    /// The producer of query producer `p`, made and initialized (fencing any earlier one) on
    /// first use.
    pub(super) fn get(&self, s: &Shared, p: u64) -> LogResult<Arc<Mutex<Txn>>> {
        if let Some(t) = lock(&self.by_producer).get(&p) {
            return Ok(t.clone());
        }
        let id = format!("{}brooklet-{p:016x}", s.config.service_id);
        tracing::info!(transactional_id = %id, "a query's outputs are written in transactions");
        let producer: FutureProducer = ClientConfig::clone(&s.client)
            .set("transactional.id", &id)
            .set("acks", "all")
            .set("linger.ms", "5")
            .create()
            .map_err(kafka_err)?;
        producer
            .init_transactions(s.timeout)
            .map_err(|e| fenced_or(e, "initializing the query's transactions"))?;
        let t = Arc::new(Mutex::new(Txn {
            producer,
            open: false,
        }));
        lock(&self.by_producer).insert(p, t.clone());
        Ok(t)
    }

    /// The producer of `p` with a transaction open, if one is.
    pub(super) fn open(&self, p: u64) -> Option<Arc<Mutex<Txn>>> {
        let t = lock(&self.by_producer).get(&p).cloned()?;
        let open = lock(&t).open;
        open.then_some(t)
    }
}

impl Txn {
    /// Opens a transaction unless one is open.
    pub(super) fn begin(&mut self) -> LogResult<()> {
        if !self.open {
            self.producer
                .begin_transaction()
                .map_err(|e| fenced_or(e, "beginning a transaction"))?;
            self.open = true;
        }
        Ok(())
    }

    /// Commits the open transaction; a failed one is aborted (its outputs are never seen, and
    /// the query's positions stay where they were committed before).
    pub(super) fn commit(&mut self, s: &Shared) -> LogResult<()> {
        self.open = false;
        match self.producer.commit_transaction(s.timeout) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.producer.abort_transaction(s.timeout);
                Err(fenced_or(e, "committing a transaction"))
            }
        }
    }
}

/// A transaction error as the log's; a fatal one (this producer was fenced: another server owns
/// the query now) stops the process, as a lost lease does.
fn fenced_or(e: KafkaError, doing: &str) -> crate::log::LogError {
    if let KafkaError::Transaction(t) = &e {
        if t.is_fatal() {
            tracing::error!("{doing}: {e}: another server took this query over; stopping");
            std::process::exit(LEASE_LOST_EXIT);
        }
    }
    kafka_err(e)
}
