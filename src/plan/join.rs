//! Joins of two sources. Planning checks the join as ksqlDB does, then rewrites the query over
//! a *joined source*: a virtual source whose key is the join key and whose value columns are
//! both sides' columns prefixed by their alias (`T_ID`, `TT_F1`), so that the projection,
//! filter and aggregation planners apply to joins unchanged.

use super::expr::{ExprCompiler, PhysExpr};
use super::{plan_select, sql_type, QueryPlan};
use crate::catalog::types::SqlType;
use crate::catalog::{
    Column, ColumnKind, Source, PSEUDO_COLUMNS, ROWOFFSET, ROWPARTITION, ROWTIME,
};
use crate::error::{Error, Result};
use crate::format::Format;
use crate::sql::ast::{Expr, Ident, JoinKind, Query, Relation, SelectItem, SourceKind};
use crate::sql::ident_name;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, AccessExpr, BinaryOperator, FunctionArguments, ObjectNamePart,
    SelectItemQualifiedWildcardKind,
};
use std::ops::ControlFlow;
use std::sync::Arc;

/// ksqlDB's grace period for stream-stream joins without `GRACE PERIOD`.
pub const LEGACY_GRACE_MS: i64 = 24 * 60 * 60 * 1000;
/// The name of the joined source's key when it is not a synthetic `ROWKEY` (hidden: the
/// projection names the key after the join column it selects).
pub const JOIN_KEY: &str = "\u{1}JOINKEY";

pub use crate::catalog::JoinKeyNames;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinShape {
    StreamStream,
    StreamTable,
    TableTable,
    /// Table-table on an expression of the left table's columns equal to the right table's
    /// key: the result is keyed by the left table's key.
    ForeignKey,
}

/// One side of a join step: where its rows come from, and the join
/// expression over its rows.
#[derive(Debug, Clone)]
pub struct JoinSide {
    /// The side's rows: a source's, or (left) the joined rows of the steps before.
    pub source: Arc<Source>,
    pub key: PhysExpr,
    /// The join's other conditions: more expressions to match on, the other side's in order.
    pub more_keys: Vec<PhysExpr>,
    /// Where the side's joined columns are in its rows.
    pub columns: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct JoinPlan {
    pub kind: JoinKind,
    pub shape: JoinShape,
    pub left: JoinSide,
    pub right: JoinSide,
    /// Stream-stream: how much earlier and later a right record may be than a left one.
    pub before_ms: i64,
    pub after_ms: i64,
    pub grace_ms: i64,
    /// `GRACE PERIOD` given: unmatched outer rows wait for their window to close (else they
    /// are emitted at once, ksqlDB's legacy behaviour).
    pub explicit_grace: bool,
    /// The joined source: key, then each side's ROWTIME and columns.
    pub joined: Arc<Source>,
    /// Per side, the columns the query over the join reads, as indices into the side's
    /// ROWTIME followed by its columns: only these are kept and joined (the others are NULL).
    pub keep: [Vec<usize>; 2],
    /// A foreign-key join's result key: the left table's key column.
    pub left_key: Option<PhysExpr>,
    /// The steps before, whose joined rows are this step's left side (N-way joins).
    pub before: Option<Box<JoinPlan>>,
    /// How many of the query's inputs feed the left side (the rest is the right source).
    pub left_inputs: usize,
}

impl JoinPlan {
    pub fn schema(&self) -> SchemaRef {
        self.joined.row_schema()
    }

    /// How many sources the join reads.
    pub fn inputs_count(&self) -> usize {
        self.left_inputs + 1
    }

    /// The sources the join reads, in input order, with the value columns to decode of each.
    pub fn inputs(&self) -> Vec<(Arc<Source>, Vec<bool>)> {
        let mut inputs = match &self.before {
            Some(b) => b.inputs(),
            None => vec![(self.left.source.clone(), self.decode_needed(0))],
        };
        inputs.push((self.right.source.clone(), self.decode_needed(1)));
        inputs
    }

    /// Keeps, of each side, the joined columns `read` (indices into the joined rows; `None`
    /// for all) names, and what the steps before must give for that.
    pub fn keep_columns(&mut self, read: Option<Vec<usize>>) {
        let first = [
            PSEUDO_COLUMNS + 1,
            PSEUDO_COLUMNS + 1 + self.left.columns.len(),
        ];
        for (s, n) in [self.left.columns.len(), self.right.columns.len()]
            .into_iter()
            .enumerate()
        {
            let keep: Vec<usize> = (0..n)
                .filter(|k| read.as_ref().is_none_or(|r| r.contains(&(first[s] + k))))
                .collect();
            // Rows of no columns cannot be told apart: a side keeps at least one.
            self.keep[s] = if keep.is_empty() { vec![0] } else { keep };
        }
        if let Some(before) = &mut self.before {
            // The steps before give the columns kept here and those the join expression
            // (or a foreign-key join's key) reads, as indices into their joined rows.
            let mut read: Vec<usize> = self.keep[0].iter().map(|k| self.left.columns[*k]).collect();
            let exprs = std::iter::once(&self.left.key)
                .chain(&self.left.more_keys)
                .chain(self.left_key.iter());
            for e in exprs {
                read.extend(
                    datafusion::physical_expr::utils::collect_columns(e)
                        .into_iter()
                        .map(|c| c.index()),
                );
            }
            before.keep_columns(Some(read));
        }
    }

