//! GROUP BY: group key expressions and aggregate calls over the input, and the projection and
//! HAVING compiled over the aggregated row (the group keys, then one column per aggregate).

use super::expr::{ExprCompiler, PhysExpr};
use super::projection::{self, field_name};
use super::{bind_input, sql_type, Input, OutputColumn};
use crate::catalog::types::SqlType;
use crate::catalog::Source;
use crate::catalog::{WINDOWEND, WINDOWSTART};
use crate::error::{Error, Result};
use crate::functions::udaf::{UdafInstance, UserAggregate};
use crate::sql::ast::{Expr, Ident, Query, SelectItem, WindowSpec};
use crate::sql::ident_name;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, FunctionArg, FunctionArgExpr, FunctionArguments,
};
use std::ops::ControlFlow;
use std::sync::Arc;

/// The aggregate functions Brooklet computes (ksqlDB's semantics, see `exec::accumulator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggKind {
    /// COUNT(*) or COUNT(): rows.
    CountRows,
    /// COUNT(x): rows where x is not NULL.
    Count,
    Sum,
    Min,
    Max,
    Avg,
    CollectList,
    CollectSet,
    EarliestByOffset,
    LatestByOffset,
    TopK,
    TopKDistinct,
    Histogram,
    StddevSamp,
    StddevPop,
    Variance,
    Correlation,
    Attr,
    CountDistinct,
    /// A user-defined aggregate (`functions::udaf`), resolved per call.
    User,
}

/// A call's literal parameters after its column arguments (`TOPK(x, 3)`,
/// `EARLIEST_BY_OFFSET(x, 2, false)`).
enum Param {
    Int,
    Bool,
}

/// The aggregate functions, by name.
pub const AGGREGATES: &[&str] = &[
    "ATTR",
    "AVG",
    "COLLECT_LIST",
    "COLLECT_SET",
    "CORRELATION",
    "COUNT",
    "COUNT_DISTINCT",
    "EARLIEST_BY_OFFSET",
    "HISTOGRAM",
    "LATEST_BY_OFFSET",
    "MAX",
    "MIN",
    "STDDEV_POP",
    "STDDEV_SAMP",
    "STDDEV_SAMPLE",
    "SUM",
    "TOPK",
    "TOPKDISTINCT",
    "VARIANCE",
];

impl AggKind {
    /// The aggregate a function name denotes, if any.
    fn from_name(name: &str) -> Option<AggKind> {
        Some(match name.to_ascii_uppercase().as_str() {
            "COUNT" => AggKind::Count,
            "SUM" => AggKind::Sum,
            "MIN" => AggKind::Min,
            "MAX" => AggKind::Max,
            "AVG" => AggKind::Avg,
            "COLLECT_LIST" => AggKind::CollectList,
            "COLLECT_SET" => AggKind::CollectSet,
            "EARLIEST_BY_OFFSET" => AggKind::EarliestByOffset,
            "LATEST_BY_OFFSET" => AggKind::LatestByOffset,
            "TOPK" => AggKind::TopK,
            "TOPKDISTINCT" => AggKind::TopKDistinct,
            "HISTOGRAM" => AggKind::Histogram,
            "STDDEV_SAMP" | "STDDEV_SAMPLE" => AggKind::StddevSamp,
            "STDDEV_POP" => AggKind::StddevPop,
            "VARIANCE" => AggKind::Variance,
            "CORRELATION" => AggKind::Correlation,
            "ATTR" => AggKind::Attr,
            "COUNT_DISTINCT" => AggKind::CountDistinct,
            _ => return None,
        })
    }

