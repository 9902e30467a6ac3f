//! Planning: a SELECT over a source becomes a [`StreamPlan`]: a filter and a projection of
//! compiled expressions, the output's key and value columns, and its limit.

pub mod expr;

use crate::catalog::types::SqlType;
use crate::catalog::{Column, ColumnKind, Source, PSEUDO_COLUMNS};
use crate::error::{Error, Result};
use crate::sql::ast::{Expr, Query, SelectItem};
use crate::sql::ident_name;
use datafusion::arrow::datatypes::SchemaRef;
use expr::{ExprCompiler, PhysExpr};
use std::sync::Arc;

/// One output column and the expression computing it.
#[derive(Debug, Clone)]
pub struct OutputColumn {
    pub column: Column,
    pub expr: PhysExpr,
}

/// A stateless continuous query: filter, then project (and re-key) each record.
#[derive(Debug, Clone)]
pub struct StreamPlan {
    pub source: Arc<Source>,
    pub input_schema: SchemaRef,
    pub filter: Option<PhysExpr>,
    /// Key columns first, then value columns.
    pub output: Vec<OutputColumn>,
    pub limit: Option<u64>,
    /// Whether the output key differs from the input key (PARTITION BY).
    pub rekeyed: bool,
}

impl StreamPlan {
    pub fn keys(&self) -> impl Iterator<Item = &OutputColumn> {
        self.output
            .iter()
            .filter(|c| c.column.kind == ColumnKind::Key)
    }
    pub fn values(&self) -> impl Iterator<Item = &OutputColumn> {
        self.output
            .iter()
            .filter(|c| c.column.kind == ColumnKind::Value)
    }
}

fn is_reserved_alias(name: &str) -> bool {
    matches!(
        name,
        "ROWTIME" | "ROWPARTITION" | "ROWOFFSET" | "WINDOWSTART" | "WINDOWEND"
    )
}

