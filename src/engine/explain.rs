//! EXPLAIN: a query's operators as a tree, from its sink down to its sources (source →
//! decode → join → filter → re-key → aggregate → project → sink), each with what it has done
//! when the query runs: rows in and out, rows of state, late records, rates.
//!
//! `EXPLAIN <query id>` describes a running persistent query (its figures are the ones
//! `exec::persistent::profile` keeps, since it started on this server); `EXPLAIN <statement>`
//! plans a SELECT, CREATE ... AS SELECT or INSERT INTO ... SELECT without running it, so its
//! errors are the statement's own. The answer is ksqlDB's `queryDescription` entity, with
//! the tree as its `executionPlan` text and, beyond ksqlDB, as `operators` (JSON).

use super::{ddl, Engine, Listing, Session};
use crate::catalog::{Column, ColumnKind, Source};
use crate::error::{Error, Result};
use crate::exec::operator::Counters;
use crate::exec::persistent::profile::{Profile, Rates};
use crate::exec::persistent::QueryState;
use crate::sql::ast::{Emit, JoinKind, Query, SourceKind, Statement};
use serde_json::{json, Value};
use std::sync::Arc;

/// One operator of the tree, with the figures known for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    pub operator: &'static str,
    pub detail: String,
    pub rows_in: Option<u64>,
    pub rows_out: Option<u64>,
    pub per_second: Option<f64>,
    pub state_rows: Option<u64>,
    pub late: Option<u64>,
    pub inputs: Vec<Node>,
}

impl Node {
    fn new(operator: &'static str, detail: impl Into<String>) -> Node {
        Node {
            operator,
            detail: detail.into(),
            ..Node::default()
        }
    }

    fn over(mut self, input: Node) -> Node {
        self.inputs.push(input);
        self
    }

    /// The tree as text: one line per operator, inputs indented below it.
    pub fn draw(&self) -> String {
        let mut out = String::new();
        self.draw_into(&mut out, "", "");
        out
    }

    fn draw_into(&self, out: &mut String, first: &str, rest: &str) {
        out.push_str(&format!("{first}{} {}", self.operator, self.detail));
        let figures = self.figures();
        if !figures.is_empty() {
            out.push_str(&format!("  [{figures}]"));
        }
        out.push('\n');
        for (i, n) in self.inputs.iter().enumerate() {
            let last = i + 1 == self.inputs.len();
            let (f, r) = if last {
                ("└─ ", "   ")
            } else {
                ("├─ ", "│  ")
            };
            n.draw_into(out, &format!("{rest}{f}"), &format!("{rest}{r}"));
        }
    }

    fn figures(&self) -> String {
        let mut f = Vec::new();
        if let Some(n) = self.rows_in {
            f.push(format!("in {n}"));
        }
        if let Some(n) = self.rows_out {
            f.push(format!("out {n}"));
        }
        if let Some(r) = self.per_second {
            f.push(format!("{} rows/s", rate(r)));
        }
        if let Some(n) = self.state_rows {
            f.push(format!("state {n} rows"));
        }
        if let Some(n) = self.late.filter(|n| *n > 0) {
            f.push(format!("late {n}"));
        }
        f.join(", ")
    }

    /// The tree as JSON (`operators` in the `queryDescription` entity).
    pub fn json(&self) -> Value {
        json!({
            "operator": self.operator, "detail": self.detail,
            "rowsIn": self.rows_in, "rowsOut": self.rows_out, "rowsPerSecond": self.per_second,
            "stateRows": self.state_rows, "lateRecords": self.late,
            "inputs": self.inputs.iter().map(Node::json).collect::<Vec<_>>(),
        })
    }
}

