//! Expressions: sqlparser ASTs rewritten to ksqlDB's naming rules, then planned and compiled by
//! DataFusion into physical expressions that evaluate over Arrow record batches.

use crate::catalog::types::SqlType;
use crate::error::{Error, Result};
use crate::sql::ast::{Expr, Ident};
use crate::sql::ident_name;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::DFSchema;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionConfig;
use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, BinaryOperator, CastKind, DataType as SqlDataType, ExprWithAlias,
    Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, ObjectName,
    ObjectNamePart, UnaryOperator, Value, ValueWithSpan,
};
use std::ops::ControlFlow;
use std::sync::Arc;

pub type PhysExpr = Arc<dyn PhysicalExpr>;

/// Compiles expressions against a schema. One per engine; cheap to share.
pub struct ExprCompiler {
    state: SessionState,
    /// User-defined aggregates, beyond ksqlDB's built-in ones.
    aggregates: Vec<Arc<dyn crate::functions::udaf::UserAggregate>>,
}

impl Default for ExprCompiler {
    fn default() -> Self {
        Self::new()
    }
}

impl ExprCompiler {
    pub fn new() -> Self {
        Self::with_functions(&[], &[])
    }

    /// A compiler that also knows `extra` scalar functions and user-defined `aggregates`.
    pub fn with_functions(
        extra: &[datafusion::logical_expr::ScalarUDF],
        aggregates: &[Arc<dyn crate::functions::udaf::UserAggregate>],
    ) -> Self {
        let mut config = SessionConfig::new();
        let sql = &mut config.options_mut().sql_parser;
        sql.enable_ident_normalization = false;
        sql.parse_float_as_decimal = true;
        // STRING is Utf8, as every column of Brooklet's is.
        sql.map_string_types_to_utf8view = false;
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build();
        if let Err(e) = crate::functions::register(&mut state) {
            tracing::error!("cannot register ksqlDB functions: {e}");
        }
        for f in extra {
            if let Err(e) = datafusion::execution::FunctionRegistry::register_udf(
                &mut state,
                Arc::new(f.clone()),
            ) {
                tracing::error!("cannot register {}: {e}", f.name());
            }
        }
        ExprCompiler {
            state,
            aggregates: aggregates.to_vec(),
        }
    }

    /// The user-defined aggregates queries may call.
    pub fn aggregates(&self) -> &[Arc<dyn crate::functions::udaf::UserAggregate>] {
        &self.aggregates
    }

