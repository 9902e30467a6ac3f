//! Printing statements back as SQL that parses to the same AST (names back-quoted, durations
//! in milliseconds, expressions as sqlparser prints them).

use super::ast::*;
use datafusion::sql::sqlparser::ast::SelectItemQualifiedWildcardKind;
use std::fmt::{self, Display, Formatter, Write};

/// A name in back-quotes, so that it keeps its case when parsed again.
pub struct Quoted<'a>(pub &'a str);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.0.replace('`', "``"))
    }
}

fn string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn list<T, F: Fn(&T) -> String>(items: &[T], f: F) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(", ")
}

fn props(p: &Props) -> String {
    let v = list(p, |(k, v)| {
        let value = match v {
            PropValue::Str(s) => string(s),
            PropValue::Num(n) => n.clone(),
            PropValue::Bool(b) => b.to_string(),
        };
        // Keys like 'connector.class' are quoted.
        if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            format!("{k}={value}")
        } else {
            format!("{}={value}", string(k))
        }
    });
    format!(" WITH ({v})")
}

fn kind(k: SourceKind) -> &'static str {
    k.name()
}

impl Display for ColumnDef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", Quoted(&self.name), self.ty)?;
        match &self.role {
            ColumnRole::Value => Ok(()),
            ColumnRole::Key => write!(f, " KEY"),
            ColumnRole::PrimaryKey => write!(f, " PRIMARY KEY"),
            ColumnRole::Headers => write!(f, " HEADERS"),
            ColumnRole::Header(k) => write!(f, " HEADER({})", string(k)),
        }
    }
}

impl Display for Relation {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Quoted(&self.name))?;
        if let Some(a) = &self.alias {
            write!(f, " AS {}", Quoted(a))?;
        }
        Ok(())
    }
}

fn ms(d: i64) -> String {
    format!("{d} MILLISECONDS")
}

