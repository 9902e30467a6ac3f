//! Reading ahead: while a query processes and writes one batch of an input partition, a reader
//! on the blocking pool fetches and decodes the batches after it, up to [`DEPTH`] ahead, so
//! the two cores decode and process at once without waiting on each other between batches
//! (one batch ahead left a core idle whenever a batch took longer to decode than the last one
//! took to process, or the other way round).
//!
//! The reader stops at the end of what the partition holds (a fetch that finds nothing), after
//! passing on an error, or when the query drops it; the query then reads synchronously and
//! starts a new reader after that batch. Reading ahead never moves the query's positions.

use super::fetch::Fetcher;
use crate::error::Result;
use crate::exec::align::Fetched;

/// Batches decoded ahead of the one being processed.
const DEPTH: usize = 2;

pub(super) struct ReadAhead {
    rx: tokio::sync::mpsc::Receiver<(u64, Result<Fetched>)>,
}

impl ReadAhead {
    /// Reads input partition `g` from `pos` on, ahead of the query.
    pub fn start(fetcher: Fetcher, g: usize, pos: u64) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(DEPTH);
        tokio::task::spawn_blocking(move || {
            let mut pos = pos;
            loop {
                let fetched = fetcher.fetch(g, pos);
                let next = match &fetched {
                    Ok(Some((next, _))) => Some(*next),
                    _ => None,
                };
                if tx.blocking_send((pos, fetched)).is_err() {
                    return;
                }
                match next {
                    Some(next) => pos = next,
                    None => return,
                }
            }
        });
        ReadAhead { rx }
    }

    /// The batch read from `pos`, or `None` when the reader has none for it (it stopped at the
    /// end of the input, or it is elsewhere): the caller reads it itself.
    pub async fn take(&mut self, pos: u64) -> Option<Result<Fetched>> {
        match self.rx.recv().await {
            Some((from, Ok(None))) if from == pos => None,
            Some((from, fetched)) if from == pos => Some(fetched),
            _ => None,
        }
    }
}