    /// Rewrites ksqlDB syntax into what DataFusion plans: names upper-cased unless quoted,
    /// `a->b` into field access, qualified names (`alias.col`) into plain column names.
    pub fn normalize(expr: &Expr, qualifiers: &[String]) -> Expr {
        let mut e = expr.clone();
        super::magic::rewrite(&mut e);
        let _ = visit_expressions_mut(&mut e, |e: &mut Expr| {
            match e {
                Expr::Identifier(id) => *id = quoted(ident_name(id)),
                Expr::CompoundIdentifier(parts) => {
                    let names: Vec<String> = parts.iter().map(ident_name).collect();
                    let start = usize::from(names.len() > 1 && qualifiers.contains(&names[0]));
                    let mut it = names[start..].iter();
                    let first = it.next().cloned().unwrap_or_default();
                    *e = it.fold(Expr::Identifier(quoted(first)), |acc, f| get_field(acc, f));
                }
                Expr::BinaryOp {
                    left,
                    op: BinaryOperator::Arrow,
                    right,
                } => {
                    if let Expr::Identifier(id) = right.as_ref() {
                        let field = ident_name(id);
                        *e = match table_function_call(left) {
                            // `EXPLODE(a)->F` is `EXPLODE(TRANSFORM(a, x => x->F))`: the field of
                            // each element, unnested as the elements would be.
                            Some((name, arg)) => {
                                let lambda = format!(
                                    "{}E:E->{}",
                                    crate::sql::lambda::MARK,
                                    crate::sql::Quoted(&field)
                                );
                                let lambda = Expr::Value(ValueWithSpan::from(
                                    Value::SingleQuotedString(lambda),
                                ));
                                call(&name, vec![call("transform", vec![arg, lambda])])
                            }
                            None => get_field((**left).clone(), &field),
                        };
                    }
                }
                Expr::Value(v) => {
                    let typed = match &v.value {
                        Value::Number(n, _) => typed_number(n, Expr::Value(v.clone())),
                        _ => None,
                    };
                    if let Some(typed) = typed {
                        *e = typed;
                    }
                }
                Expr::Function(f) => {
                    // IFNULL(a, b) is COALESCE(a, b) for every type (DataFusion's NVL would
                    // turn an ARRAY into its text).
                    if f.name.to_string().eq_ignore_ascii_case("ifnull") {
                        f.name = ObjectName::from(vec![Ident::new("coalesce")]);
                    }
                    if let Some(rewritten) = constructor(f) {
                        *e = rewritten;
                    } else {
                        time_unit_argument(f);
                    }
                }
                // BYTES, as DataFusion names it.
                Expr::Cast { data_type, .. }
                    if matches!(data_type, SqlDataType::Bytes(_))
                        || data_type.to_string().eq_ignore_ascii_case("BYTES") =>
                {
                    *data_type = SqlDataType::Bytea;
                }
                // `SUBSTRING(s, pos[, len])` is ksqlDB's function, not SQL's special form.
                Expr::Substring {
                    expr,
                    substring_from,
                    substring_for,
                    ..
                } => {
                    let mut args = vec![(**expr).clone()];
                    args.extend(substring_from.as_deref().cloned());
                    args.extend(substring_for.as_deref().cloned());
                    *e = call("substring", args);
                }
                // ksqlDB's TRIM is Java's: tabs and line breaks go too.
                Expr::Trim {
                    expr,
                    trim_where: None,
                    trim_what: None,
                    trim_characters: None,
                } => {
                    *e = call("ksql_trim", vec![(**expr).clone()]);
                }
                // Structs of different fields in an ARRAY[...] unite theirs (the elements'
                // other types are made one in `coerce`, where they are known).
                Expr::Array(a) => {
                    struct_fields_in_arrays(&mut a.elem);
                }
                Expr::Struct { values, .. } => {
                    if let Some(rewritten) = struct_literal(values) {
                        *e = rewritten;
                    }
                }
                // ksqlDB compares to false, not NULL, when either side is NULL.
                Expr::BinaryOp {
                    op:
                        BinaryOperator::Eq
                        | BinaryOperator::NotEq
                        | BinaryOperator::Lt
                        | BinaryOperator::LtEq
                        | BinaryOperator::Gt
                        | BinaryOperator::GtEq,
                    ..
                } => {
                    let fals = Expr::Value(ValueWithSpan::from(Value::Boolean(false)));
                    *e = call("coalesce", vec![e.clone(), fals]);
                }
                // `v BETWEEN a AND b` is `v >= a AND v <= b` in ksqlDB, each comparison false
                // rather than NULL when a side is NULL.
                Expr::Between {
                    expr,
                    negated,
                    low,
                    high,
                } => {
                    let fals = || Expr::Value(ValueWithSpan::from(Value::Boolean(false)));
                    let compare = |op: BinaryOperator, bound: &Expr| {
                        let cmp = Expr::BinaryOp {
                            left: expr.clone(),
                            op,
                            right: Box::new(bound.clone()),
                        };
                        call("coalesce", vec![cmp, fals()])
                    };
                    let both = Expr::BinaryOp {
                        left: Box::new(compare(BinaryOperator::GtEq, low)),
                        op: BinaryOperator::And,
                        right: Box::new(compare(BinaryOperator::LtEq, high)),
                    };
                    *e = if *negated {
                        Expr::UnaryOp {
                            op: UnaryOperator::Not,
                            expr: Box::new(Expr::Nested(Box::new(both))),
                        }
                    } else {
                        Expr::Nested(Box::new(both))
                    };
                }
                // IN is true or false in ksqlDB: a NULL never matches.
                Expr::InList {
                    expr,
                    list,
                    negated,
                } => {
                    let fals = Expr::Value(ValueWithSpan::from(Value::Boolean(false)));
                    let matched = call(
                        "coalesce",
                        vec![
                            Expr::InList {
                                expr: expr.clone(),
                                list: list.clone(),
                                negated: false,
                            },
                            fals,
                        ],
                    );
                    *e = if *negated {
                        Expr::UnaryOp {
                            op: UnaryOperator::Not,
                            expr: Box::new(matched),
                        }
                    } else {
                        matched
                    };
                }
                Expr::Like {
                    pattern,
                    escape_char,
                    ..
                } => {
                    let escape = escape_char.as_ref().and_then(|esc| match &esc.value {
                        Value::SingleQuotedString(c) => c.chars().next().filter(|c| *c != '\\'),
                        _ => None,
                    });
                    if let Some(c) = escape {
                        match pattern.as_mut() {
                            Expr::Value(ValueWithSpan {
                                value: Value::SingleQuotedString(text),
                                ..
                            }) => *text = with_backslash_escapes(text, c),
                            // A pattern known only at run time is rewritten then.
                            other => {
                                let esc = Expr::Value(ValueWithSpan::from(
                                    Value::SingleQuotedString(c.to_string()),
                                ));
                                *other = call("like_escape", vec![other.clone(), esc]);
                            }
                        }
                        *escape_char = None;
                    }
                }
                _ => {}
            }
            ControlFlow::<()>::Continue(())
        });
        e
    }

