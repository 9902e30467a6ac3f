//! Repartition topics: how servers of a service share an aggregation whose grouping is not its
//! input's key.
//!
//! Such a query cannot be split by input partition (one group's rows are in every partition),
//! so, as ksqlDB's topology does, it runs as two stages joined by the topic
//! `<query group>-Aggregate-GroupBy-repartition` (ksqlDB's name, with as many partitions as
//! the input): the *feeder* filters and re-keys each input record by the grouping (the
//! planned `SELECT * FROM <input> WHERE ... PARTITION BY <group by>`, keys and values JSON)
//! into the partition that key hashes to, and the aggregation reads that topic, where each
//! group's rows are in one partition. Each stage is a shared query with its own consumer group (the feeder the
//! query's, the aggregation the repartition topic's name) and tasks per partition, so both
//! spread over the servers; each stage's outputs carry origins (or transactions), so a record
//! reaches the repartition topic and the sink once across a takeover.
//!
//! Only over one stream without windowed keys: a table's aggregation needs each change's
//! retraction sent to the old group's partition, and is left running whole, as are joins.
//! When re-planning over the repartition topic would not give the same output columns (a
//! grouping expression's generated name taken by a carried column), the query runs whole too.

use super::{ddl, Engine, Session};
use crate::catalog::Source;
use crate::error::Result;
use crate::format::{Format, FormatSpec};
use crate::log::{LogError, TopicSpec};
use crate::plan::QueryPlan;
use crate::sql::ast::{Emit, Query, SelectItem, SourceKind};
use std::sync::Arc;

/// The repartition topic of the query whose consumer group is `query_group`.
pub fn topic_name(query_group: &str) -> String {
    format!("{query_group}-Aggregate-GroupBy-repartition")
}

/// The id of a query's feeder stage (its commits, checkpoints and task logs).
pub fn feeder_id(query_id: &str) -> String {
    format!("{query_id}_REPARTITION")
}

/// The two stages of a repartitioned aggregation.
pub struct Stages {
    /// Re-keys the input into the repartition topic.
    pub feeder: QueryPlan,
    /// The repartition topic, as the feeder writes it and the aggregation reads it.
    pub topic: Arc<Source>,
    /// The aggregation over the repartition topic.
    pub aggregate: QueryPlan,
}

