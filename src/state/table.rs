//! A materialized table: the latest row of every key, built from the table's topic (its
//! changelog) and kept current by reading what was appended since. Pull queries read it.
//!
//! Rows are kept decoded, in Arrow's row format, in a hash map keyed by the row-encoded key
//! columns (so a lookup does not depend on how a producer spelled the key's bytes); a windowed
//! table keeps, per key, its windows ordered by (start, end). A null value deletes its key (or
//! its window). The store advances only to positions given by its caller, which are the ends of
//! the writing query's committed batches: a reader never sees half of one input record's
//! changes.

use crate::catalog::{Source, PSEUDO_COLUMNS};
use crate::error::Result;
use crate::exec::decode;
use crate::exec::processing_log::ProcessingLog;
use crate::log::Log;
use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int64Type, SchemaRef};
use datafusion::arrow::row::{RowConverter, RowParser, Rows, SortField};
use hashbrown::HashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Records read from the topic per step while catching up.
const STEP: usize = 8192;

/// A windowed key's rows by (window start, window end).
type Windows = BTreeMap<(i64, i64), Box<[u8]>>;

pub struct TableStore {
    /// The definition the store was built for (a replaced table gets a new store).
    pub source: Arc<Source>,
    schema: SchemaRef,
    rows_conv: RowConverter,
    rows_parser: RowParser,
    key_conv: RowConverter,
    /// Next offset to read, per partition.
    positions: Vec<u64>,
    rows: HashMap<Box<[u8]>, Box<[u8]>>,
    windows: HashMap<Box<[u8]>, Windows>,
}

impl TableStore {
    pub fn new(source: Arc<Source>) -> Result<TableStore> {
        let schema = source.row_schema();
        let fields = |range: std::ops::Range<usize>| -> Vec<SortField> {
            schema.fields()[range]
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect()
        };
        let keys = source.keys().count();
        let rows_conv = RowConverter::new(fields(0..schema.fields().len()))?;
        let key_conv = RowConverter::new(fields(PSEUDO_COLUMNS..PSEUDO_COLUMNS + keys))?;
        Ok(TableStore {
            rows_parser: rows_conv.parser(),
            rows_conv,
            key_conv,
            schema,
            source,
            positions: Vec::new(),
            rows: HashMap::new(),
            windows: HashMap::new(),
        })
    }

    /// Applies the topic's records up to `bound` (next offset per partition).
    pub fn catch_up(&mut self, log: &dyn Log, plog: &ProcessingLog, bound: &[u64]) -> Result<()> {
        if self.positions.len() < bound.len() {
            self.positions.resize(bound.len(), 0);
        }
        let needed = vec![true; self.source.values().count()];
        let id = format!("pull_{}", self.source.name);
        for (p, &end) in bound.iter().enumerate() {
            while self.positions[p] < end {
                let max = (end - self.positions[p]).min(STEP as u64) as usize;
                let fetch = log.fetch(&self.source.topic, p as u32, self.positions[p], max)?;
                if fetch.next_offset() == self.positions[p] {
                    break;
                }
                // A partition with gaps (transaction markers) holds fewer records than
                // offsets: `max` records may reach past the bound.
                self.positions[p] = fetch.next_offset().min(end);
                let recs: Vec<_> = fetch.records().filter(|r| r.offset < end).collect();
                if let Some(batch) = decode::decode(&self.source, &recs, plog, &id, &needed) {
                    self.apply(&batch)?;
                }
            }
        }
        Ok(())
    }

    /// Upserts (or, for tombstones, deletes) a decoded batch's rows, in order.
    fn apply(&mut self, batch: &RecordBatch) -> Result<()> {
        let keys = self.source.keys().count();
        let key_rows = self
            .key_conv
            .convert_columns(&batch.columns()[PSEUDO_COLUMNS..PSEUDO_COLUMNS + keys])?;
        let rows = self.rows_conv.convert_columns(batch.columns())?;
        let tombstone = batch.column(3).as_boolean();
        let width = batch.num_columns();
        let bounds = self.source.window.is_some().then(|| {
            (
                batch.column(width - 2).as_primitive::<Int64Type>(),
                batch.column(width - 1).as_primitive::<Int64Type>(),
            )
        });
        for i in 0..batch.num_rows() {
            let key = key_rows.row(i).data();
            let deleted = tombstone.value(i);
            match bounds {
                None if deleted => {
                    self.rows.remove(key);
                }
                None => match self.rows.get_mut(key) {
                    Some(old) => *old = rows.row(i).as_ref().into(),
                    None => {
                        self.rows.insert(key.into(), rows.row(i).as_ref().into());
                    }
                },
                Some((start, end)) => {
                    let window = (start.value(i), end.value(i));
                    if deleted {
                        if let Some(w) = self.windows.get_mut(key) {
                            w.remove(&window);
                            if w.is_empty() {
                                self.windows.remove(key);
                            }
                        }
                    } else {
                        let w = match self.windows.get_mut(key) {
                            Some(w) => w,
                            None => self.windows.entry(key.into()).or_default(),
                        };
                        w.insert(window, rows.row(i).as_ref().into());
                    }
                }
            }
        }
        Ok(())
    }

    /// Row-encodes key values (one array per key column, one row per key to look up).
    pub fn encode_keys(&self, keys: &[ArrayRef]) -> Result<Rows> {
        Ok(self.key_conv.convert_columns(keys)?)
    }

    /// The rows of the given keys (all rows when `None`), in the table's row schema.
    pub fn read(&self, keys: Option<&Rows>) -> Result<RecordBatch> {
        let mut found: Vec<&[u8]> = Vec::new();
        match keys {
            Some(keys) => {
                // A key named twice (`IN (1, 1)`) is one row.
                let mut seen = hashbrown::HashSet::new();
                for i in 0..keys.num_rows() {
                    let key = keys.row(i).data();
                    if !seen.insert(key) {
                        continue;
                    }
                    if let Some(r) = self.rows.get(key) {
                        found.push(r);
                    }
                    if let Some(w) = self.windows.get(key) {
                        found.extend(w.values().map(|r| &r[..]));
                    }
                }
            }
            None => {
                found.extend(self.rows.values().map(|r| &r[..]));
                found.extend(
                    self.windows
                        .values()
                        .flat_map(|w| w.values().map(|r| &r[..])),
                );
            }
        }
        let parsed = found.iter().map(|r| self.rows_parser.parse(r));
        let columns = self.rows_conv.convert_rows(parsed)?;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}
