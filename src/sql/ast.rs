//! Brooklet's statement AST. Expressions and select items are sqlparser's own types.

use crate::catalog::types::SqlType;
pub use datafusion::sql::sqlparser::ast::{Expr, Ident, OrderByExpr, SelectItem};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Stream,
    Table,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Stream => "STREAM",
            SourceKind::Table => "TABLE",
        }
    }
}

/// How a column is bound to the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnRole {
    Value,
    Key,
    PrimaryKey,
    Headers,
    Header(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: SqlType,
    pub role: ColumnRole,
}

/// A WITH property value, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    Str(String),
    Num(String),
    Bool(bool),
}

impl PropValue {
    pub fn as_text(&self) -> String {
        match self {
            PropValue::Str(s) | PropValue::Num(s) => s.clone(),
            PropValue::Bool(b) => b.to_string(),
        }
    }
}

/// WITH properties: names upper-cased, in the order written.
pub type Props = Vec<(String, PropValue)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    Changes,
    Final,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowKind {
    Tumbling { size_ms: i64 },
    Hopping { size_ms: i64, advance_ms: i64 },
    Session { gap_ms: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    pub kind: WindowKind,
    pub retention_ms: Option<i64>,
    pub grace_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub kind: JoinKind,
    pub source: Relation,
    /// `WITHIN (before, after)` in ms, and the join window's grace period.
    pub within: Option<(i64, i64)>,
    pub grace_ms: Option<i64>,
    pub on: Expr,
}

/// `DEDUPLICATE BY by WITHIN within_ms`: a row whose `by` values were seen within
/// `within_ms` of its event time is dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Dedup {
    pub by: Vec<Expr>,
    pub within_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    pub name: String,
    pub alias: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub select: Vec<SelectItem>,
    pub from: Relation,
    pub joins: Vec<Join>,
    pub window: Option<WindowSpec>,
    pub selection: Option<Expr>,
    /// `DEDUPLICATE BY ... WITHIN ...` (beyond ksqlDB): the first row per key within a
    /// bound of event time.
    pub dedup: Option<Dedup>,
    pub group_by: Vec<Expr>,
    pub partition_by: Vec<Expr>,
    pub having: Option<Expr>,
    pub emit: Option<Emit>,
    /// ORDER BY (pull queries only; beyond ksqlDB).
    pub order_by: Vec<OrderByExpr>,
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowKind {
    Streams,
    Tables,
    Queries,
    Topics,
    Properties,
    Functions,
    Variables,
    Connectors,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    CreateSource {
        kind: SourceKind,
        or_replace: bool,
        if_not_exists: bool,
        is_source: bool,
        name: String,
        columns: Vec<ColumnDef>,
        props: Props,
    },
    CreateAs {
        kind: SourceKind,
        or_replace: bool,
        if_not_exists: bool,
        name: String,
        props: Props,
        query: Box<Query>,
    },
    InsertSelect {
        target: String,
        props: Props,
        query: Box<Query>,
    },
    InsertValues {
        target: String,
        columns: Option<Vec<String>>,
        values: Vec<Expr>,
    },
    Select(Box<Query>),
    Drop {
        kind: SourceKind,
        if_exists: bool,
        name: String,
        delete_topic: bool,
    },
    Show(ShowKind, bool),
    Describe {
        name: String,
        extended: bool,
    },
    Terminate(Option<String>),
    Set(String, String),
    Unset(String),
    Print {
        topic: String,
        from_beginning: bool,
        limit: Option<u64>,
    },
    /// DEFINE name = 'value': a session variable, substituted for `${name}`.
    Define(String, String),
    Undefine(String),
    /// CREATE SOURCE|SINK CONNECTOR.
    CreateConnector {
        source: bool,
        if_not_exists: bool,
        name: String,
        props: Props,
    },
    DropConnector {
        if_exists: bool,
        name: String,
    },
    DescribeConnector(String),
    /// DESCRIBE FUNCTION name.
    DescribeFunction(String),
    /// `DELETE FROM table [WHERE ...]`: tombstones for the matching rows (beyond ksqlDB).
    Delete {
        table: String,
        selection: Option<Box<Expr>>,
    },
    /// `EXPLAIN <query id>` or `EXPLAIN <statement>`: the query's operator tree.
    Explain(Explain),
}

/// What EXPLAIN describes.
#[derive(Debug, Clone, PartialEq)]
pub enum Explain {
    /// A running persistent query, by id.
    Query(String),
    /// A query statement (SELECT, CREATE ... AS SELECT, INSERT INTO ... SELECT), planned and
    /// not run.
    Statement(Box<Statement>),
}

impl Statement {
    /// Statements that change the catalog and are replayed after a restart.
    pub fn is_persistent_command(&self) -> bool {
        matches!(
            self,
            Statement::CreateSource { .. }
                | Statement::CreateAs { .. }
                | Statement::InsertSelect { .. }
                | Statement::Drop { .. }
                | Statement::Terminate(_)
                | Statement::CreateConnector { .. }
                | Statement::DropConnector { .. }
        )
    }
}

/// A parsed statement with its source text and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub statement: Statement,
    pub text: String,
    pub line: u64,
}