/// The stages `plan` (query `id`, writing `sink`) runs as on a service sharing its queries,
/// with the repartition topic made; `None` for a query that runs as planned.
pub fn stages(
    engine: &Engine,
    session: &Session,
    query: &Query,
    input: &Arc<Source>,
    plan: &QueryPlan,
    sink: &str,
    id: &str,
) -> Result<Option<Stages>> {
    let applies = engine.shares_queries()
        && matches!(plan, QueryPlan::Aggregate(_))
        && !plan.partition_local()
        && input.kind == SourceKind::Stream
        && input.window.is_none();
    if !applies {
        return Ok(None);
    }
    let topic = topic_name(&engine.query_group(id));
    // The feeder filters (as ksqlDB's topology does before its repartition), over the
    // input's own ROWTIME, ROWPARTITION and ROWOFFSET; the aggregation does not again.
    let rekey = Query {
        select: vec![SelectItem::Wildcard(Default::default())],
        from: query.from.clone(),
        joins: Vec::new(),
        window: None,
        selection: query.selection.clone(),
        dedup: None,
        group_by: Vec::new(),
        partition_by: query.group_by.clone(),
        having: None,
        emit: Some(Emit::Changes),
        order_by: Vec::new(),
        limit: None,
    };
    let mut feeder = match ddl::plan(engine, session, &rekey, input.clone(), true, &topic) {
        Ok(p) => p,
        Err(e) => return Ok(whole(id, &e.message)),
    };
    // A grouping by a column keeps the column's name as its key; one by an expression gets a
    // name of its own, which the aggregation's projection cannot take for its output.
    if let QueryPlan::Stream(p) = &mut feeder {
        let is_column = |e| {
            crate::sql::column_name(e).is_some_and(|n| input.columns.iter().any(|c| c.name == n))
        };
        for (i, e) in query.group_by.iter().enumerate() {
            match p.output.get_mut(i) {
                Some(key) if !is_column(e) => key.column.name = format!("KSQL_GROUP_BY_{i}"),
                _ => {}
            }
        }
    }
    let repartitioned = Arc::new(Source {
        name: input.name.clone(),
        kind: SourceKind::Stream,
        topic: topic.clone(),
        columns: feeder.output().iter().map(|c| c.column.clone()).collect(),
        key_format: FormatSpec::new(Format::Json, false),
        value_format: FormatSpec::new(Format::Json, true),
        timestamp: None,
        is_source: false,
        statement: String::new(),
        writer: None,
        window: None,
        join_key: None,
    });
    let unfiltered = Query {
        selection: None,
        ..query.clone()
    };
    let aggregate = match ddl::plan(
        engine,
        session,
        &unfiltered,
        repartitioned.clone(),
        true,
        sink,
    ) {
        Ok(p) => p,
        Err(e) => return Ok(whole(id, &e.message)),
    };
    let columns =
        |p: &QueryPlan| -> Vec<_> { p.output().iter().map(|c| c.column.clone()).collect() };
    if columns(&aggregate) != columns(plan) {
        return Ok(whole(
            id,
            "its output columns differ over the repartition topic",
        ));
    }
    if engine.log.topic(&topic).is_none() {
        let partitions = engine.log.topic(&input.topic).map_or(1, |t| t.partitions);
        match engine
            .log
            .create_topic_with(&topic, partitions, &TopicSpec::default())
        {
            Ok(()) | Err(LogError::TopicExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(Stages {
        feeder,
        topic: repartitioned,
        aggregate,
    }))
}

fn whole(id: &str, why: &str) -> Option<Stages> {
    tracing::info!(
        query = id,
        "no repartition topic, the query runs whole: {why}"
    );
    None
}

/// Deletes a terminated query's repartition topic, if it had one.
pub fn drop_topic(engine: &Engine, id: &str) -> Result<()> {
    match engine
        .log
        .delete_topic(&topic_name(&engine.query_group(id)))
    {
        Ok(()) | Err(LogError::UnknownTopic(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// How long TERMINATE waits for the other servers to stop a query before deleting its topics.
const UNREAD_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Waits (at most [`UNREAD_WAIT`]) until no other live server of the service runs query `id`,
/// as their heartbeats say (see `server::cluster`): a server stops a query's tasks, lets go
/// of its consumers and leaves its groups before its next heartbeat leaves the query out, so
/// the query's topics can then be deleted under no one. (On tansu, a consumer fetching a
/// deleted topic can crash librdkafka; its groups do not tell their members.) Processes that
/// are not servers send no heartbeats and are not waited for.
pub fn wait_unread(engine: &Engine, id: &str) {
    let Some(topic) = engine.service_topic("brooklet_servers") else {
        return;
    };
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    };
    let since = now();
    let deadline = std::time::Instant::now() + UNREAD_WAIT;
    while std::time::Instant::now() < deadline {
        let mut beats = std::collections::BTreeMap::new();
        if let Err(e) = super::heartbeats::read_on(&**engine.log(), &topic, 0, &mut beats) {
            return tracing::warn!("cannot read {topic}: {e}");
        }
        let runs = |beat: &serde_json::Value| {
            let at = beat["at"].as_u64().unwrap_or(0);
            let alive = now().saturating_sub(at) <= super::heartbeats::ALIVE_FOR.as_millis() as u64;
            alive && (at <= since || beat["queries"].get(id).is_some())
        };
        if !beats.values().any(runs) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    tracing::warn!("deleting the topics of query {id} while a server may still run it");
}
