//! Writes of a running query that must not fail for lack of room: appends and commits wait
//! while the disk is full (the query shows ERROR with the reason) and go on where they stopped.

use super::{Error, LogResult, QueryState, Result, Runner, SharedLog};

impl Runner {
    /// Commits the query's positions, with the outputs appended since the last commit where
    /// the log has transactions (see [`durable`](Self::durable)).
    pub(super) async fn commit(&self, offsets: &[(String, u32, u64)]) -> Result<()> {
        let (group, producer) = (&self.group, self.producer);
        self.durable(|log| log.commit_outputs(group, producer, offsets))
            .await
    }

    /// Runs a write to the log, waiting while the disk is full: meanwhile the query is in
    /// ERROR with the reason, and once there is room it goes on where it stopped (a failed
    /// append leaves nothing behind, so nothing is skipped or written twice).
    pub(super) async fn durable<T>(
        &self,
        mut op: impl FnMut(&SharedLog) -> LogResult<T>,
    ) -> Result<T> {
        let mut waiting = false;
        loop {
            match op(&self.log) {
                Ok(v) => {
                    if waiting {
                        tracing::warn!(query = %self.spec.id, "there is room again: resuming");
                        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = QueryState::Running;
                    }
                    return Ok(v);
                }
                Err(e) if e.is_full() => {
                    if !waiting {
                        let msg = format!("paused: {e}; the query resumes when there is room");
                        tracing::error!(query = %self.spec.id, "{msg}");
                        *self.state.lock().unwrap_or_else(|e| e.into_inner()) =
                            QueryState::Error(msg);
                        waiting = true;
                    }
                    if *self.stopping.borrow() {
                        return Err(Error::generic("stopped while the disk was full"));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Retries the checkpoint after a flush until it is saved (the disk may be full: the query
    /// waits in ERROR); false if the query was stopped meanwhile.
    pub(super) async fn checkpoint_until_saved(&mut self, positions: &[u64]) -> bool {
        loop {
            if *self.stopping.borrow() {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            match self.checkpoint(positions) {
                Ok(()) => {
                    *self.state.lock().unwrap_or_else(|e| e.into_inner()) = QueryState::Running;
                    return true;
                }
                Err(e) => {
                    *self.state.lock().unwrap_or_else(|e| e.into_inner()) = QueryState::Error(
                        format!("paused: the checkpoint after the end of the input failed: {e}"),
                    )
                }
            }
        }
    }
}