impl Display for WindowSpec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            WindowKind::Tumbling { size_ms } => write!(f, "TUMBLING (SIZE {}", ms(*size_ms))?,
            WindowKind::Hopping {
                size_ms,
                advance_ms,
            } => write!(
                f,
                "HOPPING (SIZE {}, ADVANCE BY {}",
                ms(*size_ms),
                ms(*advance_ms)
            )?,
            WindowKind::Session { gap_ms } => write!(f, "SESSION ({}", ms(*gap_ms))?,
        }
        if let Some(r) = self.retention_ms {
            write!(f, ", RETENTION {}", ms(r))?;
        }
        if let Some(g) = self.grace_ms {
            write!(f, ", GRACE PERIOD {}", ms(g))?;
        }
        write!(f, ")")
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let item = |s: &SelectItem| match s {
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::Expr(e), _) => {
                format!("{e}->*")
            }
            other => other.to_string(),
        };
        write!(f, "SELECT {} FROM {}", list(&self.select, item), self.from)?;
        for j in &self.joins {
            let k = match j.kind {
                JoinKind::Inner => "INNER JOIN",
                JoinKind::Left => "LEFT OUTER JOIN",
                JoinKind::Right => "RIGHT OUTER JOIN",
                JoinKind::Full => "FULL OUTER JOIN",
            };
            write!(f, " {k} {}", j.source)?;
            if let Some((before, after)) = j.within {
                write!(f, " WITHIN ({}, {})", ms(before), ms(after))?;
            }
            if let Some(g) = j.grace_ms {
                write!(f, " GRACE PERIOD {}", ms(g))?;
            }
            write!(f, " ON {}", j.on)?;
        }
        if let Some(w) = &self.window {
            write!(f, " WINDOW {w}")?;
        }
        if let Some(w) = &self.selection {
            write!(f, " WHERE {w}")?;
        }
        if let Some(d) = &self.dedup {
            let by = list(&d.by, |e| e.to_string());
            write!(f, " DEDUPLICATE BY {by} WITHIN {}", ms(d.within_ms))?;
        }
        if !self.group_by.is_empty() {
            write!(f, " GROUP BY {}", list(&self.group_by, |e| e.to_string()))?;
        }
        if !self.partition_by.is_empty() {
            write!(
                f,
                " PARTITION BY {}",
                list(&self.partition_by, |e| e.to_string())
            )?;
        }
        if let Some(h) = &self.having {
            write!(f, " HAVING {h}")?;
        }
        if !self.order_by.is_empty() {
            write!(f, " ORDER BY {}", list(&self.order_by, |e| e.to_string()))?;
        }
        match self.emit {
            Some(Emit::Changes) => write!(f, " EMIT CHANGES")?,
            Some(Emit::Final) => write!(f, " EMIT FINAL")?,
            None => {}
        }
        if let Some(l) = self.limit {
            write!(f, " LIMIT {l}")?;
        }
        Ok(())
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        match self {
            Statement::CreateSource {
                kind: k,
                or_replace,
                if_not_exists,
                is_source,
                name,
                columns,
                props: p,
            } => {
                write!(
                    s,
                    "CREATE {}{}{} {}{}",
                    if *or_replace { "OR REPLACE " } else { "" },
                    if *is_source { "SOURCE " } else { "" },
                    kind(*k),
                    if *if_not_exists { "IF NOT EXISTS " } else { "" },
                    Quoted(name)
                )?;
                if !columns.is_empty() {
                    write!(s, " ({})", list(columns, |c| c.to_string()))?;
                }
                if !p.is_empty() {
                    s.push_str(&props(p));
                }
            }
            Statement::CreateAs {
                kind: k,
                or_replace,
                if_not_exists,
                name,
                props: p,
                query,
            } => {
                write!(
                    s,
                    "CREATE {}{} {}{}",
                    if *or_replace { "OR REPLACE " } else { "" },
                    kind(*k),
                    if *if_not_exists { "IF NOT EXISTS " } else { "" },
                    Quoted(name)
                )?;
                if !p.is_empty() {
                    s.push_str(&props(p));
                }
                write!(s, " AS {query}")?;
            }
            Statement::InsertSelect {
                target,
                props: p,
                query,
            } => {
                write!(s, "INSERT INTO {}", Quoted(target))?;
                if !p.is_empty() {
                    s.push_str(&props(p));
                }
                write!(s, " {query}")?;
            }
            Statement::InsertValues {
                target,
                columns,
                values,
            } => {
                write!(s, "INSERT INTO {}", Quoted(target))?;
                if let Some(c) = columns {
                    write!(s, " ({})", list(c, |n| Quoted(n).to_string()))?;
                }
                write!(s, " VALUES ({})", list(values, |v| v.to_string()))?;
            }
            Statement::Select(q) => write!(s, "{q}")?,
            Statement::Drop {
                kind: k,
                if_exists,
                name,
                delete_topic,
            } => write!(
                s,
                "DROP {} {}{}{}",
                kind(*k),
                if *if_exists { "IF EXISTS " } else { "" },
                Quoted(name),
                if *delete_topic { " DELETE TOPIC" } else { "" }
            )?,
            Statement::Show(k, extended) => {
                let what = match k {
                    ShowKind::Streams => "STREAMS",
                    ShowKind::Tables => "TABLES",
                    ShowKind::Queries => "QUERIES",
                    ShowKind::Topics => "TOPICS",
                    ShowKind::Properties => "PROPERTIES",
                    ShowKind::Functions => "FUNCTIONS",
                    ShowKind::Variables => "VARIABLES",
                    ShowKind::Connectors => "CONNECTORS",
                };
                write!(s, "SHOW {what}{}", if *extended { " EXTENDED" } else { "" })?
            }
            Statement::Describe { name, extended } => write!(
                s,
                "DESCRIBE {}{}",
                Quoted(name),
                if *extended { " EXTENDED" } else { "" }
            )?,
            Statement::Terminate(None) => s.push_str("TERMINATE ALL"),
            Statement::Terminate(Some(id)) => write!(s, "TERMINATE {}", Quoted(id))?,
            Statement::Set(k, v) => write!(s, "SET {}={}", string(k), string(v))?,
            Statement::Unset(k) => write!(s, "UNSET {}", string(k))?,
            Statement::Print {
                topic,
                from_beginning,
                limit,
            } => {
                write!(s, "PRINT {}", string(topic))?;
                if *from_beginning {
                    s.push_str(" FROM BEGINNING");
                }
                if let Some(l) = limit {
                    write!(s, " LIMIT {l}")?;
                }
            }
            Statement::Define(k, v) => write!(s, "DEFINE {k}={}", string(v))?,
            Statement::Undefine(k) => write!(s, "UNDEFINE {k}")?,
            Statement::CreateConnector {
                source,
                if_not_exists,
                name,
                props: p,
            } => write!(
                s,
                "CREATE {} CONNECTOR {}{}{}",
                if *source { "SOURCE" } else { "SINK" },
                if *if_not_exists { "IF NOT EXISTS " } else { "" },
                Quoted(name),
                props(p)
            )?,
            Statement::DropConnector { if_exists, name } => write!(
                s,
                "DROP CONNECTOR {}{}",
                if *if_exists { "IF EXISTS " } else { "" },
                Quoted(name)
            )?,
            Statement::DescribeConnector(name) => write!(s, "DESCRIBE CONNECTOR {}", Quoted(name))?,
            Statement::DescribeFunction(name) => write!(s, "DESCRIBE FUNCTION {}", Quoted(name))?,
            Statement::Explain(Explain::Query(id)) => write!(s, "EXPLAIN {}", Quoted(id))?,
            Statement::Explain(Explain::Statement(inner)) => {
                let text = inner.to_string();
                write!(s, "EXPLAIN {}", text.trim_end_matches(';'))?
            }
            Statement::Delete { table, selection } => {
                write!(s, "DELETE FROM {}", Quoted(table))?;
                if let Some(w) = selection {
                    write!(s, " WHERE {w}")?;
                }
            }
        }
        write!(f, "{s};")
    }
}