/// Milliseconds in the largest unit that divides them (`1 HOUR`, `90 SECONDS`).
fn duration(ms: i64) -> String {
    let units = [
        (86_400_000, "DAY"),
        (3_600_000, "HOUR"),
        (60_000, "MINUTE"),
        (1000, "SECOND"),
    ];
    let (n, unit) = units
        .iter()
        .find(|(u, _)| ms != 0 && ms % u == 0)
        .map_or((ms, "MILLISECOND"), |(u, name)| (ms / u, *name));
    format!("{n} {unit}{}", if n == 1 { "" } else { "S" })
}

/// A window as written, its durations in their largest units.
fn window(w: &crate::sql::ast::WindowSpec) -> String {
    use crate::sql::ast::WindowKind;
    let mut parts = match w.kind {
        WindowKind::Tumbling { size_ms } => vec![format!("TUMBLING (SIZE {}", duration(size_ms))],
        WindowKind::Hopping {
            size_ms,
            advance_ms,
        } => vec![format!(
            "HOPPING (SIZE {}, ADVANCE BY {}",
            duration(size_ms),
            duration(advance_ms)
        )],
        WindowKind::Session { gap_ms } => vec![format!("SESSION ({}", duration(gap_ms))],
    };
    if let Some(r) = w.retention_ms {
        parts.push(format!("RETENTION {}", duration(r)));
    }
    if let Some(g) = w.grace_ms {
        parts.push(format!("GRACE PERIOD {}", duration(g)));
    }
    format!("{})", parts.join(", "))
}

fn rate(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// What a tree is drawn for: the query, its sources in input order, where its rows go, and
/// the figures of a running query.
pub struct Subject<'a> {
    pub query: &'a Query,
    pub sources: Vec<Arc<Source>>,
    /// The sink's node (its operator and detail).
    pub sink: Node,
    pub figures: Option<(Profile, Rates)>,
}

impl Subject<'_> {
    fn profile(&self) -> Option<&Profile> {
        self.figures.as_ref().map(|(p, _)| p)
    }
    fn rates(&self) -> Option<&Rates> {
        self.figures.as_ref().map(|(_, r)| r)
    }
    fn counters(&self) -> Option<Counters> {
        self.profile().map(|p| p.counters)
    }
}

/// The operator tree of `s`: its inputs, joined, through its row stages, then its result
/// stages up to the sink.
pub fn tree(s: &Subject) -> Node {
    let mut node = input(s, 0);
    for (i, j) in s.query.joins.iter().enumerate() {
        node = join(s, j, i + 1 == s.query.joins.len())
            .over(node)
            .over(input(s, i + 1));
    }
    results(s, row_stages(s, node))
}

/// Input `i`: its source, and the decoding of its records.
fn input(s: &Subject, i: usize) -> Node {
    let src = &s.sources[i];
    let read = s.profile().and_then(|p| p.read.get(i).copied());
    let decoded = s.profile().and_then(|p| p.decoded.get(i).copied());
    let source = Node {
        rows_out: read,
        per_second: s.rates().and_then(|r| r.read.get(i).copied()),
        ..Node::new(
            "SOURCE",
            format!("{} {} (topic {})", src.kind.name(), src.name, src.topic),
        )
    };
    let (key, value) = (src.key_format.format.name(), src.value_format.format.name());
    let detail =
        format!("key {key}, value {value}; what does not decode goes to the processing log");
    Node {
        rows_in: read,
        rows_out: decoded,
        ..Node::new("DECODE", detail)
    }
    .over(source)
}

/// A join step; the figures are the whole join's, shown on its `last` step.
fn join(s: &Subject, j: &crate::sql::ast::Join, last: bool) -> Node {
    let kind = match j.kind {
        JoinKind::Inner => "INNER",
        JoinKind::Left => "LEFT OUTER",
        JoinKind::Right => "RIGHT OUTER",
        JoinKind::Full => "FULL OUTER",
    };
    let alias = j.source.alias.as_ref().map(|a| format!(" AS {a}"));
    let (name, alias) = (&j.source.name, alias.unwrap_or_default());
    let mut detail = format!("{kind} {name}{alias} ON {}", j.on);
    if let Some((before, after)) = j.within {
        let (before, after) = (duration(before), duration(after));
        detail.push_str(&format!(" WITHIN ({before} before, {after} after)"));
    }
    if let Some(g) = j.grace_ms {
        detail.push_str(&format!(" GRACE PERIOD {}", duration(g)));
    }
    let c = s.counters().filter(|_| last);
    Node {
        rows_in: c.map(|c| c.join_in),
        rows_out: c.map(|c| c.joined),
        state_rows: c.map(|c| c.join_state as u64),
        ..Node::new("JOIN", detail)
    }
}

