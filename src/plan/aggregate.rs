//! GROUP BY: group key expressions and aggregate calls over the input, and the projection and
//! HAVING compiled over the aggregated row (the group keys, then one column per aggregate).

use super::expr::{ExprCompiler, PhysExpr};
use super::projection::{self, field_name};
use super::{bind_input, sql_type, Input, OutputColumn};
use crate::catalog::types::SqlType;
use crate::catalog::Source;
use crate::catalog::{WINDOWEND, WINDOWSTART};
use crate::error::{Error, Result};
use crate::sql::ast::{Expr, Ident, Query, SelectItem, WindowKind, WindowSpec};
use crate::sql::ident_name;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, FunctionArg, FunctionArgExpr, FunctionArguments,
};
use std::ops::ControlFlow;
use std::sync::Arc;

/// The aggregate functions Brooklet computes (ksqlDB's semantics, see `exec::aggregate`).
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
}

impl AggKind {
    /// The aggregate a call names, if it is one; an error for forms not supported yet.
    fn from_call(name: &str, args: usize) -> Result<Option<AggKind>> {
        let kind = match (name.to_ascii_uppercase().as_str(), args) {
            ("COUNT", 0) => AggKind::CountRows,
            ("COUNT", 1) => AggKind::Count,
            ("SUM", 1) => AggKind::Sum,
            ("MIN", 1) => AggKind::Min,
            ("MAX", 1) => AggKind::Max,
            ("AVG", 1) => AggKind::Avg,
            ("COLLECT_LIST", 1) => AggKind::CollectList,
            ("COLLECT_SET", 1) => AggKind::CollectSet,
            ("EARLIEST_BY_OFFSET", 1) => AggKind::EarliestByOffset,
            ("LATEST_BY_OFFSET", 1) => AggKind::LatestByOffset,
            (
                n @ ("COUNT" | "SUM" | "MIN" | "MAX" | "AVG" | "COLLECT_LIST" | "COLLECT_SET"
                | "EARLIEST_BY_OFFSET" | "LATEST_BY_OFFSET" | "COUNT_DISTINCT" | "TOPK"
                | "TOPKDISTINCT" | "HISTOGRAM" | "STDDEV_SAMP" | "STDDEV_SAMPLE"
                | "STDDEV_POP" | "VARIANCE" | "CORRELATION" | "ATTR"),
                _,
            ) => {
                return Err(Error::statement(format!(
                    "The aggregate {n} with {args} argument(s) is not supported yet"
                )))
            }
            _ => return Ok(None),
        };
        Ok(Some(kind))
    }

