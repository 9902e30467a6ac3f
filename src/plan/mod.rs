//! Planning: a SELECT over a source becomes a [`StreamPlan`]: a filter, an optional re-key
//! (PARTITION BY), and a projection of compiled expressions into key and value columns, named
//! and checked as ksqlDB does.

pub mod aggregate;
mod coerce;
pub mod expr;
pub mod join;
pub(crate) mod magic;
mod projection;
pub mod pull;
mod user_lists;

use crate::catalog::types::SqlType;
use crate::catalog::{Column, ColumnKind, Source, PSEUDO_COLUMNS};
use crate::error::{Error, Result};
use crate::sql::ast::{Expr, Query};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use expr::{ExprCompiler, PhysExpr};
use std::sync::Arc;

/// One output column and the expression computing it.
#[derive(Debug, Clone)]
pub struct OutputColumn {
    pub column: Column,
    pub expr: PhysExpr,
}

/// PARTITION BY: new key columns computed over the input, followed by the input columns that
/// stay (value columns, then the old key columns, which move into the value).
#[derive(Debug, Clone)]
pub struct Rekey {
    pub keys: Vec<PhysExpr>,
    /// Per new key: whether it reads only the source's key columns, so a record without a
    /// value still has it (the others are NULL then, as ksqlDB's PARTITION BY gives them).
    pub from_source_key: Vec<bool>,
    /// Input column indices carried after the new keys.
    pub carry: Vec<usize>,
    /// Pseudocolumns, new keys, carried columns.
    pub schema: SchemaRef,
}

/// A stateless continuous query: filter, re-key, project.
#[derive(Debug, Clone)]
pub struct StreamPlan {
    pub source: Arc<Source>,
    pub input_schema: SchemaRef,
    pub filter: Option<PhysExpr>,
    pub rekey: Option<Rekey>,
    /// Key columns first, then value columns; compiled over the re-keyed schema if any.
    pub output: Vec<OutputColumn>,
    /// Output columns that are table functions (EXPLODE, CUBE_EXPLODE): their values are lists
    /// and each element becomes a row of its own.
    pub explode: Vec<usize>,
    pub limit: Option<u64>,
    /// Over a table source: a row the filter rejects deletes its key downstream (a
    /// tombstone), as ksqlDB's table filter forwards it.
    pub retract_filtered: bool,
    /// `DEDUPLICATE BY` (after the filter, before re-keying): see `exec::dedup`.
    pub dedup: Option<DedupPlan>,
}

/// `DEDUPLICATE BY keys WITHIN within_ms`, its keys compiled over the input's row schema.
#[derive(Debug, Clone)]
pub struct DedupPlan {
    pub keys: Vec<PhysExpr>,
    pub within_ms: i64,
}

/// What a persistent query runs.
#[derive(Debug, Clone)]
pub enum QueryPlan {
    Stream(StreamPlan),
    Aggregate(aggregate::AggregatePlan),
    /// A join, then a stream query or aggregation over its joined rows.
    Join(Box<join::JoinQuery>),
}

impl QueryPlan {
    /// Whether the output key is the input's key, unchanged: no PARTITION BY, GROUP BY or
    /// join builds it. ksqlDB then forwards a record's key as it came, so a record read with
    /// no key (all key columns NULL) is written with no key, in every key format.
    pub fn passes_key(&self) -> bool {
        matches!(self, QueryPlan::Stream(p) if p.rekey.is_none())
    }

    /// Whether everything the query keeps per key stays within one input partition, so its
    /// input partitions can be processed apart (on different servers): a query without state
    /// (and without a LIMIT across its partitions), or an aggregation grouped by exactly its
    /// source's key columns, which every partition of a topic keyed by them holds apart.
    /// Joins and other groupings would need a repartition topic.
    pub fn partition_local(&self) -> bool {
        use datafusion::physical_expr::expressions::Column as Col;
        match self {
            // DEDUPLICATE BY remembers keys across the input's partitions.
            QueryPlan::Stream(p) => p.limit.is_none() && p.dedup.is_none(),
            QueryPlan::Join(_) => false,
            QueryPlan::Aggregate(p) => {
                let keys = p.source.keys().count();
                keys > 0
                    && p.keys.len() == keys
                    && p.keys.iter().enumerate().all(|(i, (_, e, _))| {
                        e.downcast_ref::<Col>()
                            .is_some_and(|c| c.index() == PSEUDO_COLUMNS + i)
                    })
            }
        }
    }

