//! Foreign-key table-table joins: the left table's rows join the right table's row whose key
//! is their foreign key; the result is keyed by the left table's key. A change on the left
//! emits that row's result; a change on the right emits the result of every left row that
//! refers to it. A result that stops existing (INNER: the right row went away; either: the
//! left row was deleted) is a tombstone.

use super::{exists, push, Joiner, Out, Prepared, TableRow};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Int32Type, Int64Type};

impl Joiner {
    pub(super) fn foreign_key(&mut self, side: usize, p: &Prepared, i: usize, out: &mut Out) {
        let ts = p.batch.column(0).as_primitive::<Int64Type>().value(i);
        let origin = (
            p.batch.column(1).as_primitive::<Int32Type>().value(i) + p.base,
            p.batch.column(2).as_primitive::<Int64Type>().value(i),
        );
        self.last_origin = origin;
        let tombstone = p.batch.column(3).as_boolean().value(i);
        if side == 0 {
            self.left_change(p, i, ts, origin, tombstone, out);
        } else {
            self.right_change(p, i, ts, origin, tombstone, out);
        }
    }

    fn left_change(
        &mut self,
        p: &Prepared,
        i: usize,
        ts: i64,
        origin: (i32, i64),
        tombstone: bool,
        out: &mut Out,
    ) {
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
            self.sides[0].table.remove(pk);
            if before {
                self.push_gone(out, ts, origin, key);
            }
            return;
        }
        let fk =
            (!p.keys.is_null(i)).then(|| p.key_rows.row(i).as_ref().to_vec().into_boxed_slice());
        self.sides[0].table.insert(
            pk.into(),
            TableRow {
                ts,
                row: p.rows.row(i).owned(),
            },
        );
        if let Some(f) = &fk {
            self.foreign.insert(pk.into(), f.clone());
            self.referrers.entry(f.clone()).or_default().push(pk.into());
        }
        let right = fk.as_ref().and_then(|f| self.sides[1].table.get(f));
        if exists(kind, true, right.is_some()) {
            let r = right.map_or(self.sides[1].nulls.row(), |r| r.row.row());
            let ts = right.map_or(ts, |r| r.ts.max(ts));
            push(out, ts, origin, false, key, p.rows.row(i), r);
        } else if before {
            self.push_gone(out, ts, origin, key);
        }
    }

    fn right_change(
        &mut self,
        p: &Prepared,
        i: usize,
        ts: i64,
        origin: (i32, i64),
        tombstone: bool,
        out: &mut Out,
    ) {
        if p.keys.is_null(i) {
            return;
        }
        let f: &[u8] = p.key_rows.row(i).data();
        let kind = self.plan.kind;
        let had = self.sides[1].table.contains_key(f);
        if tombstone {
            if self.sides[1].table.remove(f).is_none() {
                return;
            }
        } else {
            self.sides[1].table.insert(
                f.into(),
                TableRow {
                    ts,
                    row: p.rows.row(i).owned(),
                },
            );
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
