//! How a stateful persistent query gets its state back after a restart: its last checkpoint,
//! then its input replayed from the checkpoint's positions up to the committed ones, emitting
//! nothing (those outputs were written).
//!
//! The end of a bounded input (a *flush*: open windows close, stream time ends) is an event of
//! the query's history like its records: the n-th flush's outputs carry the origin
//! ([`FLUSH_ORIGIN`], n), and the commit after them records n and the input positions it
//! happened at. A checkpoint records how many flushes its state includes, so a replay that
//! passes the last flush's positions without them applies it there (muted). Without this, a
//! crash between a flush and its checkpoint reopened windows already emitted (emitted twice
//! later), and a crash before a flush made the flush's outputs look like outputs of records
//! processed before the crash (never written).

use super::align::{Aligner, Slice};
use super::persistent::{partition_bases, producer_id, Fetcher, QuerySpec};
use super::{Processor, BATCH};
use crate::error::Result;
use crate::log::GroupOffsets;

/// The committed entries of the last flush: `(FLUSH_MARK, g, position)` per input partition
/// `g`, and `(FLUSH_MARK, FLUSH_ORIGIN, n)`, its number.
const FLUSH_MARK: &str = "!flush";
/// The origin partition of a flush's outputs (their origin offset is the flush's number).
pub(super) const FLUSH_ORIGIN: u32 = u32::MAX;
/// Mixed into a checkpoint's fingerprint: a checkpoint of an older layout is not read.
const CHECKPOINT_LAYOUT: u64 = 2;

/// A decoded checkpoint.
pub(super) struct Checkpoint<'a> {
    pub positions: Vec<u64>,
    /// The number of flushes the state includes.
    pub flushes: u64,
    pub state: &'a [u8],
}

fn fingerprint(statement: &str) -> u64 {
    producer_id(statement) ^ CHECKPOINT_LAYOUT
}

/// A checkpoint: the statement's fingerprint, the number of flushes, the input positions the
/// state corresponds to, then the operator's state.
pub(super) fn encode_checkpoint(
    statement: &str,
    positions: &[u64],
    flushes: u64,
    state: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(state.len() + 20 + 8 * positions.len());
    out.extend_from_slice(&fingerprint(statement).to_le_bytes());
    out.extend_from_slice(&flushes.to_le_bytes());
    out.extend_from_slice(&(positions.len() as u32).to_le_bytes());
    for p in positions {
        out.extend_from_slice(&p.to_le_bytes());
    }
    out.extend_from_slice(state);
    out
}

/// The checkpoint of `statement` in `data`, if it is one.
pub(super) fn decode_checkpoint<'a>(statement: &str, data: &'a [u8]) -> Option<Checkpoint<'a>> {
    let u64_at = |at: usize| Some(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?));
    if u64_at(0)? != fingerprint(statement) {
        return None;
    }
    let flushes = u64_at(8)?;
    let n = u32::from_le_bytes(data.get(16..20)?.try_into().ok()?) as usize;
    let positions = (0..n)
        .map(|i| u64_at(20 + 8 * i))
        .collect::<Option<Vec<u64>>>()?;
    Some(Checkpoint {
        positions,
        flushes,
        state: data.get(20 + 8 * n..)?,
    })
}

/// The entries to commit with the `n`-th flush, which happened at `positions`.
pub(super) fn flush_commit(n: u64, positions: &[u64]) -> GroupOffsets {
    let mut out: GroupOffsets = positions
        .iter()
        .enumerate()
        .map(|(g, p)| (FLUSH_MARK.to_string(), g as u32, *p))
        .collect();
    out.push((FLUSH_MARK.to_string(), FLUSH_ORIGIN, n));
    out
}

/// The last committed flush: its number and the input positions it happened at.
pub(super) fn committed_flush(committed: &GroupOffsets, inputs: usize) -> Option<(u64, Vec<u64>)> {
    let mut n = None;
    let mut at = vec![None; inputs];
    for (_, p, o) in committed.iter().filter(|(t, _, _)| t == FLUSH_MARK) {
        match at.get_mut(*p as usize) {
            Some(slot) => *slot = Some(*o),
            None if *p == FLUSH_ORIGIN => n = Some(*o),
            None => {}
        }
    }
    Some((n?, at.into_iter().collect::<Option<Vec<u64>>>()?))
}

