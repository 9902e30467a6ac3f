//! What a running persistent query has done, for EXPLAIN: records read and rows decoded per
//! input, the operator's [`Counters`], records written to the sink, and rates over the last
//! second or two.
//!
//! The query's runner updates its [`Meter`] once per batch (one uncontended lock per batch,
//! none per record) and takes a sample at most once a second; a reader's rates are the change
//! since the older of the last two samples, so they fall to zero once the query goes idle.

use crate::exec::operator::Counters;
use std::sync::Mutex;
use std::time::Instant;

/// Totals since the query (or task) started on this server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// Per input of the query (its source; a join's sources in order): records read.
    pub read: Vec<u64>,
    /// Per input: rows decoded (records read less those the processing log took).
    pub decoded: Vec<u64>,
    /// The operator's counters, as last measured.
    pub counters: Counters,
    /// Records appended to the sink.
    pub written: u64,
}

impl Profile {
    /// `self` plus `o` (tasks of one query).
    pub fn add(&mut self, o: &Profile) {
        for (mine, theirs) in [(&mut self.read, &o.read), (&mut self.decoded, &o.decoded)] {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), 0);
            }
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m += t;
            }
        }
        self.counters = self.counters + o.counters;
        self.written += o.written;
    }
}

/// Rows per second, per figure of a [`Profile`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rates {
    pub read: Vec<f64>,
    pub rows_in: f64,
    pub rows_out: f64,
    pub written: f64,
}

impl Rates {
    /// `self` plus `o` (tasks of one query).
    pub fn add(&mut self, o: &Rates) {
        if self.read.len() < o.read.len() {
            self.read.resize(o.read.len(), 0.0);
        }
        for (m, t) in self.read.iter_mut().zip(&o.read) {
            *m += t;
        }
        self.rows_in += o.rows_in;
        self.rows_out += o.rows_out;
        self.written += o.written;
    }
}

/// A query's profile with its last samples.
#[derive(Debug)]
pub struct Meter {
    inner: Mutex<Sampled>,
}

#[derive(Debug)]
struct Sampled {
    now: Profile,
    last: (Instant, Profile),
    earlier: Option<(Instant, Profile)>,
}

impl Meter {
    pub fn new(inputs: usize) -> Meter {
        let zero = Profile {
            read: vec![0; inputs],
            decoded: vec![0; inputs],
            ..Profile::default()
        };
        Meter {
            inner: Mutex::new(Sampled {
                now: zero.clone(),
                last: (Instant::now(), zero),
                earlier: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sampled> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Input `i` gave `records` records, of which `rows` decoded.
    pub fn read(&self, i: usize, records: u64, rows: u64) {
        let mut s = self.lock();
        if let Some(r) = s.now.read.get_mut(i) {
            *r += records;
        }
        if let Some(d) = s.now.decoded.get_mut(i) {
            *d += rows;
        }
    }

    /// `n` records were appended to the sink.
    pub fn wrote(&self, n: u64) {
        self.lock().now.written += n;
    }

    /// The operator's counters now; a sample is taken when the last is a second old.
    pub fn measure(&self, counters: Counters) {
        let mut s = self.lock();
        s.now.counters = counters;
        if s.last.0.elapsed().as_secs_f64() >= 1.0 {
            let sample = (Instant::now(), s.now.clone());
            s.earlier = Some(std::mem::replace(&mut s.last, sample));
        }
    }

    /// The totals, and the rates since the older of the last two samples.
    pub fn snapshot(&self) -> (Profile, Rates) {
        let s = self.lock();
        let (at, base) = s.earlier.as_ref().unwrap_or(&s.last);
        (
            s.now.clone(),
            rates(&s.now, base, at.elapsed().as_secs_f64()),
        )
    }
}

/// Change per second from `base` to `now` over `secs`.
pub fn rates(now: &Profile, base: &Profile, secs: f64) -> Rates {
    if secs <= 0.0 {
        return Rates::default();
    }
    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
    Rates {
        read: now
            .read
            .iter()
            .zip(base.read.iter().chain(std::iter::repeat(&0)))
            .map(|(a, b)| per(*a, *b))
            .collect(),
        rows_in: per(now.counters.rows_in, base.counters.rows_in),
        rows_out: per(now.counters.rows_out, base.counters.rows_out),
        written: per(now.written, base.written),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_and_rates_are_changes_over_time() {
        let m = Meter::new(2);
        m.read(0, 10, 9);
        m.read(1, 5, 5);
        m.read(0, 2, 2);
        m.wrote(7);
        let (p, _) = m.snapshot();
        assert_eq!(p.read, vec![12, 5]);
        assert_eq!(p.decoded, vec![11, 5]);
        assert_eq!(p.written, 7);
        let mut both = p.clone();
        both.add(&p);
        assert_eq!(both.read, vec![24, 10]);
        assert_eq!(both.written, 14);
        let later = Profile {
            read: vec![112, 5],
            written: 57,
            ..p.clone()
        };
        let r = rates(&later, &p, 2.0);
        assert_eq!(r.read, vec![50.0, 0.0]);
        assert_eq!(r.written, 25.0);
    }
}