    /// The sources the query reads, each with the value columns it needs decoded.
    pub fn inputs(&self) -> Vec<(Arc<Source>, Vec<bool>)> {
        match self {
            QueryPlan::Join(j) => j.join.inputs(),
            _ => vec![(self.source().clone(), self.needed_values())],
        }
    }

    /// The columns of its source's rows the query reads (indices), or `None` for all of them.
    pub fn columns_read(&self) -> Option<Vec<usize>> {
        let exprs: Vec<&PhysExpr> = match self {
            QueryPlan::Join(_) => return None,
            // A re-key carries columns by position: everything is read.
            QueryPlan::Stream(p) if p.rekey.is_some() => return None,
            QueryPlan::Stream(p) => p
                .filter
                .iter()
                .chain(p.output.iter().map(|c| &c.expr))
                .collect(),
            QueryPlan::Aggregate(p) => p
                .filter
                .iter()
                .chain(p.keys.iter().map(|k| &k.1))
                .chain(p.aggregates.iter().flat_map(|a| a.args.iter()))
                .collect(),
        };
        let mut read: Vec<usize> = exprs
            .into_iter()
            .flat_map(datafusion::physical_expr::utils::collect_columns)
            .map(|c| c.index())
            .collect();
        read.sort_unstable();
        read.dedup();
        Some(read)
    }

    /// Which of the source's value columns the query reads (the others need not be decoded).
    pub fn needed_values(&self) -> Vec<bool> {
        let source = self.source();
        let values = source.values().count();
        let first = PSEUDO_COLUMNS + source.keys().count();
        let read = self.columns_read();
        let mut needed = vec![read.is_none(); values];
        for i in read.unwrap_or_default() {
            if let Some(n) = i.checked_sub(first).and_then(|i| needed.get_mut(i)) {
                *n = true;
            }
        }
        // The event time comes from the TIMESTAMP column.
        if let Some((ts, _)) = &source.timestamp {
            if let Some(i) = source.values().position(|c| &c.name == ts) {
                needed[i] = true;
            }
        }
        needed
    }

    /// The source the query's projection reads: a join's joined rows for a join.
    pub fn source(&self) -> &Arc<Source> {
        match self {
            QueryPlan::Stream(p) => &p.source,
            QueryPlan::Aggregate(p) => &p.source,
            QueryPlan::Join(j) => j.then.source(),
        }
    }
    pub fn output(&self) -> &[OutputColumn] {
        match self {
            QueryPlan::Stream(p) => &p.output,
            QueryPlan::Aggregate(p) => &p.output,
            QueryPlan::Join(j) => j.then.output(),
        }
    }
    /// How the output's keys are windowed, if they are.
    pub fn window(&self) -> Option<crate::catalog::WindowInfo> {
        use crate::catalog::{WindowInfo, WindowType};
        use crate::sql::ast::WindowKind;
        let p = match self {
            // A query over a windowed source keeps its windows.
            QueryPlan::Stream(s) => return s.source.window,
            QueryPlan::Join(j) => return j.then.window(),
            QueryPlan::Aggregate(p) => p,
        };
        Some(match p.window.as_ref()?.kind {
            WindowKind::Tumbling { size_ms } => WindowInfo {
                kind: WindowType::Tumbling,
                size_ms: Some(size_ms),
            },
            WindowKind::Hopping { size_ms, .. } => WindowInfo {
                kind: WindowType::Hopping,
                size_ms: Some(size_ms),
            },
            WindowKind::Session { .. } => WindowInfo {
                kind: WindowType::Session,
                size_ms: None,
            },
        })
    }
}

