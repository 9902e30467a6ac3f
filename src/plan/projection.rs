//! The select list: expanding `*` and `struct->*`, naming columns as ksqlDB does (aliases,
//! column names, struct field names, `KSQL_COL_n`), and sorting them into key and value columns
//! with ksqlDB's checks.

use super::expr::{ExprCompiler, PhysExpr};
use super::{sql_type, NameGenerator, OutputColumn};
use crate::catalog::types::SqlType;
use crate::catalog::{
    is_reserved_column, Column, ColumnKind, PSEUDO_COLUMNS, WINDOWEND, WINDOWSTART,
};
use crate::error::{Error, Result};
use crate::sql::ast::{Expr, SelectItem};
use crate::sql::ident_name;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_expr::expressions::Column as ColumnExpr;
use datafusion::sql::sqlparser::ast::{BinaryOperator, SelectItemQualifiedWildcardKind};
use std::sync::Arc;

pub(crate) struct Context<'a> {
    pub compiler: &'a ExprCompiler,
    pub schema: &'a SchemaRef,
    pub qualifiers: &'a [String],
    pub persistent: bool,
    pub sink: &'a str,
    /// Over a join's rows: the join columns that stand for the key.
    pub join_key: Option<&'a crate::catalog::JoinKeyNames>,
}

struct Item {
    name: String,
    expr: PhysExpr,
    normalized: Option<Expr>,
    /// The column this item copies unchanged, if it is a plain column reference.
    copies: Option<String>,
}

/// The field a dereference names: `a->b` and `a.b` give `B`.
pub(crate) fn field_name(e: &Expr) -> Option<String> {
    match e {
        Expr::BinaryOp {
            op: BinaryOperator::Arrow,
            right,
            ..
        } => match right.as_ref() {
            Expr::Identifier(id) => Some(ident_name(id)),
            _ => None,
        },
        Expr::CompoundIdentifier(parts) if parts.len() > 1 => parts.last().map(ident_name),
        _ => None,
    }
}

/// The alias the select list gives to an expression, if it has one.
pub(crate) fn alias_of(
    select: &[SelectItem],
    normalized: &Expr,
    qualifiers: &[String],
) -> Option<String> {
    select.iter().find_map(|s| match s {
        SelectItem::ExprWithAlias { expr, alias }
            if &ExprCompiler::normalize(expr, qualifiers) == normalized =>
        {
            Some(ident_name(alias))
        }
        _ => None,
    })
}

fn column_item(ctx: &Context, i: usize) -> Item {
    let name = ctx.schema.field(i).name().clone();
    Item {
        expr: Arc::new(ColumnExpr::new(&name, i)),
        normalized: None,
        copies: Some(name.clone()),
        name,
    }
}

