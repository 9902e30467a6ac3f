//! Pull queries (a SELECT without EMIT) and DELETE: answers from a table's materialized state,
//! or from a scan of a stream's records, and then the query ends.
//!
//! Beyond ksqlDB: any WHERE clause (the key is used when the clause pins it down, otherwise the
//! table is scanned), ORDER BY, pull queries over plain CREATE TABLE, and DELETE.

use super::{Engine, Output};
use crate::catalog::{Source, PSEUDO_COLUMNS, WINDOWEND, WINDOWSTART};
use crate::error::{Error, Result};
use crate::exec::{decode, evaluate, persistent, push, BATCH};
use crate::log::BatchBuilder;
use crate::plan::expr::ExprCompiler;
use crate::plan::pull::{lookup_keys, Ordering};
use crate::plan::StreamPlan;
use crate::sql::ast::{Expr, Ident, Query, SelectItem, SourceKind};
use crate::state::table::TableStore;
use datafusion::arrow::array::{ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::Int32Type;
use std::sync::{Arc, Mutex};

/// ROWPARTITION and ROWOFFSET are not kept with a table's state: ksqlDB's pull queries refuse
/// them in SELECT and WHERE.
fn disallowed_pseudo_columns(query: &Query) -> Result<()> {
    use datafusion::sql::sqlparser::ast::visit_expressions;
    use std::ops::ControlFlow;
    fn named<V: datafusion::sql::sqlparser::ast::Visit>(node: &V) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        let _ = visit_expressions(node, |e: &Expr| {
            if let Some(n) =
                crate::sql::column_name(e).filter(|n| n == "ROWPARTITION" || n == "ROWOFFSET")
            {
                if !found.contains(&n) {
                    found.push(n);
                }
            }
            ControlFlow::<()>::Continue(())
        });
        found
    }
    for (clause, found) in [
        ("SELECT", named(&query.select)),
        ("WHERE", query.selection.as_ref().map_or(Vec::new(), named)),
    ] {
        if !found.is_empty() {
            let list: Vec<String> = found.iter().map(|n| format!("`{n}`")).collect();
            return Err(Error::statement(format!(
                "Pull queries don't support the following columns in {clause} clauses: {}",
                list.join(", ")
            )));
        }
    }
    Ok(())
}

pub fn pull_query(engine: &Engine, query: &Query, source: Arc<Source>) -> Result<Output> {
    let refuse = |clause: &str| {
        Err(Error::statement(format!(
            "Pull queries don't support {clause} clauses."
        )))
    };
    if !query.joins.is_empty() {
        return refuse("JOIN");
    }
    if query.window.is_some() {
        return refuse("WINDOW");
    }
    if query.dedup.is_some() {
        return refuse("DEDUPLICATE BY");
    }
    if !query.group_by.is_empty() {
        return refuse("GROUP BY");
    }
    if !query.partition_by.is_empty() {
        return refuse("PARTITION BY");
    }
    if query.having.is_some() {
        return refuse("HAVING");
    }
    disallowed_pseudo_columns(query)?;
    let query = &with_window_bounds(query, &source);
    let mut plan = crate::plan::plan_query(&engine.compiler, query, source.clone(), false, "")?;
    // A windowed table's window bounds are part of its rows' keys.
    if source.window.is_some() {
        for c in plan.output.iter_mut() {
            if c.column.name == WINDOWSTART || c.column.name == WINDOWEND {
                c.column.kind = crate::catalog::ColumnKind::Key;
            }
        }
    }
    let id = {
        let mut inner = engine.lock();
        inner.next_transient += 1;
        format!("transient_{}_{}", source.name, inner.next_transient)
    };
    let width = plan.output.len();
    let qualified = qualifiers(&source, query);
    let mut rows = matching_rows(engine, &source, query.selection.as_ref(), &qualified, &id)?;
    // ORDER BY over the source's columns sorts the rows before the projection; over the
    // result's (aliases), the result.
    let mut order_result = !query.order_by.is_empty();
    if order_result {
        let on_rows = Ordering::compile(
            &engine.compiler,
            &query.order_by,
            &source.row_schema(),
            &qualified,
        );
        if let Ok(ordering) = on_rows {
            let all = concat_batches(&source.row_schema(), &rows)?;
            rows = vec![ordering.sort(&all)?];
            order_result = false;
        }
    }
    let mut out = Vec::new();
    for rows in rows {
        if let Some(b) = evaluate(&plan, &rows, &engine.plog, &id) {
            out.push(b);
        }
        // Without ORDER BY, a stream's scan can stop at the LIMIT.
        let seen: usize = out.iter().map(|b| b.num_rows()).sum();
        if !order_result && query.limit.is_some_and(|l| seen as u64 >= l) {
            break;
        }
    }
    let mut result = match out.first() {
        Some(first) => concat_batches(&first.schema(), &out)?,
        None => return Ok(finish(id, &plan, Vec::new())),
    };
    if order_result {
        let ordering = Ordering::compile(&engine.compiler, &query.order_by, &result.schema(), &[])?;
        result = ordering.sort(&result)?;
    }
    if let Some(limit) = query.limit {
        result = result.slice(0, result.num_rows().min(limit as usize));
    }
    let result = result.project(&(0..width).collect::<Vec<_>>())?;
    Ok(finish(id, &plan, vec![result]))
}