    /// ksqlDB's name of the function.
    pub fn name(self) -> &'static str {
        match self {
            AggKind::CountRows | AggKind::Count => "COUNT",
            AggKind::Sum => "SUM",
            AggKind::Min => "MIN",
            AggKind::Max => "MAX",
            AggKind::Avg => "AVG",
            AggKind::CollectList => "COLLECT_LIST",
            AggKind::CollectSet => "COLLECT_SET",
            AggKind::EarliestByOffset => "EARLIEST_BY_OFFSET",
            AggKind::LatestByOffset => "LATEST_BY_OFFSET",
            AggKind::TopK => "TOPK",
            AggKind::TopKDistinct => "TOPKDISTINCT",
            AggKind::Histogram => "HISTOGRAM",
            AggKind::StddevSamp => "STDDEV_SAMP",
            AggKind::StddevPop => "STDDEV_POP",
            AggKind::Variance => "VARIANCE",
            AggKind::Correlation => "CORRELATION",
            AggKind::Attr => "ATTR",
            AggKind::CountDistinct => "COUNT_DISTINCT",
            AggKind::User => "UDAF",
        }
    }

    /// Whether ksqlDB keeps the function's intermediate state as a primitive (AVG keeps a
    /// struct of sum and count, CORRELATION and STDDEV structs of sums, the offset functions
    /// a struct of sequence and value, the collecting ones lists and maps).
    pub fn primitive_state(self) -> bool {
        matches!(
            self,
            AggKind::CountRows
                | AggKind::Count
                | AggKind::Sum
                | AggKind::Min
                | AggKind::Max
                | AggKind::CountDistinct
                | AggKind::User
        )
    }

    /// Whether a table row's old value can be retracted (ksqlDB's table aggregation functions).
    pub fn undoable(self) -> bool {
        matches!(
            self,
            AggKind::CountRows
                | AggKind::Count
                | AggKind::Sum
                | AggKind::Avg
                | AggKind::CollectList
                | AggKind::Histogram
                | AggKind::StddevSamp
                | AggKind::StddevPop
                | AggKind::Variance
                | AggKind::Correlation
                | AggKind::Attr
        )
    }

    /// The accepted call shapes: column arguments, then literal parameters (each optional
    /// from the first marked so).
    fn signatures(self) -> &'static [(usize, &'static [Param])] {
        match self {
            AggKind::CountRows | AggKind::Count => &[(0, &[]), (1, &[])],
            AggKind::EarliestByOffset | AggKind::LatestByOffset => &[
                (1, &[]),
                (1, &[Param::Bool]),
                (1, &[Param::Int]),
                (1, &[Param::Int, Param::Bool]),
            ],
            AggKind::TopKDistinct => &[(1, &[Param::Int])],
            // TOPK(sort_col, other_col..., k) carries other columns beside the one it sorts by.
            AggKind::TopK => &[
                (1, &[Param::Int]),
                (2, &[Param::Int]),
                (3, &[Param::Int]),
                (4, &[Param::Int]),
                (5, &[Param::Int]),
                (6, &[Param::Int]),
            ],
            AggKind::Correlation => &[(2, &[])],
            AggKind::User => &[],
            _ => &[(1, &[])],
        }
    }

    /// The result type for the argument types, as ksqlDB types it.
    pub fn result_type(self, args: &[SqlType], n: usize) -> Result<SqlType> {
        let numeric = |t: &SqlType| {
            matches!(
                t,
                SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::Decimal(_, _)
            )
        };
        let array = |t: &SqlType| SqlType::Array(Box::new(t.clone()));
        Ok(match (self, args) {
            (AggKind::CountRows | AggKind::Count | AggKind::CountDistinct, _) => SqlType::Bigint,
            (AggKind::Avg, [t]) if numeric(t) => SqlType::Double,
            (AggKind::Sum, [t]) if numeric(t) => t.clone(),
            (AggKind::Min | AggKind::Max, [t]) if t.is_primitive() => t.clone(),
            (AggKind::CollectList | AggKind::CollectSet, [t]) => array(t),
            (AggKind::EarliestByOffset | AggKind::LatestByOffset, [t]) if n > 0 => array(t),
            (AggKind::EarliestByOffset | AggKind::LatestByOffset | AggKind::Attr, [t]) => t.clone(),
            (AggKind::TopK | AggKind::TopKDistinct, [t]) if t.is_primitive() => array(t),
            // ksqlDB's struct of the sort column and the carried ones: `sort_col`, `col0`, ...
            (AggKind::TopK, [t, rest @ ..]) if t.is_primitive() => {
                let mut fields = vec![("sort_col".to_string(), t.clone())];
                fields.extend(
                    rest.iter()
                        .enumerate()
                        .map(|(i, t)| (format!("col{i}"), t.clone())),
                );
                array(&SqlType::Struct(fields))
            }
            (AggKind::Histogram, [SqlType::String]) => {
                SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Bigint))
            }
            (AggKind::StddevSamp | AggKind::StddevPop | AggKind::Variance, [t]) if numeric(t) => {
                SqlType::Double
            }
            (AggKind::Correlation, [x, y]) if numeric(x) && numeric(y) => SqlType::Double,
            (k, ts) => {
                let list: Vec<String> = ts.iter().map(|t| t.to_string()).collect();
                return Err(Error::statement(format!(
                    "Function '{}' does not accept parameters ({}).",
                    k.name(),
                    list.join(", ")
                )));
            }
        })
    }
}