/// What happens to each row: WHERE, DEDUPLICATE BY, PARTITION BY.
fn row_stages(s: &Subject, mut node: Node) -> Node {
    let (q, c) = (s.query, s.counters());
    if let Some(w) = &q.selection {
        // Without an aggregation or dedup stage, the filter's rows out are counted as the
        // projection's: unknown when EXPLODE makes more rows than it takes.
        let explode = q
            .select
            .iter()
            .any(|i| i.to_string().to_uppercase().contains("EXPLODE("));
        let exact = !q.group_by.is_empty() || !explode || q.dedup.is_some();
        node = Node {
            rows_in: c.map(|c| c.rows_in),
            rows_out: c.map(|c| c.rows_kept).filter(|_| exact),
            ..Node::new("FILTER", format!("WHERE {w}"))
        }
        .over(node);
    }
    if let Some(d) = &q.dedup {
        let keys: Vec<String> = d.by.iter().map(|e| e.to_string()).collect();
        let detail = format!("BY {} WITHIN {}", keys.join(", "), duration(d.within_ms));
        let filtered = q.selection.is_some();
        node = Node {
            rows_in: c.map(|c| if filtered { c.rows_kept } else { c.rows_in }),
            rows_out: c.map(|c| c.unique),
            state_rows: c.map(|c| c.state_rows as u64),
            late: c.map(|c| c.late_records),
            ..Node::new("DEDUPLICATE", detail)
        }
        .over(node);
    }
    if !q.partition_by.is_empty() {
        let keys: Vec<String> = q.partition_by.iter().map(|e| e.to_string()).collect();
        node = Node::new("RE-KEY", format!("PARTITION BY {}", keys.join(", "))).over(node);
    }
    node
}

/// What makes the results: GROUP BY, the projection, LIMIT, and where they go.
fn results(s: &Subject, mut node: Node) -> Node {
    let (q, c, r) = (s.query, s.counters(), s.rates());
    // The rows that reach GROUP BY or the projection.
    let rows = c.map(|c| match (&q.dedup, &q.selection) {
        (Some(_), _) => c.unique,
        (None, Some(_)) => c.rows_kept,
        (None, None) => c.rows_in,
    });
    let aggregate = !q.group_by.is_empty();
    if aggregate {
        let keys: Vec<String> = q.group_by.iter().map(|e| e.to_string()).collect();
        let mut detail = format!("GROUP BY {}", keys.join(", "));
        if let Some(w) = &q.window {
            detail.push_str(&format!(" WINDOW {}", window(w)));
        }
        if let Some(h) = &q.having {
            detail.push_str(&format!(" HAVING {h}"));
        }
        if q.emit == Some(Emit::Final) {
            detail.push_str(" EMIT FINAL");
        }
        node = Node {
            rows_in: rows,
            rows_out: c.map(|c| c.rows_out),
            per_second: r.map(|r| r.rows_out),
            state_rows: c.map(|c| (c.state_rows - c.join_state) as u64),
            late: c.map(|c| c.late_records),
            ..Node::new("AGGREGATE", detail)
        }
        .over(node);
    }
    let items: Vec<String> = q.select.iter().map(|i| i.to_string()).collect();
    node = Node {
        rows_in: if aggregate {
            c.map(|c| c.rows_out)
        } else {
            rows
        },
        rows_out: c.map(|c| c.rows_out),
        per_second: r.map(|r| r.rows_out).filter(|_| !aggregate),
        ..Node::new("PROJECT", items.join(", "))
    }
    .over(node);
    if let Some(l) = q.limit {
        node = Node::new("LIMIT", l.to_string()).over(node);
    }
    Node {
        rows_in: s.profile().map(|p| p.written),
        per_second: r.map(|r| r.written),
        ..s.sink.clone()
    }
    .over(node)
}