impl Statement {
    /// The statement's kind, as ksqlDB's AST names it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Statement::CreateSource {
                kind: SourceKind::Stream,
                ..
            } => "CreateStream",
            Statement::CreateSource {
                kind: SourceKind::Table,
                ..
            } => "CreateTable",
            Statement::CreateAs {
                kind: SourceKind::Stream,
                ..
            } => "CreateStreamAsSelect",
            Statement::CreateAs {
                kind: SourceKind::Table,
                ..
            } => "CreateTableAsSelect",
            Statement::InsertSelect { .. } => "InsertInto",
            Statement::InsertValues { .. } => "InsertValues",
            Statement::Select(q) if q.emit.is_some() => "Query",
            Statement::Select(_) => "PullQuery",
            Statement::Drop {
                kind: SourceKind::Stream,
                ..
            } => "DropStream",
            Statement::Drop {
                kind: SourceKind::Table,
                ..
            } => "DropTable",
            Statement::Show(..) => "Show",
            Statement::Describe { .. } => "Describe",
            Statement::Terminate(_) => "TerminateQuery",
            Statement::Set(..) => "SetProperty",
            Statement::Unset(_) => "UnsetProperty",
            Statement::Print { .. } => "PrintTopic",
            Statement::Define(..) => "DefineVariable",
            Statement::Undefine(_) => "UndefineVariable",
            Statement::CreateConnector { .. } => "CreateConnector",
            Statement::DropConnector { .. } => "DropConnector",
            Statement::DescribeConnector(_) => "DescribeConnector",
            Statement::DescribeFunction(_) => "DescribeFunction",
            Statement::Delete { .. } => "Delete",
            Statement::Explain(_) => "Explain",
        }
    }
}