    /// `base->field`, normalized.
    pub fn field_access(base: Expr, field: &str) -> Expr {
        get_field(base, field)
    }

    /// Compiles a normalized expression over `schema`.
    pub fn compile(&self, expr: &Expr, schema: &Schema) -> Result<PhysExpr> {
        reject_null_cases(expr)?;
        let df_schema = DFSchema::try_from(schema.clone())?;
        let logical = self
            .state
            .create_logical_expr_from_sql_expr(
                ExprWithAlias {
                    expr: expr.clone(),
                    alias: None,
                },
                &df_schema,
            )
            .map_err(|e| Error::statement(describe_plan_error(e, expr)))?;
        // Coerce and simplify (DataFusion's physical planner expects simplified expressions,
        // e.g. COALESCE rewritten to CASE), then plan.
        let context = SimplifyContext::builder()
            .with_schema(Arc::new(df_schema.clone()))
            .with_config_options(Arc::clone(self.state.config_options()))
            .build();
        let simplifier = ExprSimplifier::new(context);
        let logical = super::coerce::ksql_typing(logical, &df_schema)
            .map_err(|e| Error::statement(describe_plan_error(e, expr)))?;
        let logical = simplifier
            .coerce(logical, &df_schema)
            .map_err(|e| Error::statement(describe_plan_error(e, expr)))?;
        let logical = simplifier
            .simplify(logical)
            .map_err(|e| Error::statement(describe_plan_error(e, expr)))?;
        let physical = self
            .state
            .create_physical_expr(logical, &df_schema)
            .map_err(|e| Error::statement(describe_plan_error(e, expr)))?;
        reject_ordering_of_nested(&physical, schema)?;
        Ok(physical)
    }

    /// Compiles a WHERE or HAVING condition (`clause`): errors name the clause, as ksqlDB's
    /// do, and the condition must be BOOLEAN (ksqlDB's `FilterTypeValidator`).
    pub fn compile_condition(
        &self,
        expr: &Expr,
        schema: &Schema,
        clause: &str,
    ) -> Result<PhysExpr> {
        let compiled = self.compile(expr, schema).map_err(|mut e| {
            e.message = format!("Error in {clause} expression: {}", e.message);
            e
        })?;
        let ty = compiled.data_type(schema)?;
        if !matches!(ty, DataType::Boolean | DataType::Null) {
            let shown = SqlType::from_arrow(&ty).map_or(ty.to_string(), |t| t.to_string());
            return Err(Error::statement(format!(
                "Type error in {clause} expression: Should evaluate to boolean but is {expr} ({shown}) instead."
            )));
        }
        Ok(compiled)
    }

    /// The type an expression produces.
    pub fn data_type(expr: &PhysExpr, schema: &Schema) -> Result<DataType> {
        Ok(expr.data_type(schema)?)
    }
}

/// A number literal as ksqlDB types it: with an exponent (`1e308`, `1.5E-3`) a DOUBLE, an
/// integer INT when it fits (BIGINT otherwise, as DataFusion reads it); `None` to keep it.
fn typed_number(n: &str, literal: Expr) -> Option<Expr> {
    let (expr, data_type) = if n.contains(['e', 'E']) {
        let text = Expr::Value(ValueWithSpan::from(Value::SingleQuotedString(
            n.to_string(),
        )));
        (
            text,
            SqlDataType::Double(datafusion::sql::sqlparser::ast::ExactNumberInfo::None),
        )
    } else if n.parse::<i32>().is_ok() {
        (literal, SqlDataType::Int(None))
    } else {
        return None;
    };
    Some(Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(expr),
        data_type,
        array: false,
        format: None,
    })
}