/// `EXPLAIN <query id>`.
pub fn query(engine: &Engine, id: &str) -> Result<Listing> {
    let inner = engine.lock();
    let q = inner.queries.get(id).ok_or_else(|| {
        Error::statement(format!("Query with id:{id} does not exist, use SHOW QUERIES to view the full set of running queries."))
    })?;
    let parsed = crate::sql::parse(&q.statement)?;
    let query = match parsed.first().map(|p| &p.statement) {
        Some(Statement::CreateAs { query, .. } | Statement::InsertSelect { query, .. }) => query,
        _ => return Err(Error::generic(format!("query {id} has no SELECT"))),
    };
    let source = |n: &String| inner.catalog.get(n).cloned();
    let sources: Vec<Arc<Source>> = q.sources.iter().filter_map(source).collect();
    let sink = inner.catalog.get(&q.sink).cloned();
    let (Some(sink), true) = (sink, sources.len() == q.sources.len()) else {
        return Err(Error::generic(format!(
            "query {id} reads or writes a dropped source"
        )));
    };
    let state = match q.state() {
        QueryState::Running => "RUNNING".to_string(),
        QueryState::Terminated => "TERMINATED".to_string(),
        QueryState::Error(e) => format!("ERROR: {e}"),
    };
    let subject = Subject {
        query,
        sources,
        sink: sink_node(&sink),
        figures: Some(q.profile()),
    };
    let (columns, name) = (sink.columns.clone(), Some(sink.name.clone()));
    let window = sink.window;
    Ok(listing(
        id,
        &q.statement,
        &state,
        &subject,
        &columns,
        window,
        name,
    ))
}

/// `EXPLAIN <statement>`: planned (so refused as the statement would be), not run.
pub fn statement(
    engine: &Engine,
    inner_statement: &Statement,
    text: &str,
    session: &Session,
) -> Result<Listing> {
    let (query, sink, kind) = match inner_statement {
        Statement::Select(q) => (q.as_ref(), None, None),
        Statement::CreateAs { query, name, kind, .. } => (query.as_ref(), Some(name), Some(*kind)),
        Statement::InsertSelect { query, target, .. } => (query.as_ref(), Some(target), None),
        _ => return Err(Error::statement("EXPLAIN takes a query id or a query (SELECT, CREATE ... AS SELECT, INSERT INTO ... SELECT)")),
    };
    let missing = |n: &str| Error::statement(format!("{n} does not exist."));
    let mut sources = Vec::new();
    for n in std::iter::once(&query.from.name).chain(query.joins.iter().map(|j| &j.source.name)) {
        sources.push(engine.source(n).ok_or_else(|| missing(n))?);
    }
    if let Some(name) = sink {
        let insert = kind.is_none();
        let kind = kind.unwrap_or(SourceKind::Stream);
        ddl::check_result(engine, query, &sources[0], kind, insert, name)?;
    }
    let (mut columns, mut window) = (Vec::new(), None);
    if query.emit.is_some() || sink.is_some() {
        let persistent = sink.is_some();
        let name = sink.map_or("", |s| s);
        let plan = ddl::plan(engine, session, query, sources[0].clone(), persistent, name)?;
        columns = plan.output().iter().map(|o| o.column.clone()).collect();
        window = plan.window();
    }
    let existing = sink.and_then(|s| engine.source(s));
    let sink_node = match (sink, &existing) {
        (_, Some(s)) => sink_node(s),
        (Some(name), None) => Node::new("SINK", format!("{name} (created by the statement)")),
        (None, None) if query.emit.is_some() => {
            Node::new("CLIENT", "push query: rows as they change")
        }
        (None, None) => Node::new("CLIENT", "pull query: the rows there are now"),
    };
    let subject = Subject {
        query,
        sources,
        sink: sink_node,
        figures: None,
    };
    let sink_name = existing.as_ref().map(|s| s.name.clone()).or(sink.cloned());
    Ok(listing(
        "",
        text,
        "NOT RUNNING",
        &subject,
        &columns,
        window,
        sink_name,
    ))
}