/// Plans `query` over `source`. `persistent` queries (CSAS) must project their key columns.
pub fn plan_query(
    compiler: &ExprCompiler,
    query: &Query,
    source: Arc<Source>,
    persistent: bool,
) -> Result<StreamPlan> {
    if !query.joins.is_empty() {
        return Err(Error::statement("Joins are not supported yet"));
    }
    if query.window.is_some() || !query.group_by.is_empty() || query.having.is_some() {
        return Err(Error::statement(
            "Aggregations and windows are not supported yet",
        ));
    }
    let schema = source.row_schema();
    let mut qualifiers = vec![source.name.clone()];
    qualifiers.extend(query.from.alias.clone());
    let compile = |e: &Expr| compiler.compile(&ExprCompiler::normalize(e, &qualifiers), &schema);
    let filter = query.selection.as_ref().map(compile).transpose()?;

    // The select list, expanded: (name, expression, source column it copies if any).
    let mut items: Vec<(String, PhysExpr, Option<String>)> = Vec::new();
    let mut generated = 0usize;
    for item in &query.select {
        match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(_, _) => {
                for (i, field) in schema.fields().iter().enumerate().skip(PSEUDO_COLUMNS) {
                    let col: PhysExpr = Arc::new(
                        datafusion::physical_expr::expressions::Column::new(field.name(), i),
                    );
                    items.push((field.name().clone(), col, Some(field.name().clone())));
                }
            }
            SelectItem::UnnamedExpr(e) => {
                let normalized = ExprCompiler::normalize(e, &qualifiers);
                let (name, copies) = if let Expr::Identifier(id) = &normalized {
                    (id.value.clone(), Some(id.value.clone()))
                } else if let Some(field) = right_ident(e) {
                    (field, None)
                } else {
                    generated += 1;
                    (format!("KSQL_COL_{}", generated - 1), None)
                };
                items.push((name, compiler.compile(&normalized, &schema)?, copies));
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                let name = ident_name(alias);
                if is_reserved_alias(&name) {
                    return Err(Error::statement(format!(
                        "`{name}` is a reserved column name. You cannot use it as an alias for a column."
                    )));
                }
                let normalized = ExprCompiler::normalize(expr, &qualifiers);
                let copies = match &normalized {
                    Expr::Identifier(id) => Some(id.value.clone()),
                    _ => None,
                };
                items.push((name, compiler.compile(&normalized, &schema)?, copies));
            }
            other => {
                return Err(Error::statement(format!(
                    "Unsupported select item: {other}"
                )))
            }
        }
    }
    for (i, (name, _, _)) in items.iter().enumerate() {
        if items[..i].iter().any(|(n, _, _)| n == name) {
            return Err(Error::statement(format!(
                "Duplicate column name '{name}' in the projection"
            )));
        }
    }

    let typed = |name: &str, e: &PhysExpr, kind: ColumnKind| -> Result<OutputColumn> {
        let dt = e.data_type(&schema)?;
        let ty = SqlType::from_arrow(&dt)
            .ok_or_else(|| Error::statement(format!("Unsupported type {dt} for column {name}")))?;
        Ok(OutputColumn {
            column: Column {
                name: name.to_string(),
                ty,
                kind,
            },
            expr: e.clone(),
        })
    };

    let mut output = Vec::new();
    let rekeyed = !query.partition_by.is_empty();
    if rekeyed {
        let is_null = |e: &Expr| matches!(e, Expr::Value(v) if matches!(v.value, datafusion::sql::sqlparser::ast::Value::Null));
        if !(query.partition_by.len() == 1 && is_null(&query.partition_by[0])) {
            let mut key_generated = 0usize;
            for pe in &query.partition_by {
                let normalized = ExprCompiler::normalize(pe, &qualifiers);
                let compiled = compiler.compile(&normalized, &schema)?;
                // The key is named after the select item that computes it, else the column, else KSQL_COL_n.
                let matching = items.iter().position(|(_, e, copies)| {
                    e.to_string() == compiled.to_string() || matches!((&normalized, copies), (Expr::Identifier(id), Some(c)) if &id.value == c)
                });
                let name = match (matching, &normalized) {
                    (Some(i), _) => items.remove(i).0,
                    (None, Expr::Identifier(id)) => id.value.clone(),
                    _ => {
                        let n = format!("KSQL_COL_{key_generated}");
                        key_generated += 1;
                        n
                    }
                };
                output.push(typed(&name, &compiled, ColumnKind::Key)?);
            }
        }
        output.extend(
            items
                .iter()
                .map(|(n, e, _)| typed(n, e, ColumnKind::Value))
                .collect::<Result<Vec<_>>>()?,
        );
    } else {
        let key_names: Vec<String> = source.keys().map(|c| c.name.clone()).collect();
        let mut values = Vec::new();
        let mut keys_found = Vec::new();
        for (name, e, copies) in &items {
            match copies {
                Some(c) if key_names.contains(c) && !keys_found.contains(c) => {
                    keys_found.push(c.clone());
                    output.push(typed(name, e, ColumnKind::Key)?);
                }
                _ => values.push(typed(name, e, ColumnKind::Value)?),
            }
        }
        if persistent && keys_found.len() < key_names.len() {
            let missing: Vec<String> = key_names
                .iter()
                .filter(|k| !keys_found.contains(k))
                .map(|k| format!("`{k}`"))
                .collect();
            return Err(Error::statement(format!(
                "Key missing from projection (ie, SELECT).\nThe query used to build `{}` must include the key columns {} in its projection (eg, SELECT {}...).",
                "the sink",
                missing.join(", "),
                missing.join(", ")
            )));
        }
        output.extend(values);
    }
    Ok(StreamPlan {
        source,
        input_schema: schema,
        filter,
        output,
        limit: query.limit,
        rekeyed,
    })
}

/// The field name of a dereference (`a->b`, `a.b.c`), which names its output column.
fn right_ident(e: &Expr) -> Option<String> {
    match e {
        Expr::BinaryOp {
            op: datafusion::sql::sqlparser::ast::BinaryOperator::Arrow,
            right,
            ..
        } => match right.as_ref() {
            Expr::Identifier(id) => Some(ident_name(id)),
            _ => None,
        },
        Expr::CompoundIdentifier(parts) => parts.last().map(ident_name),
        _ => None,
    }
}