    /// Which of side `side`'s value columns must be decoded (a source side): those kept,
    /// those its join expression reads, and its TIMESTAMP column.
    pub fn decode_needed(&self, side: usize) -> Vec<bool> {
        let s = if side == 0 { &self.left } else { &self.right };
        let source = &s.source;
        let first = PSEUDO_COLUMNS + source.keys().count();
        let mut needed = vec![false; source.values().count()];
        let mut mark = |row_index: usize| {
            if let Some(n) = row_index.checked_sub(first).and_then(|i| needed.get_mut(i)) {
                *n = true;
            }
        };
        for k in &self.keep[side] {
            mark(s.columns[*k]);
        }
        for e in std::iter::once(&s.key).chain(&s.more_keys) {
            for c in datafusion::physical_expr::utils::collect_columns(e) {
                mark(c.index());
            }
        }
        if let Some((ts, _)) = &source.timestamp {
            if let Ok(i) = source.row_schema().index_of(ts) {
                mark(i);
            }
        }
        needed
    }
}

/// A join and the query over its joined rows.
#[derive(Debug, Clone)]
pub struct JoinQuery {
    pub join: JoinPlan,
    pub then: QueryPlan,
}

/// One source of a join, as the query names it: its alias (or name) prefixes its columns in
/// the joined source.
#[derive(Debug, Clone)]
struct Member {
    /// The side of the join step it is on (0 left, 1 right).
    side: usize,
    source: Arc<Source>,
    prefix: String,
    /// Its columns after the pseudocolumns, as (name, type).
    columns: Vec<(String, SqlType)>,
}

impl Member {
    fn named(&self, q: &str) -> bool {
        q == self.prefix || q == self.source.name
    }
    fn has(&self, c: &str) -> bool {
        self.columns.iter().any(|(n, _)| n == c)
    }
}

fn member(source: &Arc<Source>, relation: &Relation, side: usize) -> Result<Member> {
    let schema = source.row_schema();
    let columns = schema.fields()[PSEUDO_COLUMNS..]
        .iter()
        .map(|f| {
            let ty = match source.column(f.name()) {
                Some(c) => c.ty.clone(),
                None => SqlType::from_arrow(f.data_type()).ok_or_else(|| {
                    Error::statement(format!("Unsupported type for column {}", f.name()))
                })?,
            };
            Ok((f.name().clone(), ty))
        })
        .collect::<Result<_>>()?;
    Ok(Member {
        side,
        source: source.clone(),
        prefix: relation
            .alias
            .clone()
            .unwrap_or_else(|| source.name.clone()),
        columns,
    })
}

/// One side of a join step: a source, or (left only) the joined rows of the steps before.
#[derive(Debug, Clone)]
struct Input {
    members: Vec<Member>,
    /// Where its rows come from: the source, or the previous step's joined source.
    source: Arc<Source>,
    composite: bool,
    /// Its columns in the joined source (ROWTIME and columns of each member, prefixed), and
    /// where each is in its rows.
    values: Vec<(String, SqlType)>,
    columns: Vec<usize>,
}

impl Input {
    fn base(m: Member) -> Input {
        // ksqlDB's order: its value columns, its pseudocolumns (`S.ROWTIME`; not part of
        // `*`), its key columns.
        let keys: Vec<&str> = m.source.keys().map(|c| c.name.as_str()).collect();
        let is_key = |n: &str| keys.contains(&n);
        let mut values = Vec::new();
        let mut columns = Vec::new();
        for (j, (n, t)) in m
            .columns
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| !is_key(n))
        {
            values.push((format!("{}_{n}", m.prefix), t.clone()));
            columns.push(PSEUDO_COLUMNS + j);
        }
        for (i, (n, t)) in [
            (ROWTIME, SqlType::Bigint),
            (ROWPARTITION, SqlType::Int),
            (ROWOFFSET, SqlType::Bigint),
        ]
        .into_iter()
        .enumerate()
        {
            values.push((format!("{}_{n}", m.prefix), t));
            columns.push(i);
        }
        for (j, (n, t)) in m.columns.iter().enumerate().filter(|(_, (n, _))| is_key(n)) {
            values.push((format!("{}_{n}", m.prefix), t.clone()));
            columns.push(PSEUDO_COLUMNS + j);
        }
        Input {
            source: m.source.clone(),
            members: vec![m],
            composite: false,
            values,
            columns,
        }
    }

    /// The joined rows of a step, as the left side of the next one.
    fn joined(plan: &JoinPlan, members: Vec<Member>) -> Input {
        let values: Vec<(String, SqlType)> = plan
            .joined
            .values()
            .map(|c| (c.name.clone(), c.ty.clone()))
            .collect();
        let first = PSEUDO_COLUMNS + 1;
        Input {
            columns: (first..first + values.len()).collect(),
            members: members
                .into_iter()
                .map(|m| Member { side: 0, ..m })
                .collect(),
            source: plan.joined.clone(),
            composite: true,
            values,
        }
    }

    fn name(&self) -> String {
        if self.composite {
            self.members
                .iter()
                .map(|m| m.source.name.clone())
                .collect::<Vec<_>>()
                .join(" x ")
        } else {
            self.source.name.clone()
        }
    }
}

fn quoted(name: String) -> Ident {
    Ident::with_quote('`', name)
}