/// ksqlDB's pull queries over a windowed table show each row's window after its key: `*`
/// becomes the keys, WINDOWSTART, WINDOWEND and the values.
fn with_window_bounds(query: &Query, source: &Source) -> Query {
    let star = |s: &SelectItem| matches!(s, SelectItem::Wildcard(_));
    if source.window.is_none() || !query.select.iter().any(star) {
        return query.clone();
    }
    let item = |name: &str| SelectItem::UnnamedExpr(Expr::Identifier(Ident::with_quote('`', name)));
    let mut expanded = query.clone();
    expanded.select = Vec::new();
    for s in &query.select {
        if !star(s) {
            expanded.select.push(s.clone());
            continue;
        }
        expanded.select.extend(source.keys().map(|c| item(&c.name)));
        expanded.select.push(item(WINDOWSTART));
        expanded.select.push(item(WINDOWEND));
        expanded
            .select
            .extend(source.values().map(|c| item(&c.name)));
    }
    expanded
}

fn finish(id: String, plan: &StreamPlan, batches: Vec<RecordBatch>) -> Output {
    let columns = plan.output.iter().map(|c| c.column.clone()).collect();
    Output::Push(push::finished(id, columns, batches, true))
}

/// The source's rows (row schema) that may match `selection`: a table's current rows (only
/// the keys the clause names, when it names them), or every record of a stream. The caller
/// applies the clause itself.
fn matching_rows(
    engine: &Engine,
    source: &Arc<Source>,
    selection: Option<&Expr>,
    qualifiers: &[String],
    id: &str,
) -> Result<Vec<RecordBatch>> {
    if source.kind == SourceKind::Stream {
        return scan_stream(engine, source, id);
    }
    let store = table_store(engine, source)?;
    let bound = consistent_bound(engine, source)?;
    let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
    store.catch_up(engine.log.as_ref(), &engine.plog, &bound)?;
    let keys = lookup_keys(&engine.compiler, selection, qualifiers, source)
        .map(|k| store.encode_keys(&k))
        .transpose()?;
    Ok(vec![store.read(keys.as_ref())?])
}

/// The names that qualify the source's columns in the query: its name and its alias.
fn qualifiers(source: &Source, query: &Query) -> Vec<String> {
    let mut q = vec![source.name.clone()];
    q.extend(query.from.alias.clone());
    q
}

/// Every record a stream's topic holds now, batch by batch.
fn scan_stream(engine: &Engine, source: &Source, id: &str) -> Result<Vec<RecordBatch>> {
    let log = &engine.log;
    let parts = log.topic(&source.topic).map_or(0, |t| t.partitions);
    let needed = vec![true; source.values().count()];
    let mut out = Vec::new();
    for p in 0..parts {
        let end = log.end_offset(&source.topic, p)?;
        let mut at = 0;
        while at < end {
            let fetch = log.fetch(&source.topic, p, at, BATCH.min((end - at) as usize))?;
            if fetch.next_offset() == at {
                break;
            }
            at = fetch.next_offset();
            let recs: Vec<_> = fetch.records().collect();
            out.extend(decode::decode(source, &recs, &engine.plog, id, &needed));
        }
    }
    Ok(out)
}

/// The table's materialized state, created on first use (and anew when the table was replaced).
fn table_store(engine: &Engine, source: &Arc<Source>) -> Result<Arc<Mutex<TableStore>>> {
    let mut inner = engine.lock();
    if let Some(s) = inner.tables.get(&source.name) {
        let same = {
            let held = &s.lock().unwrap_or_else(|e| e.into_inner()).source;
            held.statement == source.statement
                && held.topic == source.topic
                && held.columns == source.columns
        };
        if same {
            return Ok(s.clone());
        }
    }
    let store = Arc::new(Mutex::new(TableStore::new(source.clone())?));
    inner.tables.insert(source.name.clone(), store.clone());
    Ok(store)
}