fn expand(
    ctx: &Context,
    select: &[SelectItem],
    key_count: usize,
    key_exprs: &[(String, Expr)],
    names: &mut NameGenerator,
) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for item in select {
        match item {
            SelectItem::Wildcard(_)
            | SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(_), _) => {
                // A windowed source's WINDOWSTART and WINDOWEND are not part of a persistent
                // query's `*` (its sink's key carries the window); a transient query's `*`
                // has them after the key columns, as ksqlDB's push and pull queries do.
                let bound = |i: &usize| {
                    let name = ctx.schema.field(*i).name();
                    name == WINDOWSTART || name == WINDOWEND
                };
                let columns: Vec<usize> = (PSEUDO_COLUMNS..ctx.schema.fields().len())
                    .filter(|i| !bound(i))
                    .collect();
                let keys = key_count.min(columns.len());
                items.extend(columns[..keys].iter().map(|&i| column_item(ctx, i)));
                if !ctx.persistent {
                    items.extend(
                        (PSEUDO_COLUMNS..ctx.schema.fields().len())
                            .filter(bound)
                            .map(|i| column_item(ctx, i)),
                    );
                }
                items.extend(columns[keys..].iter().map(|&i| column_item(ctx, i)));
            }
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::Expr(e), _) => {
                let normalized = ExprCompiler::normalize(e, ctx.qualifiers);
                let compiled = ctx.compiler.compile(&normalized, ctx.schema)?;
                let SqlType::Struct(fields) = sql_type(&compiled, ctx.schema, "struct")? else {
                    return Err(Error::statement(format!(
                        "Expression {e} is not a STRUCT: '->*' needs a struct"
                    )));
                };
                for (field, _) in fields {
                    let access = ExprCompiler::field_access(normalized.clone(), &field);
                    let expr = ctx.compiler.compile(&access, ctx.schema)?;
                    items.push(Item {
                        name: field,
                        expr,
                        normalized: Some(access),
                        copies: None,
                    });
                }
            }
            SelectItem::UnnamedExpr(e) => {
                let normalized = ExprCompiler::normalize(e, ctx.qualifiers);
                let expr = ctx.compiler.compile(&normalized, ctx.schema)?;
                let (name, copies) = if let Expr::Identifier(id) = &normalized {
                    if ctx.persistent && is_reserved_column(&id.value) {
                        return Err(Error::statement(format!(
                            "Reserved column name in select: `{}`. Please remove or alias the column.",
                            id.value
                        )));
                    }
                    (id.value.clone(), Some(id.value.clone()))
                } else if let Some((key, _)) = key_exprs.iter().find(|(_, k)| k == &normalized) {
                    (key.clone(), None)
                } else if let Some(field) = field_name(e) {
                    (field, None)
                } else {
                    (names.next(), None)
                };
                items.push(Item {
                    name,
                    expr,
                    normalized: Some(normalized),
                    copies,
                });
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                let name = ident_name(alias);
                let normalized = ExprCompiler::normalize(expr, ctx.qualifiers);
                // A column under its own name (an aggregation names every item) is selected,
                // not renamed: a transient query may select WINDOWSTART.
                let itself = matches!(&normalized, Expr::Identifier(id) if id.value == name);
                if is_reserved_column(&name) && (ctx.persistent || !itself) {
                    return Err(Error::statement(if itself {
                        format!("Reserved column name in select: `{name}`. Please remove or alias the column.")
                    } else {
                        format!("`{name}` is a reserved column name. You cannot use it as an alias for a column.")
                    }));
                }
                let copies = match &normalized {
                    Expr::Identifier(id) => Some(id.value.clone()),
                    _ => None,
                };
                let compiled = ctx.compiler.compile(&normalized, ctx.schema)?;
                items.push(Item {
                    name,
                    expr: compiled,
                    normalized: Some(normalized),
                    copies,
                });
            }
            other => {
                return Err(Error::statement(format!(
                    "Unsupported select item: {other}"
                )))
            }
        }
    }
    for (i, it) in items.iter().enumerate() {
        if items[..i].iter().any(|o| o.name == it.name) {
            return Err(Error::statement(format!(
                "Duplicate column name '{}' in the projection",
                it.name
            )));
        }
    }
    Ok(items)
}