/// Names generated for unaliased expressions: `KSQL_COL_n`, skipping names already taken.
pub(crate) struct NameGenerator {
    next: usize,
    taken: Vec<String>,
}

impl NameGenerator {
    fn new(taken: Vec<String>) -> Self {
        NameGenerator { next: 0, taken }
    }
    fn next(&mut self) -> String {
        loop {
            let n = format!("KSQL_COL_{}", self.next);
            self.next += 1;
            if !self.taken.contains(&n) {
                self.taken.push(n.clone());
                return n;
            }
        }
    }
}

/// What both planners start from: the source's row schema, the names that qualify its columns,
/// the compiled WHERE clause, and a generator of column names that avoids the source's.
pub(crate) struct Input {
    pub schema: SchemaRef,
    pub qualifiers: Vec<String>,
    pub filter: Option<PhysExpr>,
    pub names: NameGenerator,
}

pub(crate) fn bind_input(compiler: &ExprCompiler, query: &Query, source: &Source) -> Result<Input> {
    let schema = source.row_schema();
    let mut qualifiers = vec![source.name.clone()];
    qualifiers.extend(query.from.alias.clone());
    let filter = query
        .selection
        .as_ref()
        .map(|e| {
            compiler.compile_condition(&ExprCompiler::normalize(e, &qualifiers), &schema, "WHERE")
        })
        .transpose()?;
    let names = NameGenerator::new(source.columns.iter().map(|c| c.name.clone()).collect());
    Ok(Input {
        schema,
        qualifiers,
        filter,
        names,
    })
}

fn is_null_literal(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(v.value, datafusion::sql::sqlparser::ast::Value::Null))
}

pub(crate) fn contains_map(t: &SqlType) -> bool {
    match t {
        SqlType::Map(_, _) => true,
        SqlType::Array(e) => contains_map(e),
        SqlType::Struct(f) => f.iter().any(|(_, t)| contains_map(t)),
        _ => false,
    }
}

pub(crate) fn sql_type(e: &PhysExpr, schema: &Schema, name: &str) -> Result<SqlType> {
    let dt = e.data_type(schema)?;
    if dt == DataType::Null {
        return Err(Error::statement(
            "Can't infer a type of null. Please explicitly cast it to a required type, e.g. CAST(null AS VARCHAR).",
        ));
    }
    SqlType::from_arrow(&dt)
        .ok_or_else(|| Error::statement(format!("Unsupported type {dt} for column {name}")))
}

/// How a query is to be planned: persistent (a CSAS/CTAS writing `sink`) or transient, and
/// the session's caps on COLLECT_LIST / COLLECT_SET.
pub struct PlanOptions<'a> {
    pub persistent: bool,
    pub sink: &'a str,
    pub collect_list_limit: Option<usize>,
    pub collect_set_limit: Option<usize>,
}