/// How far the table's topic may be read: the end of each partition, or, for a table a query
/// writes, the sink ends that query committed with its last batch (so a reader never sees
/// part of what one input record changed).
fn consistent_bound(engine: &Engine, source: &Source) -> Result<Vec<u64>> {
    let log = &engine.log;
    let parts = log.topic(&source.topic).map_or(0, |t| t.partitions);
    let mut bound = (0..parts)
        .map(|p| log.end_offset(&source.topic, p))
        .collect::<std::result::Result<Vec<u64>, _>>()?;
    if let Some(writer) = &source.writer {
        // A query shared out among servers commits per task: a partition's bound is the
        // furthest any of them committed (each commits the end after its own outputs).
        let keys = engine.lock().queries.get(writer).map(|q| q.keys(log));
        let mut committed = vec![None::<u64>; bound.len()];
        for key in keys.unwrap_or_else(|| vec![writer.clone()]) {
            for (p, end) in persistent::committed_sink_ends(log.as_ref(), &key, &source.topic)? {
                if let Some(c) = committed.get_mut(p as usize) {
                    *c = Some(c.map_or(end, |c| c.max(end)));
                }
            }
        }
        for (b, c) in bound.iter_mut().zip(committed) {
            *b = c.map_or(*b, |c| (*b).min(c));
        }
    }
    Ok(bound)
}

/// `DELETE FROM t [WHERE ...]`: a tombstone for every row of `t` the clause matches, written to
/// the partition the row is in. Only tables declared over a topic: a query's table belongs to
/// its query, and a source table is read-only.
pub fn delete(engine: &Engine, table: &str, selection: Option<&Expr>) -> Result<Output> {
    let source = engine
        .lock()
        .catalog
        .get(table)
        .cloned()
        .ok_or_else(|| Error::statement(format!("{table} does not exist.")))?;
    if source.kind != SourceKind::Table {
        return Err(Error::statement(format!(
            "DELETE needs a table: {table} is a stream."
        )));
    }
    if let Some(w) = &source.writer {
        return Err(Error::statement(format!(
            "Cannot delete from {table}: its rows are written by query {w}."
        )));
    }
    if source.is_source {
        return Err(Error::statement(format!(
            "Cannot delete from {table}: it is a read-only SOURCE table."
        )));
    }
    if source.window.is_some() {
        return Err(Error::statement(format!(
            "Cannot delete from {table}: it is windowed."
        )));
    }
    let id = format!("delete_{}", source.name);
    let qualified = [source.name.clone()];
    let mut rows = matching_rows(engine, &source, selection, &qualified, &id)?;
    let rows = rows
        .pop()
        .unwrap_or_else(|| RecordBatch::new_empty(source.row_schema()));
    let rows = match selection {
        Some(s) => {
            let compiled = engine.compiler.compile(
                &ExprCompiler::normalize(s, &qualified),
                &source.row_schema(),
            )?;
            let keep = compiled.evaluate(&rows)?.into_array(rows.num_rows())?;
            datafusion::arrow::compute::filter_record_batch(&rows, keep.as_boolean())?
        }
        None => rows,
    };
    let n = rows.num_rows();
    // The keys, then the pseudocolumns `encode` reads: ROWTIME (now), partition, offset and
    // the tombstone flag.
    let keys = source.keys().count();
    let mut columns: Vec<ArrayRef> = rows.columns()[PSEUDO_COLUMNS..PSEUDO_COLUMNS + keys].to_vec();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    columns.push(Arc::new(Int64Array::from(vec![now; n])));
    columns.push(rows.column(1).clone());
    columns.push(rows.column(2).clone());
    columns.push(Arc::new(BooleanArray::from(vec![true; n])));
    let mut fields: Vec<_> = rows.schema().fields()[PSEUDO_COLUMNS..PSEUDO_COLUMNS + keys].to_vec();
    fields.extend(rows.schema().fields()[..PSEUDO_COLUMNS].iter().cloned());
    let batch = RecordBatch::try_new(
        Arc::new(datafusion::arrow::datatypes::Schema::new(fields)),
        columns,
    )?;
    let parts = engine.log.topic(&source.topic).map_or(1, |t| t.partitions);
    let mut by_partition: Vec<BatchBuilder> = (0..parts).map(|_| BatchBuilder::new()).collect();
    let row_part = rows.column(1).as_primitive::<Int32Type>();
    let enc = crate::exec::encode(&batch, &source, parts, None, false)?;
    for (i, row) in enc.rows().iter().enumerate() {
        // A tombstone goes to the partition its row was read from.
        if let Some(b) = by_partition.get_mut(row_part.value(i) as usize) {
            enc.push_to(row, b, None);
        }
    }
    for (p, batch) in by_partition.iter_mut().enumerate() {
        engine.log.append_batch(&source.topic, p as u32, batch)?;
    }
    Ok(Output::Message {
        text: format!(
            "Deleted {n} row{} from {}.",
            if n == 1 { "" } else { "s" },
            source.name
        ),
        query_id: None,
    })
}