fn describe_plan_error(e: datafusion::error::DataFusionError, expr: &Expr) -> String {
    if let Some(ours) = crate::error::ksql_error_in(&e) {
        return ours.message;
    }
    let msg = e.strip_backtrace();
    // A function refusing its arguments says so in ksqlDB's words, under DataFusion's.
    if msg.contains("does not accept parameters") {
        if let Some(at) = msg.rfind("Function '") {
            return msg[at..].to_string();
        }
    }
    if let Some(rest) = msg.split("No field named ").nth(1) {
        let name = rest
            .split(['.', ' '])
            .next()
            .unwrap_or(rest)
            .trim_matches(['"', '\'']);
        return format!("Column '{name}' cannot be resolved.");
    }
    format!("Invalid expression {expr}: {msg}")
}

fn quoted(name: String) -> Ident {
    Ident::with_quote('"', name)
}

/// ksqlDB orders only primitive values: `<`, `<=`, `>`, `>=` on an ARRAY, MAP or STRUCT is a
/// statement error (equality is allowed).
fn reject_ordering_of_nested(expr: &PhysExpr, schema: &Schema) -> Result<()> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::BinaryExpr;
    let mut found = None;
    expr.apply(|e| {
        if let Some(b) = e.downcast_ref::<BinaryExpr>() {
            let op = match b.op() {
                Operator::Lt => "LESS_THAN",
                Operator::LtEq => "LESS_THAN_OR_EQUAL",
                Operator::Gt => "GREATER_THAN",
                Operator::GtEq => "GREATER_THAN_OR_EQUAL",
                _ => return Ok(TreeNodeRecursion::Continue),
            };
            let (lt, rt) = (b.left().data_type(schema)?, b.right().data_type(schema)?);
            if matches!(
                lt,
                DataType::List(_) | DataType::Map(_, _) | DataType::Struct(_)
            ) {
                let name = |t: &DataType| {
                    crate::catalog::types::SqlType::from_arrow(t)
                        .map_or(t.to_string(), |t| t.to_string())
                };
                found = Some(format!(
                    "Cannot compare {} ({}) to {} ({}) with {op}.",
                    b.left(),
                    name(&lt),
                    b.right(),
                    name(&rt)
                ));
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    found.map_or(Ok(()), |m| Err(Error::statement(m)))
}

/// A LIKE pattern escaped with `c`, rewritten to escape with a backslash.
/// A LIKE pattern escaped with `c` rewritten to escape with a backslash (DataFusion's only).
pub fn with_backslash_escapes(pattern: &str, c: char) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(ch) = chars.next() {
        if ch == c {
            if let Some(next) = chars.next() {
                out.push('\\');
                out.push(next);
            }
        } else if ch == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(ch);
        }
    }
    out
}

/// `STRUCT(a := x)` as parsed into `Expr::Struct`.
fn struct_literal(values: &[Expr]) -> Option<Expr> {
    let mut args = Vec::new();
    for v in values {
        let (name, value) = match v {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Assignment,
                right,
            } => match left.as_ref() {
                Expr::Identifier(id) => (ident_name(id), (**right).clone()),
                _ => return None,
            },
            Expr::Named { expr, name } => (ident_name(name), (**expr).clone()),
            _ => return None,
        };
        args.push(Expr::Value(ValueWithSpan::from(Value::SingleQuotedString(
            name,
        ))));
        args.push(value);
    }
    Some(call("named_struct", args))
}