/// Plans a query over its sources (the FROM source, then each joined one): the one entry
/// point of planning, which picks a join, an aggregation or a stream query.
pub fn plan(
    compiler: &ExprCompiler,
    query: &Query,
    mut sources: Vec<Arc<Source>>,
    options: &PlanOptions,
) -> Result<QueryPlan> {
    let (persistent, sink) = (options.persistent, options.sink);
    // A push query aggregating without GROUP BY aggregates every row as one group, as
    // ksqlDB's do (`SELECT COUNT(*) FROM s EMIT CHANGES`).
    let one_group;
    let query = if query.group_by.is_empty() && aggregates_ungrouped(compiler, query) {
        if persistent {
            return Err(Error::statement(
                "Aggregate query needs GROUP BY clause. (A push query may aggregate without one: every row is then one group.)",
            ));
        }
        one_group = Query {
            group_by: vec![Expr::Value(
                datafusion::sql::sqlparser::ast::Value::Number("1".into(), false).into(),
            )],
            ..query.clone()
        };
        &one_group
    } else {
        query
    };
    if query.dedup.is_some() {
        check_dedup(query, &sources[0])?;
    }
    let mut plan = if query.joins.is_empty() && sources.len() == 1 {
        let input = sources.remove(0);
        let table = input.kind == crate::sql::ast::SourceKind::Table;
        let mut plan = plan_select(compiler, query, input, persistent, sink)?;
        // A persistent query over one table is a table: what its filter rejects is deleted
        // from it. A push query sends the rows that pass and the table's own deletions only,
        // as ksqlDB's do.
        if let QueryPlan::Stream(p) = &mut plan {
            p.retract_filtered = table && persistent;
        }
        plan
    } else {
        join::plan_join(compiler, query, sources, persistent, sink)?
    };
    let aggregate = match &mut plan {
        QueryPlan::Aggregate(p) => Some(p),
        QueryPlan::Join(j) => match &mut j.then {
            QueryPlan::Aggregate(p) => Some(p),
            _ => None,
        },
        QueryPlan::Stream(_) => None,
    };
    if let Some(p) = aggregate {
        for call in &mut p.aggregates {
            let cap = match call.kind {
                aggregate::AggKind::CollectList => options.collect_list_limit,
                aggregate::AggKind::CollectSet => options.collect_set_limit,
                _ => None,
            };
            call.limit = cap.unwrap_or(call.limit);
        }
    }
    Ok(plan)
}

/// Whether the query's SELECT or HAVING calls an aggregate function (ksqlDB's or a
/// user-defined one).
fn aggregates_ungrouped(compiler: &ExprCompiler, query: &Query) -> bool {
    use datafusion::sql::sqlparser::ast::{visit_expressions, SelectItem};
    use std::ops::ControlFlow;
    let is_aggregate = |name: &str| {
        let upper = name.to_uppercase();
        aggregate::AGGREGATES.contains(&upper.as_str())
            || compiler
                .aggregates()
                .iter()
                .any(|a| a.name().eq_ignore_ascii_case(name))
    };
    let calls = |e: &Expr| {
        visit_expressions(e, |e: &Expr| match e {
            Expr::Function(f) if is_aggregate(&f.name.to_string()) => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        })
        .is_break()
    };
    let selected = query.select.iter().any(|item| match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => calls(e),
        _ => false,
    });
    selected || query.having.as_ref().is_some_and(calls)
}

/// Where `DEDUPLICATE BY` applies: a query over one stream, without GROUP BY or a join.
fn check_dedup(query: &Query, source: &Source) -> Result<()> {
    let refuse = |why: &str| Err(Error::statement(format!("DEDUPLICATE BY {why}")));
    if !query.joins.is_empty() || !query.group_by.is_empty() || query.window.is_some() {
        return refuse("applies to a query over one stream without JOIN, WINDOW or GROUP BY: deduplicate into a stream first, then join or aggregate that stream.");
    }
    if source.kind == crate::sql::ast::SourceKind::Table {
        return refuse(&format!(
            "applies to streams: {} is a table, which holds one row per key already.",
            source.name
        ));
    }
    match query.dedup.as_ref().map(|d| d.within_ms) {
        Some(ms) if ms <= 0 => refuse("needs a positive WITHIN bound."),
        _ => Ok(()),
    }
}

/// Plans a SELECT: an aggregation when it groups, else a stream query.
pub fn plan_select(
    compiler: &ExprCompiler,
    query: &Query,
    source: Arc<Source>,
    persistent: bool,
    sink: &str,
) -> Result<QueryPlan> {
    if !query.joins.is_empty() {
        return Err(Error::statement(
            "A join's sources are planned by plan_join",
        ));
    }
    Ok(if query.group_by.is_empty() {
        let table = source.kind == crate::sql::ast::SourceKind::Table;
        if table && !query.partition_by.is_empty() {
            return Err(Error::statement(format!(
                "PARTITION BY is only supported on streams: {} is a table.",
                source.name
            )));
        }
        QueryPlan::Stream(plan_query(compiler, query, source, persistent, sink)?)
    } else {
        // ksqlDB's Analyzer: KAFKA values hold one primitive, which its GROUP BY cannot
        // repartition or aggregate over.
        if source.value_format.format == crate::format::Format::Kafka {
            let name = query.from.alias.as_deref().unwrap_or(&source.name);
            return Err(Error::statement(format!(
                "Source(s) {name} are using the 'KAFKA' value format. This format does not yet support GROUP BY."
            )));
        }
        QueryPlan::Aggregate(aggregate::plan_aggregate(
            compiler, query, source, persistent, sink,
        )?)
    })
}

