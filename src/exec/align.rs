//! Reading several inputs in event-time order (a join's two sources): of the decoded batches at
//! the head of each input partition, the rows are taken in timestamp order, as Kafka Streams
//! picks the partition with the smallest head timestamp. An input with nothing to read does
//! not hold the others back.

use crate::error::Result;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use std::sync::Arc;

/// A decoded batch being taken apart, and the input position after it.
struct Head {
    batch: Arc<RecordBatch>,
    id: u64,
    cursor: usize,
    next: u64,
}

/// Rows `start..start + len` of a decoded batch of input partition `g`. The batch is whole, so
/// that an operator can prepare it once for all its slices; `id` tells batches apart.
#[derive(Clone)]
pub struct Slice {
    pub g: usize,
    pub id: u64,
    /// Shared by the slices of one batch (a clone is a reference count, not a copy).
    pub batch: Arc<RecordBatch>,
    pub start: usize,
    pub len: usize,
}

impl Slice {
    /// A whole batch, not shared with other slices.
    pub fn whole(g: usize, batch: RecordBatch) -> Self {
        Slice {
            g,
            id: u64::MAX,
            len: batch.num_rows(),
            batch: Arc::new(batch),
            start: 0,
        }
    }
    pub fn rows(&self) -> RecordBatch {
        self.batch.slice(self.start, self.len)
    }
}

impl Head {
    fn ts(&self, row: usize) -> i64 {
        self.batch.column(0).as_primitive::<Int64Type>().value(row)
    }
    fn offset(&self, row: usize) -> u64 {
        self.batch.column(2).as_primitive::<Int64Type>().value(row) as u64
    }
}

/// What a fetch gives: the position after the records read, and their decoded rows (none when
/// nothing could be decoded); `None` when the partition has nothing to read.
pub type Fetched = Option<(u64, Option<RecordBatch>)>;

#[derive(Default)]
pub struct Aligner {
    heads: Vec<Option<Head>>,
    next_id: u64,
}

impl Aligner {
    pub fn new(partitions: usize) -> Self {
        Aligner {
            heads: (0..partitions).map(|_| None).collect(),
            next_id: 0,
        }
    }

    /// The next rows to process, in timestamp order, as slices of input partitions' batches:
    /// (partition, rows). A round ends when a partition's batch is used up (its next batch is
    /// needed to go on in order). `positions` advance to the first row not taken. `None` when
    /// there was nothing to read.
    pub fn round(
        &mut self,
        positions: &mut [u64],
        mut fetch: impl FnMut(usize, u64) -> Result<Fetched>,
    ) -> Result<Option<Vec<Slice>>> {
        let mut progressed = false;
        for (g, head) in self.heads.iter_mut().enumerate() {
            if head.is_some() {
                continue;
            }
            match fetch(g, positions[g])? {
                Some((next, Some(batch))) if batch.num_rows() > 0 => {
                    self.next_id += 1;
                    *head = Some(Head {
                        batch: Arc::new(batch),
                        id: self.next_id,
                        cursor: 0,
                        next,
                    })
                }
                Some((next, _)) => {
                    positions[g] = next;
                    progressed = true;
                }
                None => {}
            }
        }
        let mut slices = Vec::new();
        loop {
            // Rows go in (timestamp, partition) order: the partition whose next row is first
            // gives rows until the runner-up's next row comes first. The order is a function
            // of the partitions' contents alone (not of batch boundaries), so a replay after a
            // restart repeats it exactly.
            let (mut first, mut bound) = (None, (i64::MAX, usize::MAX));
            for (g, h) in self.heads.iter().enumerate() {
                let Some(h) = h else { continue };
                let at = (h.ts(h.cursor), g);
                match first {
                    Some(f) if f < at => bound = bound.min(at),
                    Some(f) => {
                        bound = bound.min(f);
                        first = Some(at);
                    }
                    None => first = Some(at),
                }
            }
            let Some((_, g)) = first else { break };
            let Some(h) = self.heads[g].as_mut() else {
                break;
            };
            let start = h.cursor;
            let mut end = start + 1;
            while end < h.batch.num_rows() && (h.ts(end), g) < bound {
                end += 1;
            }
            slices.push(Slice {
                g,
                id: h.id,
                batch: h.batch.clone(),
                start,
                len: end - start,
            });
            h.cursor = end;
            if end == h.batch.num_rows() {
                positions[g] = h.next;
                self.heads[g] = None;
                break;
            }
            positions[g] = h.offset(end);
        }
        Ok((progressed || !slices.is_empty()).then_some(slices))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch(ts: &[i64], first_offset: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("ROWTIME", DataType::Int64, false),
            Field::new("P", DataType::Int64, false),
            Field::new("ROWOFFSET", DataType::Int64, false),
        ]));
        let offsets: Vec<i64> = (0..ts.len() as i64).map(|i| first_offset + i).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(ts.to_vec())),
                Arc::new(Int64Array::from(vec![0; ts.len()])),
                Arc::new(Int64Array::from(offsets)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn rows_come_in_timestamp_order_across_partitions() {
        let mut a = Aligner::new(2);
        let mut positions = vec![0, 0];
        let mut data = [Some(batch(&[1, 5, 6, 9], 0)), Some(batch(&[2, 3, 7], 0))];
        let mut taken = Vec::new();
        loop {
            let round = a
                .round(&mut positions, |g, pos| {
                    Ok(data[g].take().map(|b| (pos + b.num_rows() as u64, Some(b))))
                })
                .unwrap();
            let Some(slices) = round else { break };
            for s in slices {
                let rows = s.rows();
                let ts = rows.column(0).as_primitive::<Int64Type>();
                taken.extend(ts.values().iter().map(|t| (s.g, *t)));
            }
        }
        assert_eq!(
            taken,
            vec![(0, 1), (1, 2), (1, 3), (0, 5), (0, 6), (1, 7), (0, 9)]
        );
        assert_eq!(positions, vec![4, 3]);
    }

    #[test]
    fn a_round_stops_where_a_batch_ends_and_positions_point_past_what_was_taken() {
        let mut a = Aligner::new(2);
        let mut positions = vec![10, 20];
        let mut data = [Some(batch(&[1, 2], 10)), Some(batch(&[1, 5, 8], 20))];
        let slices = a
            .round(&mut positions, |g, pos| {
                Ok(data[g].take().map(|b| (pos + b.num_rows() as u64, Some(b))))
            })
            .unwrap()
            .unwrap();
        // 1 (p0), 1 (p1), 2 (p0); partition 0's batch ends there: its next batch may hold
        // rows before 5.
        assert_eq!(slices.len(), 3);
        assert_eq!(positions, vec![12, 21]);
    }
}