/// Builds the output columns: for a persistent query keys (in key order) then values (in
/// select order), as its sink stores them; for a transient query in select order, as ksqlDB's
/// push and pull queries answer (`SELECT ROWTIME, K` gives ROWTIME first).
pub(crate) fn project(
    ctx: &Context,
    select: &[SelectItem],
    key_names: &[String],
    key_exprs: &[(String, Expr)],
    names: &mut NameGenerator,
) -> Result<Vec<OutputColumn>> {
    let items = expand(ctx, select, key_names.len(), key_exprs, names)?;
    let mut keys: Vec<Option<OutputColumn>> = vec![None; key_names.len()];
    // The column each key was copied from (a join's key can come from either join column).
    let mut key_copied: Vec<Option<String>> = vec![None; key_names.len()];
    let mut values = Vec::new();
    // Where each key and value came in the select list.
    let mut key_at: Vec<usize> = vec![usize::MAX; key_names.len()];
    let mut value_at: Vec<usize> = Vec::new();
    // Over a join: the join column that names the key, the left one if both are selected
    // (the other is then a value like any other).
    let join_column = ctx.join_key.and_then(|jk| {
        jk.candidates
            .iter()
            .find(|c| items.iter().any(|it| it.copies.as_ref() == Some(*c)))
            .cloned()
    });
    for (at, mut it) in items.into_iter().enumerate() {
        let mut represents = key_names.iter().position(|k| {
            it.copies.as_ref() == Some(k)
                || key_exprs
                    .iter()
                    .any(|(name, e)| name == k && it.normalized.as_ref() == Some(e))
        });
        if let (Some(chosen), Some(c)) = (&join_column, &it.copies) {
            if chosen == c {
                represents = Some(0);
                if keys[0].is_none() {
                    // The key is the join key, whichever join column names it (an outer
                    // join's unmatched rows have NULL in the other side's column).
                    if let Ok(i) = ctx.schema.index_of(&key_names[0]) {
                        it.expr = Arc::new(ColumnExpr::new(&key_names[0], i));
                    }
                }
            }
        }
        let ty = sql_type(&it.expr, ctx.schema, &it.name)?;
        match represents {
            Some(k) if keys[k].is_none() => {
                key_at[k] = at;
                key_copied[k] = it.copies.clone();
                keys[k] = Some(OutputColumn {
                    column: Column {
                        name: it.name,
                        ty,
                        kind: ColumnKind::Key,
                    },
                    expr: it.expr,
                });
            }
            Some(k) if ctx.persistent => {
                let first = keys[k]
                    .as_ref()
                    .map_or(String::new(), |c| c.column.name.clone());
                let shown = key_copied[k]
                    .clone()
                    .unwrap_or_else(|| key_names[k].clone());
                return Err(Error::statement(format!(
                    "The projection contains a key column (`{shown}`) more than once, aliased as: {first} and {}.",
                    it.name
                )));
            }
            _ => {
                value_at.push(at);
                values.push(OutputColumn {
                    column: Column {
                        name: it.name,
                        ty,
                        kind: ColumnKind::Value,
                    },
                    expr: it.expr,
                })
            }
        }
    }
    if ctx.persistent {
        let missing: Vec<usize> = (0..key_names.len())
            .filter(|k| keys[*k].is_none())
            .collect();
        if let (Some(jk), true) = (ctx.join_key, !missing.is_empty()) {
            let expr = if jk.display.len() > 1 {
                "expressions"
            } else {
                "expression"
            };
            let mut m = format!(
                "The query used to build `{}` must include the join {expr} {} in its projection (eg, SELECT {}...).",
                ctx.sink,
                jk.display.join(" or "),
                jk.display[0]
            );
            if jk.synthetic {
                m = format!("Key missing from projection (ie, SELECT). See https://cnfl.io/2LV7ouS.\n{m}\n{} was added as a synthetic key column because the join criteria did not match any source column. This expression must be included in the projection and may be aliased.", jk.display[0]);
            }
            return Err(Error::statement(m));
        }
        if let Some(&k) = missing.first() {
            if let Some((_, e)) = key_exprs
                .iter()
                .find(|(n, e)| n == &key_names[k] && !matches!(e, Expr::Identifier(_)))
            {
                return Err(Error::statement(format!(
                    "The query used to build `{}` must include the partitioning expression {e} in its projection (eg, SELECT {e}...).",
                    ctx.sink
                )));
            }
            let list = missing
                .iter()
                .map(|k| format!("`{}`", key_names[*k]))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::statement(format!(
                "Key missing from projection (ie, SELECT).\nThe query used to build `{}` must include the key columns {list} in its projection (eg, SELECT {}...).",
                ctx.sink,
                missing.iter().map(|k| key_names[*k].clone()).collect::<Vec<_>>().join(", ")
            )));
        }
        if values.is_empty() {
            return Err(Error::statement(
                "The projection contains no value columns.",
            ));
        }
    }
    if !ctx.persistent {
        let mut all: Vec<(usize, OutputColumn)> = key_at
            .into_iter()
            .zip(keys)
            .filter_map(|(at, k)| Some((at, k?)))
            .chain(value_at.into_iter().zip(values))
            .collect();
        all.sort_by_key(|(at, _)| *at);
        return Ok(all.into_iter().map(|(_, c)| c).collect());
    }
    Ok(keys.into_iter().flatten().chain(values).collect())
}