/// Marks the field names of `a->f` (upper-cased as ksqlDB reads them), so that the rewrite
/// of column names leaves them alone.
const FIELD_MARK: char = '[';

fn mark_fields(e: &mut Expr) {
    let _ = visit_expressions_mut(e, |x: &mut Expr| {
        if let Expr::BinaryOp {
            op: BinaryOperator::Arrow,
            right,
            ..
        } = x
        {
            if let Expr::Identifier(id) = right.as_mut() {
                if id.quote_style != Some(FIELD_MARK) {
                    *id = Ident::with_quote(FIELD_MARK, ident_name(id));
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

fn is_pseudo(c: &str) -> bool {
    matches!(c, ROWTIME | ROWPARTITION | ROWOFFSET)
}

/// Plans `query`, whose FROM joins `sources` (the FROM source, then each JOIN's) left to right:
/// each step joins the rows of the steps before it with the next source.
pub fn plan_join(
    compiler: &ExprCompiler,
    query: &Query,
    sources: Vec<Arc<Source>>,
    persistent: bool,
    sink: &str,
) -> Result<QueryPlan> {
    let relations: Vec<&Relation> = std::iter::once(&query.from)
        .chain(query.joins.iter().map(|j| &j.source))
        .collect();
    for (i, a) in sources.iter().enumerate() {
        if let Some(b) = sources[..i].iter().find(|b| b.name == a.name) {
            return Err(Error::statement(format!(
                "Can not join '{0}' to '{0}': self joins are not yet supported.",
                b.name
            )));
        }
    }
    let kafka: Vec<&str> = sources
        .iter()
        .filter(|s| s.value_format.format == Format::Kafka)
        .map(|s| s.name.as_str())
        .collect();
    if !kafka.is_empty() {
        return Err(Error::statement(format!(
            "Source(s) {} are using the 'KAFKA' value format. This format does not yet support JOIN.",
            kafka.join(", ")
        )));
    }
    let mut left = Input::base(member(&sources[0], relations[0], 0)?);
    let mut step: Option<(JoinPlan, Vec<Member>)> = None;
    for (n, join) in query.joins.iter().enumerate() {
        let right = Input::base(member(&sources[n + 1], relations[n + 1], 1)?);
        if let Some(m) = right
            .members
            .iter()
            .find(|r| left.members.iter().any(|l| l.prefix == r.prefix))
        {
            return Err(Error::statement(format!(
                "Can not join '{0}' to '{0}': self joins are not yet supported.",
                m.prefix
            )));
        }
        let before = step.take().map(|(p, _)| Box::new(p));
        let plan = plan_step(
            compiler,
            join,
            &left,
            &right,
            before,
            n == query.joins.len() - 1,
        )?;
        let members = members_of(&left, &right);
        left = Input::joined(&plan, members.clone());
        step = Some((plan, members));
    }
    let Some((mut plan, members)) = step else {
        return Err(Error::statement("A join needs a JOIN clause"));
    };
    let names = plan
        .joined
        .join_key
        .clone()
        .ok_or_else(|| Error::generic("a joined source without a key"))?;
    let key_name = plan
        .joined
        .keys()
        .next()
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let rewritten = rewrite_query(query, &members, &key_name, names.synthetic, &plan.joined)?;
    let then = plan_select(compiler, &rewritten, plan.joined.clone(), persistent, sink)?;
    plan.keep_columns(then.columns_read());
    Ok(QueryPlan::Join(Box::new(JoinQuery { join: plan, then })))
}

/// Plans one join step: `left` (a source or the steps before, planned as `before`) joined
/// with the source `right`.
fn plan_step(
    compiler: &ExprCompiler,
    join: &crate::sql::ast::Join,
    left: &Input,
    right: &Input,
    before: Option<Box<JoinPlan>>,
    last: bool,
) -> Result<JoinPlan> {
    let (lsrc, rsrc) = (&left.source, &right.source);
    let (lname, rname) = (left.name(), right.name());
    let shape = step_shape(join, left, right)?;
    match (lsrc.window, rsrc.window) {
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => {
            let (w, n) = if lsrc.window.is_some() {
                (lsrc, rsrc)
            } else {
                (rsrc, lsrc)
            };
            return Err(Error::statement(format!(
                "Can not join windowed source to non-windowed source.\n`{}` is {} windowed\n`{}` is not windowed",
                w.name,
                w.window.map_or("", |x| x.kind.name()),
                n.name
            )));
        }
        (Some(lw), Some(rw)) => {
            use crate::catalog::WindowType::Session;
            if (lw.kind == Session) != (rw.kind == Session) {
                return Err(Error::statement(format!(
                    "Incompatible windowed sources.\nLeft source: {}\nRight source: {}\nSession windowed sources can only be joined to other session windowed sources, and may still not result in expected behaviour as session bounds must be an exact match for the join to work\nHopping and tumbling windowed sources can only be joined to other hopping and tumbling windowed sources",
                    lw.kind.name(),
                    rw.kind.name()
                )));
            }
            // Keys of windows of another size are other keys: they would need re-keying.
            if lw.size_ms != rw.size_ms {
                return Err(Error::statement(
                    "Implicit repartitioning of windowed sources is not supported. See https://github.com/confluentinc/ksql/issues/4385.",
                ));
            }
        }
    }
    // Windowed sources join on their keys, windows included.
    let window = lsrc.window;
    let members = members_of(left, right);

    // The join condition: equalities of an expression of each side (several, ANDed, join on
    // all of them: beyond ksqlDB, for streams).
    let mut on_expr = join.on.clone();
    unchain(&mut on_expr, &members);
    let mut on = &on_expr;
    while let Expr::Nested(inner) = on {
        on = inner;
    }
    let mut conditions = Vec::new();
    conjuncts(on, &mut conditions);
    let mut pairs: Vec<(&Expr, &Expr)> = Vec::new();
    for c in &conditions {
        let (a, b) = match c {
            Expr::BinaryOp {
                left: a,
                op: BinaryOperator::Eq,
                right: b,
            } => (a.as_ref(), b.as_ref()),
            other => {
                return Err(Error::statement(format!(
                    "Unsupported join expression: {other}. Joins need an equality of one expression from each source."
                )))
            }
        };
        let side_a = side_of_expr(a, c, &members)?;
        let side_b = side_of_expr(b, c, &members)?;
        let pair = match (side_a, side_b) {
            (0, 1) => (a, b),
            (1, 0) => (b, a),
            _ => {
                return Err(Error::statement(format!(
                    "Invalid join condition: each side of the join comparison must reference a different source. Got {c}."
                )))
            }
        };
        if pairs.contains(&pair) {
            return Err(Error::statement(format!(
                "Invalid join condition: {c} appears more than once. Got {on}."
            )));
        }
        pairs.push(pair);
    }
    if pairs.len() > 1 && shape != JoinShape::StreamStream {
        return Err(Error::statement(format!(
            "Invalid join condition: joins on multiple conditions are only supported between streams. Got {on}."
        )));
    }
    let (lexpr, rexpr) = pairs[0];
    // A side's join expression over its rows: a source's own columns, or the joined columns
    // of the steps before.
    let compile_side = |e: &Expr, s: &Input| -> Result<(PhysExpr, Expr, SqlType)> {
        let normalized = if s.composite {
            let e = rewrite_expr(e, &s.members, &s.source)?;
            ExprCompiler::normalize(&e, &[])
        } else {
            let m = &s.members[0];
            ExprCompiler::normalize(e, &[m.source.name.clone(), m.prefix.clone()])
        };
        let schema = s.source.row_schema();
        let compiled = compiler.compile(&normalized, &schema)?;
        let ty = sql_type(&compiled, &schema, "join key")?;
        Ok((compiled, normalized, ty))
    };
    let (lkey, lnorm, lty) = compile_side(lexpr, left)?;
    let (rkey, rnorm, rty) = compile_side(rexpr, right)?;
    if lty != rty {
        return Err(Error::statement(format!(
            "Invalid join condition: types don't match. Got {lexpr}{{{lty}}} = {rexpr}{{{rty}}}."
        )));
    }
    // The other conditions: more key columns to match on (the first names the key).
    let mut more_keys = [Vec::new(), Vec::new()];
    for (l, r) in &pairs[1..] {
        let (lk, _, lt) = compile_side(l, left)?;
        let (rk, _, rt) = compile_side(r, right)?;
        if lt != rt {
            return Err(Error::statement(format!(
                "Invalid join condition: types don't match. Got {l}{{{lt}}} = {r}{{{rt}}}."
            )));
        }
        more_keys[0].push(lk);
        more_keys[1].push(rk);
    }
    let [mut more_left, mut more_right] = more_keys;
    // A table joins on its primary key; two tables may also join on an expression of the
    // left one's columns equal to the right one's key (a foreign-key join).
    // The steps before are keyed by each column their key equals (`T1_ID`, `T2_ID`).
    let on_key = |s: &Input, norm: &Expr| {
        let Expr::Identifier(id) = norm else {
            return false;
        };
        if s.composite {
            return s
                .source
                .join_key
                .as_ref()
                .is_some_and(|k| !k.synthetic && k.candidates.contains(&id.value));
        }
        let keys: Vec<&str> = s.source.keys().map(|c| c.name.as_str()).collect();
        keys == [id.value.as_str()]
    };
    // A table made by the steps before, joined on its key: match on the key column itself,
    // which a deletion keeps (its value columns are NULL then).
    let mut lkey = lkey;
    if left.composite && lsrc.kind == SourceKind::Table && on_key(left, &lnorm) {
        if let Some(k) = lsrc.keys().next() {
            let i = lsrc.row_schema().index_of(&k.name)?;
            lkey = Arc::new(datafusion::physical_expr::expressions::Column::new(
                &k.name, i,
            )) as PhysExpr;
        }
    }
    let mut shape = shape;
    if shape == JoinShape::TableTable && !on_key(left, &lnorm) && on_key(right, &rnorm) {
        if !matches!(join.kind, JoinKind::Inner | JoinKind::Left) {
            return Err(Error::statement(format!(
                "Invalid join type: {} joins are not supported for foreign-key table-table joins. Got {lname} {} JOIN {rname}.",
                if join.kind == JoinKind::Right { "RIGHT OUTER" } else { "FULL OUTER" },
                kind_word(join.kind),
            )));
        }
        if left.composite {
            return Err(Error::statement(format!(
                "Invalid join condition: foreign-key table-table joins are not supported as part of n-way joins. Got {} = {}.",
                lexpr.to_string().to_uppercase(),
                rexpr.to_string().to_uppercase()
            )));
        }
        shape = JoinShape::ForeignKey;
    }
    for (s, norm, e, is_left) in [(left, &lnorm, lexpr, true), (right, &rnorm, rexpr, false)] {
        if s.source.kind != SourceKind::Table || (shape == JoinShape::ForeignKey && is_left) {
            continue;
        }
        if !on_key(s, norm) {
            let keys: Vec<&str> = s.source.keys().map(|c| c.name.as_str()).collect();
            return Err(Error::statement(format!(
                "Cannot repartition a TABLE source. If this is a join, make sure that the criteria uses the TABLE's key column {} instead of {e}",
                keys.join(", ")
            )));
        }
    }

    if let Some(w) = window {
        if !(on_key(left, &lnorm) && on_key(right, &rnorm)) {
            return Err(Error::statement(
                "Implicit repartitioning of windowed sources is not supported. See https://github.com/confluentinc/ksql/issues/4385.",
            ));
        }
        let mut bounds = vec![crate::catalog::WINDOWSTART];
        if w.kind == crate::catalog::WindowType::Session {
            bounds.push(crate::catalog::WINDOWEND);
        }
        for bound in bounds {
            for (s, more) in [(left, &mut more_left), (right, &mut more_right)] {
                let i = s.source.row_schema().index_of(bound)?;
                more.push(
                    Arc::new(datafusion::physical_expr::expressions::Column::new(
                        bound, i,
                    )) as PhysExpr,
                );
            }
        }
    }

    // The joined source's key: the join column the projection selects, or a synthetic ROWKEY.
    let KeyCandidates {
        mut candidates,
        mut display,
        expressions,
        key_type,
        left_key,
    } = key_candidates(shape, [left, right], [&lnorm, &rnorm], [lexpr, rexpr], &lty)?;
    let all_names: Vec<&String> = left
        .values
        .iter()
        .chain(right.values.iter())
        .map(|(n, _)| n)
        .collect();
    let synthetic =
        (join.kind == JoinKind::Full && shape != JoinShape::ForeignKey) || candidates.is_empty();
    let key_name = if synthetic {
        let mut name = "ROWKEY".to_string();
        let mut n = 0;
        while all_names.contains(&&name) || members.iter().any(|s| s.has(&name)) {
            n += 1;
            name = format!("ROWKEY_{n}");
        }
        candidates.clear();
        display = vec![name.clone()];
        name
    } else if last {
        JOIN_KEY.to_string()
    } else {
        // A step's key is not a column the query names (the last step's key is).
        format!("{JOIN_KEY}_{}", left.members.len())
    };
    if let SqlType::Map(..) | SqlType::Struct(_) | SqlType::Array(_) = &lty {
        if super::contains_map(&lty) {
            let shown = candidates
                .first()
                .cloned()
                .unwrap_or_else(|| key_name.clone());
            return Err(Error::statement(format!(
                "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{shown}`. Column type: {lty}. See https://github.com/confluentinc/ksql/issues/6621 for more."
            )));
        }
    }
    let mut columns = vec![Column {
        name: key_name.clone(),
        ty: key_type,
        kind: ColumnKind::Key,
    }];
    for (n, ty) in left.values.iter().chain(right.values.iter()) {
        columns.push(Column {
            name: n.clone(),
            ty: ty.clone(),
            kind: ColumnKind::Value,
        });
    }
    let joined = Arc::new(Source {
        name: members
            .iter()
            .map(|m| m.prefix.clone())
            .collect::<Vec<_>>()
            .join("_"),
        kind: if matches!(shape, JoinShape::TableTable | JoinShape::ForeignKey) {
            SourceKind::Table
        } else {
            SourceKind::Stream
        },
        topic: String::new(),
        columns,
        key_format: lsrc.key_format.clone(),
        value_format: lsrc.value_format.clone(),
        timestamp: None,
        is_source: false,
        statement: String::new(),
        writer: None,
        window,
        join_key: Some(Arc::new(JoinKeyNames {
            candidates,
            display,
            expressions,
            synthetic,
        })),
    });
    let (before_ms, after_ms) = join.within.unwrap_or((0, 0));
    let left_inputs = before.as_ref().map_or(1, |b| b.inputs_count());
    Ok(JoinPlan {
        kind: join.kind,
        shape,
        left: JoinSide {
            source: lsrc.clone(),
            key: lkey,
            more_keys: more_left,
            columns: left.columns.clone(),
        },
        right: JoinSide {
            source: rsrc.clone(),
            key: rkey,
            more_keys: more_right,
            columns: right.columns.clone(),
        },
        before_ms,
        after_ms,
        grace_ms: join.grace_ms.unwrap_or(LEGACY_GRACE_MS),
        explicit_grace: join.grace_ms.is_some(),
        joined,
        keep: [Vec::new(), Vec::new()],
        left_key,
        before,
        left_inputs,
    })
}

/// What a join step joins (stream-stream, stream-table, table-table), refusing the kinds,
/// orders and WITHIN clauses ksqlDB refuses for it.
fn step_shape(join: &crate::sql::ast::Join, left: &Input, right: &Input) -> Result<JoinShape> {
    let (lname, rname) = (left.name(), right.name());
    let shape = match (left.source.kind, right.source.kind) {
        (SourceKind::Stream, SourceKind::Stream) => JoinShape::StreamStream,
        (SourceKind::Stream, SourceKind::Table) => JoinShape::StreamTable,
        (SourceKind::Table, SourceKind::Table) => JoinShape::TableTable,
        (SourceKind::Table, SourceKind::Stream) => {
            return Err(Error::statement(format!(
                "Invalid join order: table-stream joins are not supported; only stream-table joins. Got {lname} {} JOIN {rname}.",
                kind_word(join.kind),
            )))
        }
    };
    match (shape, join.within) {
        (JoinShape::StreamStream, None) => {
            return Err(Error::statement(
                "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn about how to specify a WITHIN clause with a stream-stream join, please visit: https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select",
            ))
        }
        (JoinShape::StreamTable | JoinShape::TableTable, Some(_)) => {
            return Err(Error::statement(format!(
                "A window definition was provided for a {} join. These joins are not windowed. Please drop the window definition (ie. the WITHIN clause) and try to execute your join again.",
                if shape == JoinShape::StreamTable { "Stream-Table" } else { "Table-Table" }
            )))
        }
        _ => {}
    }
    if shape == JoinShape::StreamTable && matches!(join.kind, JoinKind::Right | JoinKind::Full) {
        return Err(Error::statement(format!(
            "Invalid join type: {} join not supported for stream-table join. Got {lname} {} JOIN {rname}.",
            if join.kind == JoinKind::Right {
                "right"
            } else {
                "full-outer"
            },
            kind_word(join.kind),
        )));
    }
    Ok(shape)
}

/// The columns that may name a join step's key (and how the query wrote them), the key's type,
/// and a foreign-key join's left key expression.
struct KeyCandidates {
    candidates: Vec<String>,
    display: Vec<String>,
    expressions: Vec<String>,
    key_type: SqlType,
    left_key: Option<PhysExpr>,
}

/// A foreign-key join is keyed by the left table's key; any other by the join columns each
/// side names, and a step joining on the steps before's key by every column that key equals
/// (ksqlDB's viable key columns of a JoinNode).
fn key_candidates(
    shape: JoinShape,
    sides: [&Input; 2],
    norms: [&Expr; 2],
    exprs: [&Expr; 2],
    lty: &SqlType,
) -> Result<KeyCandidates> {
    let left = sides[0];
    let lsrc = &left.source;
    let mut out = KeyCandidates {
        candidates: Vec::new(),
        display: Vec::new(),
        expressions: Vec::new(),
        key_type: lty.clone(),
        left_key: None,
    };
    if shape == JoinShape::ForeignKey {
        let Some(k) = lsrc.keys().next() else {
            return Err(Error::statement(format!(
                "{} has no key column",
                left.name()
            )));
        };
        match &lsrc.join_key {
            Some(names) => {
                out.candidates = names.candidates.clone();
                out.display = names.display.clone();
                out.expressions = names.expressions.clone();
            }
            None => {
                out.candidates
                    .push(format!("{}_{}", left.members[0].prefix, k.name));
                out.display
                    .push(format!("{}.{}", left.members[0].prefix, k.name));
            }
        }
        out.key_type = k.ty.clone();
        let i = lsrc.row_schema().index_of(&k.name)?;
        out.left_key = Some(
            Arc::new(datafusion::physical_expr::expressions::Column::new(
                &k.name, i,
            )) as PhysExpr,
        );
        return Ok(out);
    }
    for ((s, norm), e) in sides.into_iter().zip(norms).zip(exprs) {
        let written = e.to_string().to_uppercase();
        out.expressions.push(written.clone());
        // A step joining on an expression the steps before's key equals keeps that key's
        // names (`... ON a.id = ABS(b.id) JOIN c ON ABS(b.id) = c.id` is keyed by A_ID).
        let before = lsrc.join_key.as_ref().filter(|k| {
            let named = match norm {
                Expr::Identifier(id) => k.candidates.contains(&id.value),
                _ => k.expressions.contains(&written),
            };
            s.composite && !k.synthetic && named
        });
        if let Some(k) = before {
            out.candidates.extend(k.candidates.iter().cloned());
            out.display.extend(k.display.iter().cloned());
            out.expressions.extend(k.expressions.iter().cloned());
            continue;
        }
        let Expr::Identifier(id) = norm else {
            continue;
        };
        if s.composite {
            out.candidates.push(id.value.clone());
            out.display.push(written);
        } else {
            out.candidates
                .push(format!("{}_{}", s.members[0].prefix, id.value));
            out.display
                .push(format!("{}.{}", s.members[0].prefix, id.value));
        }
    }
    out.candidates.dedup();
    out.display.dedup();
    Ok(out)
}

/// The sources of both sides of a step, left first.
fn members_of(left: &Input, right: &Input) -> Vec<Member> {
    left.members
        .iter()
        .chain(right.members.iter())
        .cloned()
        .collect()
}

/// The conditions ANDed in `e`.
fn conjuncts(e: &Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Nested(inner) => conjuncts(inner, out),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        other => out.push(other.clone()),
    }
}

fn kind_word(kind: JoinKind) -> &'static str {
    match kind {
        JoinKind::Inner => "[INNER]",
        JoinKind::Left => "[LEFT]",
        JoinKind::Right => "[RIGHT]",
        JoinKind::Full => "[FULL] OUTER",
    }
}

/// Which side (0 left, 1 right) the columns of `e` belong to; an error unless exactly one.
fn side_of_expr(e: &Expr, on: &Expr, sides: &[Member]) -> Result<usize> {
    let mut found: Vec<usize> = Vec::new();
    let mut err = None;
    let mut e = e.clone();
    unchain(&mut e, sides);
    mark_fields(&mut e);
    let _ = visit_expressions_mut(&mut e, |x: &mut Expr| {
        let r = match x {
            Expr::Identifier(id) if id.quote_style == Some(FIELD_MARK) => Ok(None),
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let q = ident_name(&parts[0]);
                let c = ident_name(&parts[1]);
                match sides.iter().find(|s| s.named(&q)) {
                    Some(m) if m.has(&c) || is_pseudo(&c) => Ok(Some(m.side)),
                    Some(_) => Err(format!("JOIN ON column '{q}.{c}' cannot be resolved.")),
                    None => match sides.iter().find(|s| s.has(&q)) {
                        Some(m) => Ok(Some(m.side)),
                        None => Err(format!("'{q}' is not a valid stream/table name or alias.")),
                    },
                }
            }
            Expr::Identifier(id) => {
                let c = ident_name(id);
                let on: Vec<&Member> = sides.iter().filter(|s| s.has(&c)).collect();
                match on.as_slice() {
                    [m] => Ok(Some(m.side)),
                    [a, b, ..] => Err(format!(
                        "Column '{c}' is ambiguous. Could be {}.{c} or {}.{c}.",
                        a.source.name, b.source.name
                    )),
                    _ => Err(format!("JOIN ON column '{c}' cannot be resolved.")),
                }
            }
            _ => Ok(None),
        };
        match r {
            Ok(Some(i)) => {
                if !found.contains(&i) {
                    found.push(i);
                }
                ControlFlow::Continue(())
            }
            Ok(None) => ControlFlow::Continue(()),
            Err(m) => {
                err = Some(m);
                ControlFlow::Break(())
            }
        }
    });
    if let Some(m) = err {
        return Err(Error::statement(m));
    }
    match found.as_slice() {
        [i] => Ok(*i),
        _ => Err(Error::statement(format!(
            "Invalid comparison expression '{e}' in join '({on})'. Each side of the join comparision must contain references from exactly one source."
        ))),
    }
}

/// Rewrites column references to the joined source's names: `t.id` and an unambiguous `id`
/// become `T_ID`; a select item `id` keeps its name (`T_ID AS ID`); `*` and `t.*` expand.
fn rewrite_query(
    query: &Query,
    sides: &[Member],
    key_name: &str,
    synthetic: bool,
    joined: &Source,
) -> Result<Query> {
    let expr = |e: &Expr| rewrite_expr(e, sides, joined);
    let side_items = |s: &Member| -> Vec<SelectItem> {
        s.columns
            .iter()
            .filter(|(n, _)| n != crate::catalog::WINDOWSTART && n != crate::catalog::WINDOWEND)
            .map(|(n, _)| {
                SelectItem::UnnamedExpr(Expr::Identifier(quoted(format!("{}_{n}", s.prefix))))
            })
            .collect()
    };
    let mut select = Vec::new();
    for item in &query.select {
        match item {
            // Re-keyed, `*` is every joined column (as in ksqlDB): the projection expands it.
            SelectItem::Wildcard(_) if !query.partition_by.is_empty() => select.push(item.clone()),
            SelectItem::Wildcard(_) => {
                if synthetic {
                    select.push(SelectItem::UnnamedExpr(Expr::Identifier(quoted(
                        key_name.to_string(),
                    ))));
                }
                select.extend(sides.iter().flat_map(side_items));
            }
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(o), _) => {
                let q = match o.0.as_slice() {
                    [ObjectNamePart::Identifier(id)] => ident_name(id),
                    _ => o.to_string(),
                };
                let s = sides.iter().find(|s| s.named(&q)).ok_or_else(|| {
                    Error::statement(format!("'{q}' is not a valid stream/table name or alias."))
                })?;
                select.extend(side_items(s));
            }
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::Expr(e), opts) => select
                .push(SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::Expr(expr(e)?),
                    opts.clone(),
                )),
            SelectItem::UnnamedExpr(e) if column_ref(e, sides).is_some() => {
                // A column is named as it is when only one source has one of that name, else
                // with its source's prefix (`T_ID`).
                let c = column_ref(e, sides).unwrap_or_default();
                let rewritten = expr(e)?;
                let unique = sides.iter().filter(|s| s.has(&c)).count() == 1;
                select.push(match &rewritten {
                    Expr::Identifier(r) if unique && r.value != c => SelectItem::ExprWithAlias {
                        expr: rewritten,
                        alias: quoted(c),
                    },
                    _ => SelectItem::UnnamedExpr(rewritten),
                });
            }
            SelectItem::UnnamedExpr(e) => select.push(SelectItem::UnnamedExpr(expr(e)?)),
            SelectItem::ExprWithAlias { expr: e, alias } => {
                select.push(SelectItem::ExprWithAlias {
                    expr: expr(e)?,
                    alias: alias.clone(),
                })
            }
            other => select.push(other.clone()),
        }
    }
    let opt = |e: &Option<Expr>| e.as_ref().map(expr).transpose();
    let list = |l: &[Expr]| l.iter().map(expr).collect::<Result<Vec<_>>>();
    Ok(Query {
        select,
        from: Relation {
            name: joined.name.clone(),
            alias: None,
        },
        joins: Vec::new(),
        window: query.window.clone(),
        selection: opt(&query.selection)?,
        dedup: None,
        group_by: list(&query.group_by)?,
        partition_by: list(&query.partition_by)?,
        having: opt(&query.having)?,
        emit: query.emit,
        order_by: query.order_by.clone(),
        limit: query.limit,
    })
}