fn sink_node(sink: &Source) -> Node {
    Node::new(
        "SINK",
        format!(
            "{} {} (topic {}, key {}, value {})",
            sink.kind.name(),
            sink.name,
            sink.topic,
            sink.key_format.format.name(),
            sink.value_format.format.name()
        ),
    )
}

fn listing(
    id: &str,
    text: &str,
    state: &str,
    s: &Subject,
    columns: &[Column],
    window: Option<crate::catalog::WindowInfo>,
    sink: Option<String>,
) -> Listing {
    let tree = tree(s);
    let plan = tree.draw();
    let table = !s.query.group_by.is_empty() || s.sources[0].kind == SourceKind::Table;
    let kind = if table { "(primary key)" } else { "(key)" };
    let rows = columns
        .iter()
        .map(|c| {
            let role = if c.kind == ColumnKind::Key { kind } else { "" };
            vec![
                c.name.clone(),
                format!("{} {role}", c.ty).trim_end().to_string(),
            ]
        })
        .collect();
    let names = |v: &[Arc<Source>]| v.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    let query_type = if id.is_empty() { "" } else { "PERSISTENT" };
    let figures = if s.figures.is_some() {
        "Operators, with what each has done since the query started on this server"
    } else {
        "Operators (the query is not running: no figures)"
    };
    Listing {
        kind: "queryDescription".into(),
        title: Some(format!(
            "ID                   : {id}\nQuery Type           : {query_type}\nSQL                  : {text}\nState                : {state}"
        )),
        headers: vec!["Field".into(), "Type".into()],
        rows,
        footer: Some(format!(
            "\nSources that this query reads from:\n-----------------------------------\n{}\n\nSinks that this query writes to:\n-----------------------------------\n{}\n\nExecution plan\n--------------\n{figures}:\n{plan}",
            names(&s.sources).join("\n"),
            sink.clone().unwrap_or_default(),
        )),
        json: json!({"queryDescription": {
            "id": id, "statementText": text, "windowType": window.map(|w| w.kind.name()),
            "fields": columns.iter().map(super::show::field_json).collect::<Vec<_>>(),
            "sources": names(&s.sources), "sinks": sink.into_iter().collect::<Vec<_>>(),
            "topology": plan, "executionPlan": plan, "overriddenProperties": {},
            "ksqlHostQueryStatus": {}, "queryType": query_type, "queryErrors": [], "tasksMetadata": [],
            "state": state, "operators": tree.json(),
        }}),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_in_their_largest_unit() {
        assert_eq!(super::duration(3_600_000), "1 HOUR");
        assert_eq!(super::duration(90_000), "90 SECONDS");
        assert_eq!(super::duration(1_500), "1500 MILLISECONDS");
        assert_eq!(super::duration(0), "0 MILLISECONDS");
        let w = crate::sql::ast::WindowSpec {
            kind: crate::sql::ast::WindowKind::Hopping {
                size_ms: 300_000,
                advance_ms: 60_000,
            },
            retention_ms: None,
            grace_ms: Some(10_000),
        };
        assert_eq!(
            super::window(&w),
            "HOPPING (SIZE 5 MINUTES, ADVANCE BY 1 MINUTE, GRACE PERIOD 10 SECONDS)"
        );
    }
}
