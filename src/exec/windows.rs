//! Window assignment: tumbling and hopping windows (fixed size, aligned to the epoch) and
//! session windows (per key, merged when a record falls within the inactivity gap of several).

use crate::sql::ast::{WindowKind, WindowSpec};

/// ksqlDB's grace period when a window does not give one.
pub const DEFAULT_GRACE_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy)]
pub enum Windows {
    /// Tumbling (advance = size) and hopping windows: `[start, start + size)`.
    Time { size: i64, advance: i64, grace: i64 },
    /// Session windows: `[first, last]` record times of a burst with gaps under `gap`.
    Session { gap: i64, grace: i64 },
}

impl Windows {
    pub fn new(spec: &WindowSpec) -> Windows {
        let grace = spec.grace_ms.unwrap_or(DEFAULT_GRACE_MS);
        match spec.kind {
            WindowKind::Tumbling { size_ms } => Windows::Time {
                size: size_ms,
                advance: size_ms,
                grace,
            },
            WindowKind::Hopping {
                size_ms,
                advance_ms,
            } => Windows::Time {
                size: size_ms,
                advance: advance_ms,
                grace,
            },
            WindowKind::Session { gap_ms } => Windows::Session { gap: gap_ms, grace },
        }
    }

    /// The starts of the time windows `ts` falls in, ascending (no negative starts).
    pub fn starts(size: i64, advance: i64, ts: i64, out: &mut Vec<i64>) {
        out.clear();
        let mut s = ts - ts.rem_euclid(advance);
        while s > ts - size && s >= 0 {
            out.push(s);
            s -= advance;
        }
        out.reverse();
    }

    /// When a window ending at `end` closes: no record can change it once stream time
    /// reaches this (Kafka Streams: end + grace for time windows; end + gap + grace for
    /// sessions, since a record up to `gap` later still extends the session).
    pub fn close_time(&self, end: i64) -> i64 {
        match *self {
            Windows::Time { grace, .. } => end.saturating_add(grace),
            Windows::Session { gap, grace } => end.saturating_add(gap).saturating_add(grace),
        }
    }
}

/// One session of a key: its bounds and the index of its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub start: i64,
    pub end: i64,
}

impl Session {
    /// Whether a record at `ts` joins this session.
    pub fn reaches(&self, ts: i64, gap: i64) -> bool {
        self.end >= ts.saturating_sub(gap) && self.start <= ts.saturating_add(gap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hopping_starts_cover_the_timestamp() {
        let mut out = Vec::new();
        Windows::starts(10, 2, 13, &mut out);
        assert_eq!(out, vec![4, 6, 8, 10, 12]);
        Windows::starts(10, 10, 13, &mut out);
        assert_eq!(out, vec![10]);
        // No window starts before the epoch.
        Windows::starts(10, 2, 3, &mut out);
        assert_eq!(out, vec![0, 2]);
    }

    #[test]
    fn sessions_join_within_the_gap() {
        let s = Session { start: 0, end: 0 };
        assert!(s.reaches(700, 1000));
        assert!(s.reaches(1000, 1000));
        assert!(!s.reaches(1500, 1000));
        let w = Windows::Session {
            gap: 1000,
            grace: 5,
        };
        assert_eq!(w.close_time(1500), 2505);
    }
}