    /// The result type for an argument type, as ksqlDB types it.
    pub fn result_type(self, arg: Option<&SqlType>) -> Result<SqlType> {
        Ok(match (self, arg) {
            (AggKind::CountRows | AggKind::Count, _) => SqlType::Bigint,
            (AggKind::Avg, _) => SqlType::Double,
            (
                AggKind::Sum,
                Some(
                    t @ (SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::Decimal(_, _)),
                ),
            ) => t.clone(),
            (AggKind::Min | AggKind::Max, Some(t)) if t.is_primitive() => t.clone(),
            (AggKind::CollectList | AggKind::CollectSet, Some(t)) => {
                SqlType::Array(Box::new(t.clone()))
            }
            (AggKind::EarliestByOffset | AggKind::LatestByOffset, Some(t)) => t.clone(),
            (k, t) => {
                return Err(Error::statement(format!(
                    "Function '{k:?}' does not accept parameters ({}).",
                    t.map_or("none".to_string(), |t| t.to_string())
                )))
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct AggCall {
    pub kind: AggKind,
    /// The argument, evaluated over the input (none for COUNT(*)).
    pub arg: Option<PhysExpr>,
    pub result: SqlType,
}

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

/// Replaces aggregate calls in `e` with references to their result columns, collecting them.
fn extract_aggregates(e: &mut Expr, found: &mut Vec<(AggKind, Option<Expr>)>) -> Result<()> {
    let mut error = None;
    let _ = visit_expressions_mut(e, |node: &mut Expr| {
        if let Expr::Function(f) = node {
            let args = function_args(f);
            match AggKind::from_call(&f.name.to_string(), args.len()) {
                Ok(Some(kind)) => {
                    let call = (kind, args.into_iter().next());
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

/// Replaces occurrences of the group expressions in `e` with their key columns.
fn replace_keys(e: &mut Expr, keys: &[(String, Expr)]) {
    let _ = visit_expressions_mut(e, |node: &mut Expr| {
        if let Some((name, _)) = keys.iter().find(|(_, k)| k == node) {
            *node = Expr::Identifier(Ident::with_quote('"', name.clone()));
        }
        ControlFlow::<()>::Continue(())
    });
}

pub fn plan_aggregate(
    compiler: &ExprCompiler,
    query: &Query,
    source: Arc<Source>,
    persistent: bool,
    sink: &str,
) -> Result<AggregatePlan> {
    let Input {
        schema,
        qualifiers,
        filter,
        mut names,
    } = bind_input(compiler, query, &source)?;
    let normalize = |e: &Expr| ExprCompiler::normalize(e, &qualifiers);

    let mut keys = Vec::new();
    let mut key_exprs: Vec<(String, Expr)> = Vec::new();
    for g in &query.group_by {
        let normalized = normalize(g);
        let compiled = compiler.compile(&normalized, &schema)?;
        let name = match &normalized {
            Expr::Identifier(id) => id.value.clone(),
            _ => match field_name(g) {
                Some(f) => f,
                None => projection::alias_of(&query.select, &normalized, &qualifiers)
                    .unwrap_or_else(|| names.next()),
            },
        };
        let ty = sql_type(&compiled, &schema, &name)?;
        keys.push((name.clone(), compiled, ty));
        key_exprs.push((name, normalized));
    }

    // The select list and HAVING over the aggregated row.
    let mut calls = Vec::new();
    let mut select = Vec::new();
    for item in &query.select {
        let (expr, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(ident_name(alias))),
            other => {
                return Err(Error::statement(format!(
                    "{other} is not supported in an aggregation's SELECT"
                )))
            }
        };
        let mut rewritten = normalize(expr);
        let name = match (&alias, &rewritten) {
            (Some(a), _) => a.clone(),
            (None, Expr::Identifier(id)) => id.value.clone(),
            (None, n) => key_exprs
                .iter()
                .find(|(_, k)| k == n)
                .map(|(name, _)| name.clone())
                .or_else(|| field_name(expr))
                .unwrap_or_else(|| names.next()),
        };
        extract_aggregates(&mut rewritten, &mut calls)?;
        replace_keys(&mut rewritten, &key_exprs);
        select.push(SelectItem::ExprWithAlias {
            expr: rewritten,
            alias: Ident::with_quote('"', name),
        });
    }
    let having = match &query.having {
        Some(h) => {
            let mut rewritten = normalize(h);
            extract_aggregates(&mut rewritten, &mut calls)?;
            replace_keys(&mut rewritten, &key_exprs);
            Some(rewritten)
        }
        None => None,
    };

    let mut aggregates = Vec::new();
    let mut fields: Vec<Field> = keys
        .iter()
        .map(|(n, _, t)| Field::new(n, t.to_arrow(), true))
        .collect();
    if let Some(w) = &query.window {
        if matches!(w.kind, WindowKind::Session { .. }) {
            return Err(Error::statement("Session windows are not supported yet"));
        }
        fields.push(Field::new(WINDOWSTART, DataType::Int64, true));
        fields.push(Field::new(WINDOWEND, DataType::Int64, true));
    }
    for (i, (kind, arg)) in calls.iter().enumerate() {
        let arg = arg
            .as_ref()
            .map(|a| compiler.compile(a, &schema))
            .transpose()?;
        let arg_type = arg
            .as_ref()
            .map(|a| sql_type(a, &schema, "argument"))
            .transpose()?;
        let result = kind.result_type(arg_type.as_ref())?;
        fields.push(Field::new(agg_column(i), result.to_arrow(), true));
        aggregates.push(AggCall {
            kind: *kind,
            arg,
            result,
        });
    }
    let agg_schema = Arc::new(Schema::new(fields));
    let ctx = projection::Context {
        compiler,
        schema: &agg_schema,
        qualifiers: &[],
        persistent,
        sink,
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
        .map(|h| compiler.compile(&h, &agg_schema))
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