/// The column a select item names, if it is a plain reference to a source's column
/// (`t.id` or `id`).
fn column_ref(e: &Expr, sides: &[Member]) -> Option<String> {
    let mut e = e.clone();
    unchain(&mut e, sides);
    let c = match &e {
        Expr::Identifier(id) => ident_name(id),
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
            sides.iter().find(|s| s.named(&ident_name(&parts[0])))?;
            ident_name(&parts[1])
        }
        Expr::CompoundFieldAccess { root, access_chain } if access_chain.len() == 1 => {
            let Expr::Identifier(q) = root.as_ref() else {
                return None;
            };
            sides.iter().find(|s| s.named(&ident_name(q)))?;
            match &access_chain[0] {
                AccessExpr::Dot(Expr::Identifier(c)) => ident_name(c),
                _ => return None,
            }
        }
        _ => return None,
    };
    (!is_pseudo(&c) && sides.iter().any(|s| s.has(&c))).then_some(c)
}

/// `q.c[1]` and `q.c` as sqlparser reads some of them (a root and an access chain): the
/// qualified column `q.c` becomes one compound identifier first.
fn unchain(e: &mut Expr, sides: &[Member]) {
    let _ = visit_expressions_mut(e, |x: &mut Expr| {
        // `i.user`: sqlparser reads a niladic function (USER), ksqlDB a column.
        if let Expr::Function(f) = x {
            if matches!(f.args, FunctionArguments::None) {
                let parts: Vec<Ident> = f
                    .name
                    .0
                    .iter()
                    .filter_map(|p| match p {
                        ObjectNamePart::Identifier(id) => Some(id.clone()),
                        _ => None,
                    })
                    .collect();
                let column = match parts.as_slice() {
                    [c] => sides.iter().any(|s| s.has(&ident_name(c))),
                    [q, c] => sides
                        .iter()
                        .any(|s| s.named(&ident_name(q)) && s.has(&ident_name(c))),
                    _ => false,
                };
                if column && parts.len() == f.name.0.len() {
                    *x = if parts.len() == 1 {
                        Expr::Identifier(parts[0].clone())
                    } else {
                        Expr::CompoundIdentifier(parts)
                    };
                }
            }
        }
        if let Expr::CompoundFieldAccess { root, access_chain } = x {
            if let (Expr::Identifier(q), Some(AccessExpr::Dot(Expr::Identifier(c)))) =
                (root.as_ref(), access_chain.first())
            {
                if sides.iter().any(|s| s.named(&ident_name(q))) {
                    let compound = Expr::CompoundIdentifier(vec![q.clone(), c.clone()]);
                    let rest: Vec<AccessExpr> = access_chain[1..].to_vec();
                    *x = if rest.is_empty() {
                        compound
                    } else {
                        Expr::CompoundFieldAccess {
                            root: Box::new(compound),
                            access_chain: rest,
                        }
                    };
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

fn rewrite_expr(e: &Expr, sides: &[Member], joined: &Source) -> Result<Expr> {
    let mut e = e.clone();
    let mut err = None;
    unchain(&mut e, sides);
    mark_fields(&mut e);
    let _ = visit_expressions_mut(&mut e, |x: &mut Expr| {
        match x {
            Expr::Identifier(id) if id.quote_style == Some(FIELD_MARK) => {}
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let q = ident_name(&parts[0]);
                if let Some(s) = sides.iter().find(|s| s.named(&q)) {
                    let c = ident_name(&parts[1]);
                    let name = format!("{}_{c}", s.prefix);
                    let mut rest: Vec<Ident> = vec![quoted(name)];
                    rest.extend(parts[2..].iter().cloned());
                    *x = if rest.len() == 1 {
                        Expr::Identifier(rest.remove(0))
                    } else {
                        Expr::CompoundIdentifier(rest)
                    };
                } else if !sides.iter().any(|s| s.has(&q)) && joined.column(&q).is_none() {
                    err = Some(format!("'{q}' is not a valid stream/table name or alias."));
                    return ControlFlow::Break(());
                }
            }
            Expr::Identifier(id) => {
                let c = ident_name(id);
                if is_pseudo(&c) || joined.column(&c).is_some() {
                    return ControlFlow::Continue(());
                }
                let on: Vec<&Member> = sides.iter().filter(|s| s.has(&c)).collect();
                match on.as_slice() {
                    [s] => *id = quoted(format!("{}_{c}", s.prefix)),
                    [a, b, ..] => {
                        err = Some(format!(
                            "Column '{c}' is ambiguous. Could be {}.{c} or {}.{c}.",
                            a.prefix, b.prefix
                        ));
                        return ControlFlow::Break(());
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    });
    match err {
        Some(m) => Err(Error::statement(m)),
        None => Ok(e),
    }
}