/// `STRUCT(a := x, ...)` becomes `named_struct('A', x, ...)`; `MAP(k := v, ...)` becomes
/// `map(make_array(k, ...), make_array(v, ...))`.
/// ksqlDB refuses expressions whose type cannot be known: a CASE whose every branch is a bare
/// NULL, an empty ARRAY[] or one of bare NULLs.
fn reject_null_cases(expr: &Expr) -> Result<()> {
    use datafusion::sql::sqlparser::ast::visit_expressions;
    let is_null = |e: &Expr| matches!(e, Expr::Value(v) if v.value == Value::Null);
    let found = visit_expressions(expr, |e: &Expr| {
        match e {
        Expr::Case {
            conditions,
            else_result,
            ..
        } if conditions.iter().all(|c| is_null(&c.result))
            && else_result.as_deref().is_none_or(is_null) =>
        {
            ControlFlow::Break("Invalid Case expression. All case branches have NULL type")
        }
        Expr::Function(f)
            if f.name.to_string().eq_ignore_ascii_case("coalesce")
                && matches!(&f.args, FunctionArguments::List(l) if l.args.is_empty()) =>
        {
            ControlFlow::Break("Function 'COALESCE' does not accept parameters ().")
        }
        Expr::Array(a) if a.elem.is_empty() => ControlFlow::Break(
            "Array constructor cannot be empty. Please supply at least one element (see https://github.com/confluentinc/ksql/issues/4239).",
        ),
        Expr::Array(a) if a.elem.iter().all(is_null) => ControlFlow::Break(
            "Cannot construct an array with all NULL elements (see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may cast a NULL value to the desired type.",
        ),
        _ => ControlFlow::Continue(()),
    }
    });
    match found {
        ControlFlow::Break(message) => Err(Error::statement(message)),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// The field names and values of a `named_struct('A', x, ...)` call.
fn struct_fields(e: &Expr) -> Option<Vec<(String, Expr)>> {
    let Expr::Function(f) = e else { return None };
    if f.name.to_string() != "named_struct" {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let args: Vec<&Expr> = list
        .args
        .iter()
        .filter_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect();
    args.chunks(2)
        .map(|pair| match pair {
            [Expr::Value(v), value] => match &v.value {
                Value::SingleQuotedString(name) => Some((name.clone(), (*value).clone())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Structs of different fields in one array constructor all get every field (NULL where they
/// have none), as ksqlDB unites their types.
fn struct_fields_in_arrays(items: &mut [Expr]) {
    let structs: Vec<Option<Vec<(String, Expr)>>> = items.iter().map(struct_fields).collect();
    let mut names: Vec<String> = Vec::new();
    for fields in structs.iter().flatten() {
        for (n, _) in fields {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    let differ = structs
        .iter()
        .flatten()
        .any(|f| f.len() != names.len() || f.iter().zip(&names).any(|((a, _), b)| a != b));
    if !differ {
        return;
    }
    for (item, fields) in items.iter_mut().zip(structs) {
        let Some(fields) = fields else { continue };
        let mut args = Vec::new();
        for n in &names {
            args.push(Expr::Value(ValueWithSpan::from(Value::SingleQuotedString(
                n.clone(),
            ))));
            args.push(
                fields
                    .iter()
                    .find(|(f, _)| f == n)
                    .map(|(_, v)| v.clone())
                    .unwrap_or(Expr::Value(ValueWithSpan::from(Value::Null))),
            );
        }
        *item = call("named_struct", args);
    }
}

/// DATEADD(DAYS, 1, d) and the like name their unit as a bare word: it becomes a string.
fn time_unit_argument(f: &mut Function) {
    const TAKES_UNIT: &[&str] = &[
        "DATEADD",
        "DATESUB",
        "TIMEADD",
        "TIMESUB",
        "TIMESTAMPADD",
        "TIMESTAMPSUB",
    ];
    const UNITS: &[&str] = &[
        "MILLISECONDS",
        "SECONDS",
        "MINUTES",
        "HOURS",
        "DAYS",
        "MILLISECOND",
        "SECOND",
        "MINUTE",
        "HOUR",
        "DAY",
    ];
    if !TAKES_UNIT.contains(&f.name.to_string().to_uppercase().as_str()) {
        return;
    }
    let FunctionArguments::List(list) = &mut f.args else {
        return;
    };
    if let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(first))) = list.args.first_mut() {
        if let Expr::Identifier(id) = first {
            if UNITS.contains(&id.value.to_uppercase().as_str()) {
                *first = Expr::Value(ValueWithSpan::from(Value::SingleQuotedString(
                    id.value.to_uppercase(),
                )));
            }
        }
    }
}

fn constructor(f: &Function) -> Option<Expr> {
    let name = f.name.to_string().to_uppercase();
    if name != "STRUCT" && name != "MAP" {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let mut pairs = Vec::new();
    for a in &list.args {
        match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::BinaryOp {
                left,
                op: BinaryOperator::Assignment,
                right,
            })) => pairs.push(((**left).clone(), (**right).clone())),
            FunctionArg::Named {
                name,
                arg: FunctionArgExpr::Expr(v),
                ..
            } => {
                // A key written as a name is a column (`MAP(k1 := v1)`), named as any other.
                let key = match name.quote_style {
                    Some('\'') => Expr::Value(ValueWithSpan::from(Value::SingleQuotedString(
                        name.value.clone(),
                    ))),
                    None if name.value.eq_ignore_ascii_case("null") => {
                        Expr::Value(ValueWithSpan::from(Value::Null))
                    }
                    _ => Expr::Identifier(quoted(ident_name(name))),
                };
                pairs.push((key, v.clone()))
            }
            FunctionArg::ExprNamed {
                name,
                arg: FunctionArgExpr::Expr(v),
                ..
            } => pairs.push((name.clone(), v.clone())),
            _ => return None,
        }
    }
    if name == "STRUCT" {
        let mut args = Vec::new();
        for (k, v) in pairs {
            let Expr::Identifier(id) = k else { return None };
            args.push(Expr::Value(ValueWithSpan::from(Value::SingleQuotedString(
                ident_name(&id),
            ))));
            args.push(v);
        }
        Some(call("named_struct", args))
    } else {
        let (keys, values): (Vec<Expr>, Vec<Expr>) = pairs.into_iter().unzip();
        Some(call(
            "ksql_map",
            vec![call("make_array", keys), call("make_array", values)],
        ))
    }
}

/// The name and argument of a one-argument table function call (`EXPLODE(a)`).
fn table_function_call(e: &Expr) -> Option<(String, Expr)> {
    let Expr::Function(f) = e else { return None };
    let name = f.name.to_string();
    if !crate::functions::table::NAMES.contains(&name.to_lowercase().as_str()) {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] => Some((name, arg.clone())),
        _ => None,
    }
}

fn get_field(base: Expr, field: &str) -> Expr {
    let lit = Expr::Value(ValueWithSpan::from(Value::SingleQuotedString(
        field.to_string(),
    )));
    call("get_field", vec![base, lit])
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    let arg = |e: Expr| FunctionArg::Unnamed(FunctionArgExpr::Expr(e));
    Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args.into_iter().map(arg).collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::parse_expression;
    use datafusion::arrow::array::{Array, AsArray, Int32Array, RecordBatch};
    use datafusion::arrow::datatypes::Field;

    #[test]
    fn evaluates_ksql_expressions_over_batches() {
        let schema = Schema::new(vec![
            Field::new("ID", DataType::Int32, true),
            Field::new("v", DataType::Int32, true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![
                Arc::new(Int32Array::from(vec![1, 5, 10])),
                Arc::new(Int32Array::from(vec![Some(2), Some(0), None])),
            ],
        )
        .unwrap();
        let c = ExprCompiler::new();
        let e = ExprCompiler::normalize(
            &parse_expression("s.id * 2 + `v` > 5").unwrap(),
            &["S".to_string()],
        );
        let p = c.compile(&e, &schema).unwrap();
        let out = p.evaluate(&batch).unwrap().into_array(3).unwrap();
        let b = out.as_boolean();
        // ksqlDB: a comparison with NULL is false, not NULL.
        assert!(!b.value(0) && b.value(1) && !b.value(2));
        let err = c
            .compile(
                &ExprCompiler::normalize(&parse_expression("nope + 1").unwrap(), &[]),
                &schema,
            )
            .unwrap_err();
        assert!(err.message.contains("NOPE"), "{}", err.message);
        assert_eq!(out.null_count(), 0);
    }

    #[test]
    fn expressions_without_a_type_are_refused() {
        use crate::functions::row::testing::eval;
        assert!(eval("CASE WHEN 1 < 2 THEN NULL ELSE NULL END")
            .unwrap_err()
            .contains("All case branches have NULL type"));
        assert!(eval("ARRAY[]").unwrap_err().contains("cannot be empty"));
        assert!(eval("ARRAY[NULL, NULL]")
            .unwrap_err()
            .contains("all NULL elements"));
        assert_eq!(eval("ARRAY[CAST(NULL AS INT)]").unwrap(), "[null]");
        assert_eq!(
            eval("CASE WHEN 1 < 2 THEN NULL ELSE 3 END").unwrap(),
            "null"
        );
    }

    #[test]
    fn strings_among_numbers_in_arrays_are_numbers() {
        use crate::functions::row::testing::eval;
        assert_eq!(eval("ARRAY[NULL, 10, '2e1']").unwrap(), "[null,10,20]");
        assert_eq!(eval("ARRAY['a', '1']").unwrap(), r#"["a","1"]"#);
        // Structs of different fields unite theirs.
        assert_eq!(
            eval("ARRAY[STRUCT(x := 1, y := 2), STRUCT(y := 3, z := 4)]").unwrap(),
            r#"[{"X":1,"Y":2,"Z":null},{"X":null,"Y":3,"Z":4}]"#
        );
    }
}
