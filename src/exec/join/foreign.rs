//! Foreign-key table-table joins: the left table's rows join the right table's row whose key
//! is their foreign key; the result is keyed by the left table's key. A change on the left
//! emits that row's result; a change on the right emits the result of every left row that
//! refers to it. A result that stops existing (INNER: the right row went away; either: the
//! left row was deleted) is a tombstone. Deleting a left row that has a foreign key emits a
//! tombstone even when it had no INNER result, as Kafka Streams' foreign-key join does
//! (`SubscriptionSendProcessorSupplier`: `DELETE_KEY_AND_PROPAGATE`).

use super::{exists, push, upsert, Input, Joiner, Out, Prepared};
use datafusion::arrow::array::Array;

impl Joiner {
    /// A change of the left table: its row keyed by its result key, joined with the right
    /// row its foreign key (`r.key`, if `has_fk`) names.
    pub(super) fn left_change(
        &mut self,
        r: &Input,
        p: &Prepared,
        i: usize,
        has_fk: bool,
        out: &mut Out,
    ) {
        let (ts, origin, tombstone) = (r.ts, r.origin, r.tombstone);
        let Some((result_rows, result_keys)) = &p.result_keys else {
            return;
        };
        if result_keys.is_null(i) {
            return;
        }
        let key = result_rows.row(i);
        let pk: &[u8] = key.as_ref();
        let kind = self.plan.kind;
        let had = self.sides[0].table.contains_key(pk);
        let old_fk = self.foreign.remove(pk);
        let matched = old_fk
            .as_ref()
            .is_some_and(|f| self.sides[1].table.contains_key(f));
        let before = exists(kind, had, matched);
        if let Some(f) = &old_fk {
            if let Some(list) = self.referrers.get_mut(f) {
                list.retain(|k| k.as_ref() != pk);
                if list.is_empty() {
                    self.referrers.remove(f);
                }
            }
        }
        if tombstone {
            // Kafka Streams' DELETE_KEY_AND_PROPAGATE: deleting a row that had a result, or
            // that an INNER join may have had (its foreign key was set), emits a tombstone
            // even when no result exists now; readers of the result topic may hold an
            // older one.
            self.sides[0].table.remove(pk);
            if before || (had && old_fk.is_some()) {
                self.push_gone(out, ts, origin, key);
            }
            return;
        }
        let fk: Option<Box<[u8]>> = has_fk.then(|| r.key.as_ref().into());
        upsert(&mut self.sides[0].table, pk, ts, r.row);
        if let Some(f) = &fk {
            self.foreign.insert(pk.into(), f.clone());
            self.referrers.entry(f.clone()).or_default().push(pk.into());
        }
        let right = fk.as_ref().and_then(|f| self.sides[1].table.get(f));
        if exists(kind, true, right.is_some()) {
            let right_row = right.map_or(self.sides[1].nulls.row(), |t| t.row.row());
            let ts = right.map_or(ts, |t| t.ts.max(ts));
            push(out, ts, origin, false, key, r.row, right_row);
        } else if before {
            self.push_gone(out, ts, origin, key);
        }
    }

    /// A change of the right table: every left row referring to its key gets its new result.
    pub(super) fn right_change(&mut self, r: &Input, out: &mut Out) {
        let (ts, origin, tombstone) = (r.ts, r.origin, r.tombstone);
        let f: &[u8] = r.key.as_ref();
        let kind = self.plan.kind;
        let had = self.sides[1].table.contains_key(f);
        if tombstone {
            if self.sides[1].table.remove(f).is_none() {
                return;
            }
        } else {
            upsert(&mut self.sides[1].table, f, ts, r.row);
        }
        let (before, now) = (exists(kind, true, had), exists(kind, true, !tombstone));
        let Some(referrers) = self.referrers.get(f) else {
            return;
        };
        for pk in referrers {
            let Some(left) = self.sides[0].table.get(pk) else {
                continue;
            };
            let key = self.key_parser.parse(pk);
            if now {
                let r = match self.sides[1].table.get(f) {
                    Some(r) => r.row.row(),
                    None => self.sides[1].nulls.row(),
                };
                push(out, ts.max(left.ts), origin, false, key, left.row.row(), r);
            } else if before {
                self.push_gone(out, ts, origin, key);
            }
        }
    }
}
