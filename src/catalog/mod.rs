//! The catalog: streams and tables, their columns, topics and formats.

pub mod types;

use crate::format::FormatSpec;
use crate::sql::ast::SourceKind;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use std::collections::BTreeMap;
use std::sync::Arc;
use types::SqlType;

/// Pseudocolumns every source exposes to queries, in this order at the start of each batch.
pub const ROWTIME: &str = "ROWTIME";
pub const ROWPARTITION: &str = "ROWPARTITION";
pub const ROWOFFSET: &str = "ROWOFFSET";
/// A hidden column: true where the record's value is null (a tombstone on a table).
pub const TOMBSTONE: &str = "\u{1}TOMBSTONE";
pub const PSEUDO_COLUMNS: usize = 4;
/// A hidden output column of windowed aggregations: the window start of each row.
pub const WINDOW_START: &str = "\u{1}WINDOW_START";
/// A hidden output column of windowed aggregations: the window end of each row.
pub const WINDOW_END: &str = "\u{1}WINDOW_END";
pub const WINDOWSTART: &str = "WINDOWSTART";
pub const WINDOWEND: &str = "WINDOWEND";

/// Names that cannot be used as column names.
pub fn is_reserved_column(name: &str) -> bool {
    matches!(
        name,
        ROWTIME | ROWPARTITION | ROWOFFSET | "WINDOWSTART" | "WINDOWEND"
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    Key,
    Value,
    Headers,
    Header(String),
}

impl From<&crate::sql::ast::ColumnRole> for ColumnKind {
    /// The kind of a declared column (`KEY` and `PRIMARY KEY` alike).
    fn from(role: &crate::sql::ast::ColumnRole) -> Self {
        use crate::sql::ast::ColumnRole;
        match role {
            ColumnRole::Key | ColumnRole::PrimaryKey => ColumnKind::Key,
            ColumnRole::Value => ColumnKind::Value,
            ColumnRole::Headers => ColumnKind::Headers,
            ColumnRole::Header(k) => ColumnKind::Header(k.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: SqlType,
    pub kind: ColumnKind,
}

#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub kind: SourceKind,
    pub topic: String,
    pub columns: Vec<Column>,
    pub key_format: FormatSpec,
    pub value_format: FormatSpec,
    /// The column event time comes from, and its format for STRING columns.
    pub timestamp: Option<(String, Option<String>)>,
    pub is_source: bool,
    pub statement: String,
    /// The persistent query writing this source, for CSAS/CTAS sinks.
    pub writer: Option<String>,
    /// Windowed keys: the window each key belongs to is part of the key.
    pub window: Option<WindowInfo>,
    /// A join's rows (never a catalog entry): which columns stand for the key.
    pub join_key: Option<Arc<JoinKeyNames>>,
}

/// A joined source's key: which select items stand for it, and how to name them in errors
/// (the planner of joins makes it; projections read it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinKeyNames {
    /// Joined columns holding the join key (`L_A`, `R_A`); empty for a synthetic key.
    pub candidates: Vec<String>,
    /// The same, as the query wrote them (`L.A`), or `ROWKEY`'s name.
    pub display: Vec<String>,
    /// Every expression the key equals, as the query wrote it (`L.A`, `ABS(R.B)`), so that a
    /// later step joining on one of them keeps the key's names.
    pub expressions: Vec<String>,
    pub synthetic: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowType {
    Tumbling,
    Hopping,
    Session,
}

impl WindowType {
    pub fn name(self) -> &'static str {
        match self {
            WindowType::Tumbling => "TUMBLING",
            WindowType::Hopping => "HOPPING",
            WindowType::Session => "SESSION",
        }
    }
}

/// How a windowed source's keys are windowed. A time window's key bytes end with the window
/// start (8 bytes, big-endian); a session key's with its end and start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowInfo {
    pub kind: WindowType,
    /// Window size for time windows.
    pub size_ms: Option<i64>,
}

impl Source {
    pub fn keys(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.kind == ColumnKind::Key)
    }
    pub fn values(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.kind == ColumnKind::Value)
    }
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The Arrow schema queries see: pseudocolumns, then keys, values and headers.
    pub fn row_schema(&self) -> SchemaRef {
        let mut fields = vec![
            Field::new(ROWTIME, DataType::Int64, false),
            Field::new(ROWPARTITION, DataType::Int32, false),
            Field::new(ROWOFFSET, DataType::Int64, false),
            Field::new(TOMBSTONE, DataType::Boolean, false),
        ];
        let ordered = self.keys().chain(self.values()).chain(
            self.columns
                .iter()
                .filter(|c| matches!(c.kind, ColumnKind::Headers | ColumnKind::Header(_))),
        );
        fields.extend(ordered.map(|c| Field::new(&c.name, c.ty.to_arrow(), true)));
        // A windowed source's keys carry their window: its bounds are columns queries can
        // name (not part of `*`).
        if self.window.is_some() {
            fields.push(Field::new(WINDOWSTART, DataType::Int64, true));
            fields.push(Field::new(WINDOWEND, DataType::Int64, true));
        }
        Arc::new(Schema::new(fields))
    }

    /// ksqlDB's schema string: `ID BIGINT KEY, NAME STRING`.
    pub fn schema_string(&self) -> String {
        let key_word = match self.kind {
            SourceKind::Stream => "KEY",
            SourceKind::Table => "PRIMARY KEY",
        };
        self.columns
            .iter()
            .map(|c| match &c.kind {
                ColumnKind::Key => format!("`{}` {} {key_word}", c.name, c.ty),
                ColumnKind::Value => format!("`{}` {}", c.name, c.ty),
                ColumnKind::Headers => format!("`{}` {} HEADERS", c.name, c.ty),
                ColumnKind::Header(k) => format!("`{}` {} HEADER('{k}')", c.name, c.ty),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The (name, type) pairs of the columns of one kind, in order.
pub fn typed_columns<'a>(cols: &'a [Column], kind: &ColumnKind) -> Vec<(&'a str, &'a SqlType)> {
    cols.iter()
        .filter(|c| &c.kind == kind)
        .map(|c| (c.name.as_str(), &c.ty))
        .collect()
}

/// Streams and tables by name.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    sources: BTreeMap<String, Arc<Source>>,
}

impl Catalog {
    pub fn get(&self, name: &str) -> Option<&Arc<Source>> {
        self.sources.get(name)
    }
    pub fn insert(&mut self, source: Source) {
        self.sources.insert(source.name.clone(), Arc::new(source));
    }
    pub fn remove(&mut self, name: &str) -> Option<Arc<Source>> {
        self.sources.remove(name)
    }
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Source>> {
        self.sources.values()
    }
}