/// Plans `query` over `source`. `persistent` queries (CSAS) are held to ksqlDB's rules on
/// key columns in the projection.
pub fn plan_query(
    compiler: &ExprCompiler,
    query: &Query,
    source: Arc<Source>,
    persistent: bool,
    sink: &str,
) -> Result<StreamPlan> {
    if query.window.is_some() || !query.group_by.is_empty() || query.having.is_some() {
        return Err(Error::statement(
            "Aggregations and windows are not supported yet",
        ));
    }
    let Input {
        schema,
        qualifiers,
        filter,
        mut names,
    } = bind_input(compiler, query, &source)?;

    // The schema the projection sees, its key columns, and the key expressions (normalized).
    let (rekey, key_exprs) = if query.partition_by.is_empty() {
        (None, Vec::new())
    } else {
        let (rekey, exprs) =
            plan_rekey(compiler, query, &source, &schema, &qualifiers, &mut names)?;
        (Some(rekey), exprs)
    };
    let proj_schema = rekey.as_ref().map_or(schema.clone(), |r| r.schema.clone());
    let key_names: Vec<String> = match &rekey {
        Some(r) => r.schema.fields()[PSEUDO_COLUMNS..PSEUDO_COLUMNS + r.keys.len()]
            .iter()
            .map(|f| f.name().clone())
            .collect(),
        None => source.keys().map(|c| c.name.clone()).collect(),
    };
    let ctx = projection::Context {
        compiler,
        schema: &proj_schema,
        qualifiers: &qualifiers,
        persistent,
        sink,
        join_key: source.join_key.as_deref().filter(|_| rekey.is_none()),
    };
    let mut output = projection::project(&ctx, &query.select, &key_names, &key_exprs, &mut names)?;
    if let Some(f) = &filter {
        if table_function_in(f) {
            return Err(Error::statement(
                "Table functions (EXPLODE, CUBE_EXPLODE) cannot be used in WHERE.",
            ));
        }
    }
    let explode = table_functions(&mut output, &proj_schema)?;
    let dedup = match &query.dedup {
        Some(d) => {
            let mut keys = Vec::new();
            for e in &d.by {
                let e = ExprCompiler::normalize(e, &qualifiers);
                keys.push(compiler.compile(&e, &schema)?);
            }
            Some(DedupPlan {
                keys,
                within_ms: d.within_ms,
            })
        }
        None => None,
    };
    if !explode.is_empty() && source.kind == crate::sql::ast::SourceKind::Table {
        return Err(Error::statement(
            "Table source is not supported with table functions",
        ));
    }
    Ok(StreamPlan {
        source,
        input_schema: schema,
        filter,
        rekey,
        output,
        explode,
        limit: query.limit,
        retract_filtered: false,
        dedup,
    })
}

/// EXPLODE, CUBE_EXPLODE, or a user-defined table function.
fn is_table_function(e: &PhysExpr) -> bool {
    e.downcast_ref::<datafusion::physical_expr::ScalarFunctionExpr>()
        .is_some_and(|f| {
            crate::functions::table::NAMES.contains(&f.name())
                || f.fun()
                    .inner()
                    .downcast_ref::<crate::functions::row::RowFunction>()
                    .is_some_and(|r| r.is_table())
        })
}