/// Rebuilds a stateful query's state: the last checkpoint, then the input replayed up to the
/// committed `positions` (in event-time order across inputs, as when running), with the last
/// committed flush applied where it happened if the checkpoint does not include it. Returns the
/// number of flushes the state includes.
pub(super) fn rebuild(
    processor: &mut Processor,
    spec: &QuerySpec,
    fetcher: &Fetcher,
    positions: &[u64],
    flush: Option<(u64, Vec<u64>)>,
) -> Result<u64> {
    let mut from = vec![0u64; positions.len()];
    let mut flushes = 0;
    if let Some(data) = spec.state.load(&spec.key())? {
        match decode_checkpoint(&spec.statement, &data) {
            Some(c) if not_after(&c.positions, positions) => match processor.restore(c.state) {
                Ok(()) => (from, flushes) = (c.positions, c.flushes),
                Err(e) => {
                    tracing::warn!(query = %spec.id, "ignoring checkpoint: {e}");
                    *processor = Processor::new(&spec.plan)?;
                    processor.set_partition_bases(&partition_bases(&fetcher.parts));
                }
            },
            _ => {
                tracing::warn!(query = %spec.id, "ignoring a checkpoint of another statement or input")
            }
        }
    }
    let muted = fetcher.muted();
    if let Some((n, at)) = flush.filter(|(n, _)| *n > flushes) {
        if not_after(&from, &at) && not_after(&at, positions) {
            replay(processor, &muted, &mut from, &at)?;
            processor.flush(&muted.plog, &spec.id)?;
            flushes = n;
        } else {
            tracing::warn!(query = %spec.id, "ignoring a flush marker outside the replayed input");
        }
    }
    let replayed: u64 = positions.iter().zip(&from).map(|(p, f)| p - f.min(p)).sum();
    tracing::info!(
        task = %spec.key(),
        from_checkpoint = from.iter().any(|f| *f > 0),
        replayed,
        "state rebuilt"
    );
    replay(processor, &muted, &mut from, positions)?;
    Ok(flushes)
}

/// Whether every position of `a` is at or before the same one of `b`.
fn not_after(a: &[u64], b: &[u64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x <= y)
}

/// Processes the input from `from` up to `to` without emitting; `from` ends at `to`.
fn replay(processor: &mut Processor, muted: &Fetcher, from: &mut [u64], to: &[u64]) -> Result<()> {
    let mut aligner = Aligner::new(to.len());
    while let Some(slices) = aligner.round(from, |g, pos| {
        let want = to[g].saturating_sub(pos).min(BATCH as u64) as usize;
        if want == 0 {
            return Ok(None);
        }
        muted.fetch_until(g, pos, want, to[g])
    })? {
        let batches: Vec<(usize, Slice)> = slices
            .into_iter()
            .map(|s| (muted.parts[s.g].0, s))
            .collect();
        processor.replay(&batches)?;
    }
    Ok(())
}

/// Stops the process at a named point when a debug build's `BROOKLET_FAULT_CRASH_AT` names it
/// (as SIGKILL would, without cleanup): tests put a crash exactly there.
pub(super) fn crash_point(name: &str) {
    if cfg!(debug_assertions) && std::env::var("BROOKLET_FAULT_CRASH_AT").is_ok_and(|at| at == name)
    {
        eprintln!("brooklet: crash point {name}");
        std::process::exit(137);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_refuse_other_statements() {
        let data = encode_checkpoint("SELECT 1", &[3, 7], 2, b"state");
        let c = decode_checkpoint("SELECT 1", &data).unwrap();
        assert_eq!(
            (c.positions, c.flushes, c.state),
            (vec![3, 7], 2, &b"state"[..])
        );
        assert!(decode_checkpoint("SELECT 2", &data).is_none());
        assert!(decode_checkpoint("SELECT 1", &data[..20]).is_none());
    }

    #[test]
    fn the_last_flush_is_read_back_from_the_committed_entries() {
        let mut committed = vec![("t".to_string(), 0, 9)];
        assert_eq!(committed_flush(&committed, 2), None);
        committed.extend(flush_commit(1, &[4, 5]));
        assert_eq!(committed_flush(&committed, 2), Some((1, vec![4, 5])));
        // A query over other inputs (a changed statement) has no flush of its own.
        assert_eq!(committed_flush(&committed, 3), None);
    }
}