/// An aggregate call as written: the function, its column arguments and literal parameters.
#[derive(Debug, Clone, PartialEq)]
struct CallSpec {
    kind: AggKind,
    args: Vec<Expr>,
    n: usize,
    ignore_nulls: bool,
    /// A user-defined aggregate's name.
    user: Option<String>,
}

impl CallSpec {
    /// The call `name(args)` if `name` is an aggregate; an error for a shape it does not take.
    fn parse(
        name: &str,
        args: Vec<Expr>,
        users: &[Arc<dyn UserAggregate>],
    ) -> Result<Option<CallSpec>> {
        let Some(mut kind) = AggKind::from_name(name) else {
            let user = users.iter().find(|u| u.name().eq_ignore_ascii_case(name));
            return Ok(user.map(|u| CallSpec {
                kind: AggKind::User,
                args,
                n: 0,
                ignore_nulls: true,
                user: Some(u.name().to_string()),
            }));
        };
        if kind == AggKind::Count && args.is_empty() {
            kind = AggKind::CountRows;
        }
        let mut last_error = None;
        for (cols, params) in kind.signatures() {
            if cols + params.len() != args.len() {
                continue;
            }
            let mut spec = CallSpec {
                kind,
                args: args[..*cols].to_vec(),
                n: 0,
                ignore_nulls: true,
                user: None,
            };
            match params
                .iter()
                .zip(&args[*cols..])
                .try_for_each(|(p, e)| spec.set_param(p, e))
            {
                Ok(()) => return Ok(Some(spec)),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            Error::statement(format!(
                "Function '{}' does not accept {} argument(s).",
                kind.name(),
                args.len()
            ))
        }))
    }

    /// Sets a literal parameter (the INT literal may come wrapped in a cast by normalization).
    fn set_param(&mut self, p: &Param, e: &Expr) -> Result<()> {
        use datafusion::sql::sqlparser::ast::Value;
        let literal = match e {
            Expr::Value(v) => Some(&v.value),
            Expr::Cast { expr, .. } => match expr.as_ref() {
                Expr::Value(v) => Some(&v.value),
                _ => None,
            },
            _ => None,
        };
        match (p, literal) {
            (Param::Int, Some(Value::Number(text, _))) => match text.parse::<usize>() {
                Ok(n) if n > 0 => self.n = n,
                _ => {
                    return Err(Error::statement(format!(
                        "{}: the number of values must be a positive integer, got {text}",
                        self.kind.name()
                    )))
                }
            },
            (Param::Bool, Some(Value::Boolean(b))) => self.ignore_nulls = *b,
            _ => {
                return Err(Error::statement(format!(
                    "Parameter {e} of {} must be a literal {}",
                    self.kind.name(),
                    match p {
                        Param::Int => "INT",
                        Param::Bool => "BOOLEAN",
                    }
                )))
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct AggCall {
    pub kind: AggKind,
    /// The column arguments, evaluated over the input (none for COUNT(*)), and their types.
    pub args: Vec<PhysExpr>,
    pub arg_types: Vec<SqlType>,
    pub result: SqlType,
    /// TOPK's k, or the N of EARLIEST/LATEST_BY_OFFSET's array forms (0: the scalar form).
    pub n: usize,
    /// EARLIEST/LATEST_BY_OFFSET skip NULLs unless told otherwise.
    pub ignore_nulls: bool,
    /// COLLECT_LIST / COLLECT_SET keep at most this many values.
    pub limit: usize,
    /// A user-defined aggregate's resolved call.
    pub user: Option<Arc<dyn UdafInstance>>,
}

impl AggCall {
    /// Whether a table row's old value can be retracted.
    pub fn undoable(&self) -> bool {
        match &self.user {
            Some(u) => u.undoable(),
            None => self.kind.undoable(),
        }
    }
}

/// ksqlDB's default cap on COLLECT_LIST and COLLECT_SET.
pub const COLLECT_LIMIT: usize = 1000;

#[derive(Debug, Clone)]
pub struct AggregatePlan {
    pub source: Arc<Source>,
    pub input_schema: SchemaRef,
    pub filter: Option<PhysExpr>,
    /// Group key expressions over the input, with their output names and types.
    pub keys: Vec<(String, PhysExpr, SqlType)>,
    pub aggregates: Vec<AggCall>,
    /// Keys then aggregate results.
    pub agg_schema: SchemaRef,
    pub output: Vec<OutputColumn>,
    pub having: Option<PhysExpr>,
    /// Tumbling or hopping windows; the aggregated row then has WINDOWSTART and WINDOWEND
    /// after the keys.
    pub window: Option<WindowSpec>,
    /// EMIT FINAL: one result per window, when it closes.
    pub emit_final: bool,
}

fn agg_column(i: usize) -> String {
    format!("\u{1}AGG_{i}")
}

fn function_args(f: &datafusion::sql::sqlparser::ast::Function) -> Vec<Expr> {
    match &f.args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Resolves a user-defined aggregate's call from its arguments' types and literal values;
/// keeps, of `args`, those it aggregates per row (the rest were its initial arguments).
fn resolve_user(
    compiler: &ExprCompiler,
    name: &str,
    args: &mut Vec<PhysExpr>,
    types: &mut Vec<SqlType>,
) -> Result<Arc<dyn UdafInstance>> {
    let Some(user) = compiler
        .aggregates()
        .iter()
        .find(|u| u.name().eq_ignore_ascii_case(name))
    else {
        return Err(Error::statement(format!(
            "Unknown aggregate function {name}"
        )));
    };
    // A literal's value: an expression of no column, evaluated over one empty row.
    let one_row = datafusion::arrow::record_batch::RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &datafusion::arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    let literals: Vec<Option<datafusion::common::ScalarValue>> = args
        .iter()
        .map(|a| {
            if !datafusion::physical_expr::utils::collect_columns(a).is_empty() {
                return None;
            }
            let v = a.evaluate(&one_row).ok()?.into_array(1).ok()?;
            datafusion::common::ScalarValue::try_from_array(&v, 0).ok()
        })
        .collect();
    let instance = user.resolve(types, &literals)?;
    args.truncate(instance.columns());
    types.truncate(instance.columns());
    Ok(instance)
}

/// Replaces aggregate calls in `e` with references to their result columns, collecting them.
fn extract_aggregates(
    e: &mut Expr,
    found: &mut Vec<CallSpec>,
    users: &[Arc<dyn UserAggregate>],
) -> Result<()> {
    let mut error = None;
    let _ = visit_expressions_mut(e, |node: &mut Expr| {
        if let Expr::Function(f) = node {
            let args = function_args(f);
            match CallSpec::parse(&f.name.to_string(), args, users) {
                Ok(Some(call)) => {
                    let i = found.iter().position(|c| c == &call).unwrap_or_else(|| {
                        found.push(call);
                        found.len() - 1
                    });
                    *node = Expr::Identifier(Ident::with_quote('"', agg_column(i)));
                }
                Ok(None) => {}
                Err(e) => {
                    error = Some(e);
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    });
    error.map_or(Ok(()), Err)
}

/// The select items, `*` (and `alias.*`) expanded to the source's columns, with their aliases.
fn select_items(select: &[SelectItem], source: &Source) -> Result<Vec<(Expr, Option<String>)>> {
    let mut items = Vec::with_capacity(select.len());
    for item in select {
        match item {
            SelectItem::UnnamedExpr(e) => items.push((e.clone(), None)),
            SelectItem::ExprWithAlias { expr, alias } => {
                items.push((expr.clone(), Some(ident_name(alias))))
            }
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                items.extend(source.columns.iter().map(|c| {
                    (
                        Expr::Identifier(Ident::with_quote('"', c.name.clone())),
                        None,
                    )
                }))
            }
            other => {
                return Err(Error::statement(format!(
                    "{other} is not supported in an aggregation's SELECT"
                )))
            }
        }
    }
    Ok(items)
}

/// An expression as GROUP BY matching sees it: function names in one case and parentheses
/// gone, so `initcap(col1)` in the select list is the key `INITCAP(col1)`.
fn canonical(e: &Expr) -> Expr {
    let mut e = e.clone();
    let _ = visit_expressions_mut(&mut e, |node: &mut Expr| {
        match node {
            Expr::Nested(inner) => *node = (**inner).clone(),
            Expr::Function(f) => {
                for part in f.name.0.iter_mut() {
                    if let datafusion::sql::sqlparser::ast::ObjectNamePart::Identifier(id) = part {
                        if id.quote_style.is_none() {
                            id.value = id.value.to_uppercase();
                        }
                    }
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    e
}

/// Replaces occurrences of the group expressions in `e` with their key columns.
fn replace_keys(e: &mut Expr, keys: &[(String, Expr)]) {
    let _ = visit_expressions_mut(e, |node: &mut Expr| {
        let node_canonical = canonical(node);
        if let Some((name, _)) = keys.iter().find(|(_, k)| *k == node_canonical) {
            *node = Expr::Identifier(Ident::with_quote('"', name.clone()));
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Whether a select list calls EXPLODE or CUBE_EXPLODE.
fn calls_table_function(select: &Vec<crate::sql::ast::SelectItem>) -> bool {
    use datafusion::sql::sqlparser::ast::visit_expressions;
    use std::ops::ControlFlow;
    let found = visit_expressions(select, |e| match e {
        Expr::Function(f)
            if crate::functions::table::NAMES
                .contains(&f.name.to_string().to_lowercase().as_str()) =>
        {
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    });
    found.is_break()
}

/// The aggregate calls compiled over the input `schema`, each adding its result column to
/// `fields`; a user-defined aggregate is resolved from its arguments.
fn compile_calls(
    compiler: &ExprCompiler,
    calls: &[CallSpec],
    schema: &SchemaRef,
    fields: &mut Vec<Field>,
) -> Result<Vec<AggCall>> {
    let mut aggregates = Vec::with_capacity(calls.len());
    for (i, call) in calls.iter().enumerate() {
        let mut args = call
            .args
            .iter()
            .map(|a| compiler.compile(a, schema))
            .collect::<Result<Vec<_>>>()?;
        let mut arg_types = args
            .iter()
            .map(|a| sql_type(a, schema, "argument"))
            .collect::<Result<Vec<_>>>()?;
        let user = match &call.user {
            Some(name) => Some(resolve_user(compiler, name, &mut args, &mut arg_types)?),
            None => None,
        };
        let result = match &user {
            Some(u) => u.result_type(),
            None => call.kind.result_type(&arg_types, call.n)?,
        };
        fields.push(Field::new(agg_column(i), result.to_arrow(), true));
        aggregates.push(AggCall {
            kind: call.kind,
            args,
            arg_types,
            result,
            n: call.n,
            ignore_nulls: call.ignore_nulls,
            limit: COLLECT_LIMIT,
            user,
        });
    }
    Ok(aggregates)
}

/// ksqlDB's checks of the calls against the source: DELIMITED values hold primitive states
/// only; over a table, only functions that can retract a row.
fn check_calls(source: &Source, aggregates: &[AggCall]) -> Result<()> {
    // An aggregation's state goes through the value format (ksqlDB's changelog): DELIMITED
    // holds primitives only, so a function whose state is a struct, list or map is refused.
    if source.value_format.format == crate::format::Format::Delimited
        && aggregates.iter().any(|a| !a.kind.primitive_state())
    {
        return Err(Error::statement(
            "One of the functions used in the statement has an intermediate type that the value format can not handle. Please remove the function or change the format.",
        ));
    }
    if source.kind == crate::sql::ast::SourceKind::Table {
        let mut refused: Vec<&str> = aggregates
            .iter()
            .filter(|a| !a.undoable())
            .map(|a| a.kind.name())
            .collect();
        refused.dedup();
        if !refused.is_empty() {
            return Err(Error::statement(format!(
                "The aggregation functions {} cannot be applied to a table source, only to a stream source.",
                refused.join(", ")
            )));
        }
    }
    Ok(())
}

pub fn plan_aggregate(
    compiler: &ExprCompiler,
    query: &Query,
    source: Arc<Source>,
    persistent: bool,
    sink: &str,
) -> Result<AggregatePlan> {
    if calls_table_function(&query.select) {
        return Err(Error::statement(
            "Table functions cannot be used with aggregations.",
        ));
    }
    let Input {
        schema,
        qualifiers,
        filter,
        mut names,
    } = bind_input(compiler, query, &source)?;
    let normalize = |e: &Expr| ExprCompiler::normalize(e, &qualifiers);

    // The select list, `*` expanded to the source's columns, each item named as ksqlDB names
    // it: its alias, its column, its struct field, or the next KSQL_COL_n in select order.
    let items = select_items(&query.select, &source)?;
    // Each item normalized once: named, matched against the keys (canonically), rewritten.
    let normalized: Vec<Expr> = items.iter().map(|(e, _)| normalize(e)).collect();
    let canonicals: Vec<Expr> = normalized.iter().map(canonical).collect();
    let item_names: Vec<String> = items
        .iter()
        .zip(&normalized)
        .map(|((expr, alias), n)| match (alias, n) {
            (Some(a), _) => a.clone(),
            (None, Expr::Identifier(id)) => id.value.clone(),
            (None, _) => field_name(expr).unwrap_or_else(|| names.next()),
        })
        .collect();

    let mut keys = Vec::new();
    let mut key_exprs: Vec<(String, Expr)> = Vec::new();
    for g in &query.group_by {
        let normalized = canonical(&normalize(g));
        let compiled = compiler.compile(&normalized, &schema)?;
        let selected = canonicals
            .iter()
            .position(|c| *c == normalized)
            .map(|i| item_names[i].clone());
        let name = match (&normalized, selected) {
            (Expr::Identifier(id), _) => id.value.clone(),
            (_, Some(n)) => n,
            _ => field_name(g).unwrap_or_else(|| names.next()),
        };
        let ty = sql_type(&compiled, &schema, &name)?;
        keys.push((name.clone(), compiled, ty));
        key_exprs.push((name, normalized));
    }

    // The select list and HAVING over the aggregated row.
    let mut calls = Vec::new();
    let mut select = Vec::new();
    for (mut rewritten, name) in normalized.into_iter().zip(item_names) {
        while let Expr::Nested(inner) = rewritten {
            rewritten = *inner;
        }
        extract_aggregates(&mut rewritten, &mut calls, compiler.aggregates())?;
        replace_keys(&mut rewritten, &key_exprs);
        select.push(SelectItem::ExprWithAlias {
            expr: rewritten,
            alias: Ident::with_quote('"', name),
        });
    }
    let having = match &query.having {
        Some(h) => {
            let mut rewritten = normalize(h);
            extract_aggregates(&mut rewritten, &mut calls, compiler.aggregates())?;
            replace_keys(&mut rewritten, &key_exprs);
            Some(rewritten)
        }
        None => None,
    };

    let mut fields: Vec<Field> = keys
        .iter()
        .map(|(n, _, t)| Field::new(n, t.to_arrow(), true))
        .collect();
    if query.window.is_some() {
        if source.kind == crate::sql::ast::SourceKind::Table {
            return Err(Error::statement(
                "WINDOW clause is not supported on a table source: aggregate a stream instead.",
            ));
        }
        fields.push(Field::new(WINDOWSTART, DataType::Int64, true));
        fields.push(Field::new(WINDOWEND, DataType::Int64, true));
    }
    let aggregates = compile_calls(compiler, &calls, &schema, &mut fields)?;
    check_calls(&source, &aggregates)?;
    let agg_schema = Arc::new(Schema::new(fields));
    let ctx = projection::Context {
        compiler,
        schema: &agg_schema,
        qualifiers: &[],
        persistent,
        sink,
        join_key: None,
    };
    let key_names: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
    let output = projection::project(&ctx, &select, &key_names, &[], &mut names).map_err(|e| {
        if e.message.contains("cannot be resolved") {
            Error::statement(format!(
                "Non-aggregate SELECT expression(s) not part of GROUP BY: {}",
                e.message
            ))
        } else {
            e
        }
    })?;
    let having = having
        .map(|h| compiler.compile_condition(&h, &agg_schema, "HAVING"))
        .transpose()?;
    Ok(AggregatePlan {
        source,
        input_schema: schema,
        filter,
        keys,
        aggregates,
        agg_schema,
        output,
        having,
        window: query.window.clone(),
        emit_final: query.emit == Some(crate::sql::ast::Emit::Final),
    })
}

#[cfg(test)]
mod tests {
    use super::{AggKind, AGGREGATES};

    #[test]
    fn every_listed_aggregate_resolves() {
        for name in AGGREGATES {
            assert!(AggKind::from_name(name).is_some(), "{name}");
            assert!(AggKind::from_name(&name.to_lowercase()).is_some(), "{name}");
        }
        assert!(AggKind::from_name("UCASE").is_none());
    }
}