fn table_function_in(e: &PhysExpr) -> bool {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let mut found = false;
    let _ = e.apply(|x| {
        found |= is_table_function(x);
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

/// The output columns that are table function calls; their type becomes their elements'.
/// A table function anywhere but as a select item's outermost call is refused (as ksqlDB).
fn table_functions(output: &mut [OutputColumn], schema: &Schema) -> Result<Vec<usize>> {
    let mut found = Vec::new();
    for (i, c) in output.iter_mut().enumerate() {
        let top = is_table_function(&c.expr);
        let inner = if top {
            c.expr.children().into_iter().any(table_function_in)
        } else {
            table_function_in(&c.expr)
        };
        if inner {
            return Err(Error::statement(format!(
                "Table functions (EXPLODE, CUBE_EXPLODE) must be the outermost call of a select item: {}",
                c.column.name
            )));
        }
        if top {
            let element = match c.expr.data_type(schema)? {
                datafusion::arrow::datatypes::DataType::List(f) => f.data_type().clone(),
                other => {
                    return Err(Error::statement(format!(
                        "A table function needs an ARRAY, not {other}"
                    )))
                }
            };
            c.column.ty = sql_type_of(&element, &c.column.name)?;
            found.push(i);
        }
    }
    Ok(found)
}

fn sql_type_of(t: &datafusion::arrow::datatypes::DataType, name: &str) -> Result<SqlType> {
    SqlType::from_arrow(t)
        .ok_or_else(|| Error::statement(format!("Unsupported type {t} for column {name}")))
}

fn plan_rekey(
    compiler: &ExprCompiler,
    query: &Query,
    source: &Source,
    schema: &SchemaRef,
    qualifiers: &[String],
    names: &mut NameGenerator,
) -> Result<(Rekey, Vec<(String, Expr)>)> {
    let partition = &query.partition_by;
    if partition.iter().any(is_null_literal) && partition.len() > 1 {
        return Err(Error::statement(
            "Cannot PARTITION BY multiple columns including NULL",
        ));
    }
    let mut keys = Vec::new();
    let mut fields: Vec<Field> = schema.fields()[..PSEUDO_COLUMNS]
        .iter()
        .map(|f| (**f).clone())
        .collect();
    let mut exprs = Vec::new();
    let mut moved: Vec<String> = Vec::new();
    if !(partition.len() == 1 && is_null_literal(&partition[0])) {
        for pe in partition {
            let normalized = ExprCompiler::normalize(pe, qualifiers);
            let compiled = compiler.compile(&normalized, schema)?;
            let name = match &normalized {
                Expr::Identifier(id) => {
                    moved.push(id.value.clone());
                    id.value.clone()
                }
                _ => match projection::field_name(pe) {
                    Some(f) => f,
                    None => projection::alias_of(&query.select, &normalized, qualifiers)
                        .unwrap_or_else(|| names.next()),
                },
            };
            let ty = sql_type(&compiled, schema, &name)?;
            if contains_map(&ty) {
                return Err(Error::statement(format!(
                    "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{name}`. Column type: {ty}. See https://github.com/confluentinc/ksql/issues/6621 for more."
                )));
            }
            fields.push(Field::new(&name, ty.to_arrow(), true));
            keys.push(compiled);
            exprs.push((name, normalized));
        }
    }
    // Value and header columns stay, then the old key columns move into the value.
    let mut carry = Vec::new();
    let stay = source.columns.iter().filter(|c| c.kind != ColumnKind::Key);
    for c in stay.chain(source.keys()) {
        // Hidden columns (a join's key) stay behind.
        if moved.contains(&c.name) || c.name.starts_with('\u{1}') {
            continue;
        }
        if let Ok(i) = schema.index_of(&c.name) {
            carry.push(i);
            fields.push(schema.field(i).clone());
        }
    }
    Ok((
        Rekey {
            from_source_key: keys
                .iter()
                .map(|k| {
                    let source_keys = PSEUDO_COLUMNS..PSEUDO_COLUMNS + source.keys().count();
                    datafusion::physical_expr::utils::collect_columns(k)
                        .iter()
                        .all(|c| source_keys.contains(&c.index()))
                })
                .collect(),
            keys,
            carry,
            schema: Arc::new(Schema::new(fields)),
        },
        exprs,
    ))
}
