//! Catalog statements: CREATE (AS SELECT), INSERT INTO ... SELECT, DROP, TERMINATE, and
//! transient push queries.

use super::props::{PropsFor, With};
use super::{repartition, schemas, Engine, Output, Session};
use crate::catalog::types::SqlType;
use crate::catalog::{typed_columns, Column, ColumnKind, Source, WindowInfo, WindowType};
use crate::error::{Error, Result};
use crate::exec::persistent::{self, QuerySpec, StartAt};
use crate::exec::push;
use crate::format::Format;
use crate::log::{LogError, TopicSpec};
use crate::plan::QueryPlan;
use crate::sql::ast::{Expr, Parsed, Query, SourceKind, Statement, WindowSpec};
use crate::state::{changelog, StateStore};
use std::sync::Arc;

fn kind_word(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Stream => "stream",
        SourceKind::Table => "table",
    }
}

fn capitalized(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Stream => "Stream",
        SourceKind::Table => "Table",
    }
}

/// The replicas and settings ksqlDB asks Kafka for when it makes a source's topic (its
/// `TopicCreateInjector`): a stream's topic is `cleanup.policy=delete`, a table's `compact`, a
/// windowed aggregation's `compact,delete` with `retention.ms` the larger of `RETENTION_MS` and
/// the window's retention; `RETENTION_MS` on any other table is refused, as ksqlDB does.
fn topic_spec(with: &With, kind: SourceKind, window: Option<&WindowSpec>) -> Result<TopicSpec> {
    let retention = match with.text("RETENTION_MS") {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|ms| *ms >= -1)
                .ok_or_else(|| Error::statement(format!("Invalid value for RETENTION_MS: {v}")))?,
        ),
    };
    let policy = match (kind, window) {
        (SourceKind::Stream, _) => "delete",
        (SourceKind::Table, Some(_)) => "compact,delete",
        (SourceKind::Table, None) => "compact",
    };
    if policy == "compact" && retention.is_some() {
        return Err(Error::statement(
            "Invalid config variable in the WITH clause: RETENTION_MS. Non-windowed tables do \
             not support retention.",
        ));
    }
    let retention = match window.and_then(|w| w.retention_ms) {
        Some(w) => Some(retention.map_or(w, |r| r.max(w))),
        None => retention,
    };
    let mut settings = vec![("cleanup.policy".to_string(), policy.to_string())];
    if let Some(ms) = retention.filter(|_| policy != "compact") {
        settings.push(("retention.ms".to_string(), ms.to_string()));
    }
    Ok(TopicSpec {
        replicas: with.int("REPLICAS")?,
        settings,
    })
}

/// Ensures `topic` exists with `partitions` (creating it as `spec` says when allowed).
fn ensure_topic(
    engine: &Engine,
    topic: &str,
    partitions: Option<u32>,
    create: bool,
    kind: SourceKind,
    spec: &TopicSpec,
) -> Result<()> {
    match engine.log.topic(topic) {
        Some(t) => {
            // The QTT harness's fake Kafka takes a topic as it is.
            let lenient = engine.config.auto_create_topics;
            if let Some(p) = partitions.filter(|p| *p != t.partitions && !lenient) {
                return Err(Error::statement(format!(
                    "A Kafka topic with the name '{topic}' already exists, with different partition/replica configuration than required. KSQL expects {p} partitions (topic has {}), 1 replication factor (topic has 1).",
                    t.partitions
                )));
            }
            Ok(())
        }
        None if create || partitions.is_some() => match engine.log.create_topic_with(
            topic,
            partitions.unwrap_or(1),
            spec,
        ) {
            Ok(()) | Err(LogError::TopicExists(_)) => Ok(()),
            Err(e) => Err(Error::statement(e.to_string())),
        },
        None => Err(Error::statement(format!(
            "Topic '{topic}' does not exist. If you want to create a new topic for the {} please re-run the statement providing the required 'PARTITIONS' configuration in the WITH clause (and optionally 'REPLICAS'). For example: CREATE {} FOO WITH (KAFKA_TOPIC='{topic}', PARTITIONS=2, REPLICAS=1, ...);",
            kind_word(kind),
            kind.name()
        ))),
    }
}

/// A HEADERS column is `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>` and a HEADER('k') column
/// BYTES, as ksqlDB requires.
fn check_header_type(kind: &ColumnKind, ty: &SqlType) -> Result<()> {
    let (what, expected) = match kind {
        ColumnKind::Headers => (
            "HEADERS".to_string(),
            SqlType::Array(Box::new(SqlType::Struct(vec![
                ("KEY".into(), SqlType::String),
                ("VALUE".into(), SqlType::Bytes),
            ]))),
        ),
        ColumnKind::Header(k) => (format!("HEADER('{k}')"), SqlType::Bytes),
        _ => return Ok(()),
    };
    if *ty == expected {
        return Ok(());
    }
    Err(Error::generic(format!(
        "Invalid type for {what} column: expected {expected}, got {ty}"
    )))
}

pub fn create_source(engine: &Engine, parsed: &Parsed, session: &Session) -> Result<Output> {
    let Statement::CreateSource {
        kind,
        or_replace,
        if_not_exists,
        is_source,
        name,
        columns,
        props,
    } = &parsed.statement
    else {
        unreachable!("create_source takes CREATE STREAM/TABLE")
    };
    let with = With::new(props, PropsFor::Create)?;
    let existing = engine.lock().catalog.get(name).cloned();
    if *or_replace && (*is_source || existing.as_ref().is_some_and(|e| e.is_source)) {
        return Err(Error::statement(format!(
            "Cannot add {} '{name}': CREATE OR REPLACE is not supported on source {}s.",
            kind_word(*kind),
            kind_word(*kind)
        )));
    }
    if let Some(existing) = existing {
        if *if_not_exists {
            return Ok(Output::Message {
                text: format!("Cannot add {} {name}: already exists", kind_word(*kind)),
                query_id: None,
            });
        }
        if !*or_replace {
            return Err(Error::statement(format!(
                "Cannot add {} '{name}': A {} with the same name already exists",
                kind_word(*kind),
                kind_word(existing.kind)
            )));
        }
    }
    let topic = with.text("KAFKA_TOPIC").ok_or_else(|| {
        Error::statement("Missing required property \"KAFKA_TOPIC\" which has no default value.")
    })?;
    // Without key or value columns, an AVRO source takes them from the registry.
    let (key_fmt, value_fmt) = with.formats_or_defaults(engine, session, None)?;
    let declares = |kind: ColumnKind| columns.iter().any(|c| ColumnKind::from(&c.role) == kind);
    let key_declared = Some(declares(ColumnKind::Key));
    let key_inferred = schemas::infer(engine, &with, &topic, key_fmt, key_declared, true)?;
    let value_declared = Some(declares(ColumnKind::Value));
    let inferred = schemas::infer(engine, &with, &topic, value_fmt, value_declared, false)?;
    if columns.is_empty() && inferred.is_none() && key_inferred.is_none() {
        return Err(Error::generic("No columns supplied."));
    }
    let mut cols = Vec::new();
    let key_origin = origin(key_inferred, &mut cols);
    for c in columns {
        if [
            "ROWTIME",
            "ROWPARTITION",
            "ROWOFFSET",
            "WINDOWSTART",
            "WINDOWEND",
        ]
        .contains(&c.name.as_str())
        {
            return Err(Error::statement(format!(
                "'{}' is a reserved column name.",
                c.name
            )));
        }
        if cols.iter().any(|x: &Column| x.name == c.name) {
            return Err(Error::statement(format!(
                "Duplicate column names:\n\t- {}",
                c.name
            )));
        }
        let kind = ColumnKind::from(&c.role);
        check_header_type(&kind, &c.ty)?;
        cols.push(Column {
            name: c.name.clone(),
            ty: c.ty.clone(),
            kind,
        });
    }
    let value_origin = origin(inferred, &mut cols);
    let key_cols = typed_columns(&cols, &ColumnKind::Key);
    let value_cols = typed_columns(&cols, &ColumnKind::Value);
    if key_cols.is_empty() && with.text("WINDOW_TYPE").is_some() {
        return Err(Error::statement("Windowed sources require a key column."));
    }
    if *kind == SourceKind::Table && key_cols.is_empty() {
        return Err(Error::statement(
            "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.",
        ));
    }
    let (mut key_format, value_format) =
        with.format_specs(engine, session, None, value_cols.len())?;
    if key_cols.is_empty() && with.formats()?.0.is_none() {
        key_format.format = Format::None;
    }
    key_format.validate(&key_cols, "key")?;
    value_format.validate(&value_cols, "value")?;
    let timestamp = timestamp_column(&with, &cols)?;
    ensure_topic(
        engine,
        &topic,
        with.int("PARTITIONS")?,
        engine.config.auto_create_topics,
        *kind,
        &topic_spec(&with, *kind, None)?,
    )?;
    let mut source = Source {
        name: name.clone(),
        kind: *kind,
        topic,
        columns: cols,
        key_format,
        value_format,
        timestamp,
        is_source: *is_source,
        statement: parsed.text.clone(),
        writer: None,
        window: window_info(&with)?,
        join_key: None,
    };
    let names = schemas::full_names(&with, source.key_format.format, value_fmt)?;
    schemas::attach(engine, &mut source, (key_origin, value_origin), names)?;
    engine.lock().catalog.insert(source);
    Ok(Output::Message {
        text: format!("{} created", capitalized(*kind)),
        query_id: None,
    })
}

/// WINDOW_TYPE and WINDOW_SIZE of a windowed source.
/// Adds a key's or value's inferred columns, and says where its schema comes from.
fn origin(inferred: Option<schemas::Inferred>, cols: &mut Vec<Column>) -> schemas::Origin {
    match inferred {
        Some(i) => {
            cols.extend(i.columns);
            schemas::Origin::Schema(i.id, i.text)
        }
        None => schemas::Origin::Create,
    }
}

/// Where a query's sink takes its key and value schemas: those `*_SCHEMA_ID` names, else its
/// own (registered).
fn sink_origins(
    engine: &Engine,
    with: &With,
    sink: &Source,
) -> Result<(schemas::Origin, schemas::Origin)> {
    let one = |format: Format, is_key: bool| -> Result<schemas::Origin> {
        Ok(
            match schemas::infer(engine, with, &sink.topic, format, None, is_key)? {
                Some(i) => {
                    let kind = if is_key {
                        ColumnKind::Key
                    } else {
                        ColumnKind::Value
                    };
                    schemas::check_columns(&sink.columns, &kind, &i.columns)?;
                    schemas::Origin::Schema(i.id, i.text)
                }
                None => schemas::Origin::Query,
            },
        )
    };
    Ok((
        one(sink.key_format.format, true)?,
        one(sink.value_format.format, false)?,
    ))
}

fn window_info(with: &With) -> Result<Option<WindowInfo>> {
    let Some(t) = with.text("WINDOW_TYPE") else {
        return Ok(None);
    };
    let kind = match t.to_uppercase().as_str() {
        "TUMBLING" => WindowType::Tumbling,
        "HOPPING" => WindowType::Hopping,
        "SESSION" => WindowType::Session,
        other => {
            return Err(Error::property(format!(
                "Unknown window type: '{other}'. Expected one of: SESSION, HOPPING, TUMBLING"
            )))
        }
    };
    let size_ms = match (kind, with.text("WINDOW_SIZE")) {
        (WindowType::Session, Some(_)) => {
            return Err(Error::property(
                "'WINDOW_SIZE' should not be set for SESSION windows.",
            ))
        }
        (WindowType::Session, None) => None,
        (_, None) => {
            return Err(Error::property(format!(
                "'WINDOW_SIZE' must be set for {} windows.",
                kind.name()
            )))
        }
        (_, Some(s)) => {
            let mut it = s.split_whitespace();
            let n: Option<i64> = it.next().and_then(|n| n.parse().ok());
            let unit = it.next().unwrap_or_default().to_uppercase();
            match (n, crate::sql::unit_ms(&unit)) {
                (Some(n), Some(ms)) => Some(n * ms),
                _ => {
                    return Err(Error::property(format!(
                        "Invalid duration: '{s}'. Unknown time unit: '{unit}'"
                    )))
                }
            }
        }
    };
    Ok(Some(WindowInfo { kind, size_ms }))
}

fn timestamp_column(with: &With, cols: &[Column]) -> Result<Option<(String, Option<String>)>> {
    let Some(ts) = with.text("TIMESTAMP") else {
        return Ok(None);
    };
    let name = ts.trim_matches('`').to_string();
    let name = if ts.starts_with('`') {
        name
    } else {
        name.to_uppercase()
    };
    let col = cols.iter().find(|c| c.name == name).ok_or_else(|| {
        Error::statement(format!(
            "The TIMESTAMP column set in the WITH clause does not exist in the schema: '{name}'"
        ))
    })?;
    let format = with.text("TIMESTAMP_FORMAT");
    match (&col.ty, &format) {
        (SqlType::Bigint | SqlType::Timestamp, _) | (SqlType::String, Some(_)) => Ok(Some((name, format))),
        (SqlType::String, None) => Err(Error::statement(format!(
            "A String timestamp field has been specified without also specifying the TIMESTAMP_FORMAT property. Timestamp field: {name}"
        ))),
        (t, _) => Err(Error::statement(format!(
            "Timestamp column, `{name}`, should be LONG(INT64), TIMESTAMP, or a String with a timestamp_format specified. Got: {t}"
        ))),
    }
}

/// CREATE STREAM ... AS SELECT and INSERT INTO ... SELECT.
/// How often a stateful persistent query checkpoints its state (milliseconds).
pub const CHECKPOINT_INTERVAL: &str = "brooklet.checkpoint.interval.ms";

pub fn create_as(engine: &Engine, parsed: &Parsed, session: &Session) -> Result<Output> {
    let (kind, if_not_exists, name, props, query, insert) = match &parsed.statement {
        Statement::CreateAs {
            kind,
            if_not_exists,
            name,
            props,
            query,
            ..
        } => (*kind, *if_not_exists, name, props, query, false),
        Statement::InsertSelect {
            target,
            props,
            query,
        } => (SourceKind::Stream, false, target, props, query, true),
        _ => unreachable!("create_as takes CSAS/CTAS/INSERT INTO"),
    };
    let with = With::new(
        props,
        if insert {
            PropsFor::Insert
        } else {
            PropsFor::CreateAs
        },
    )?;
    let input = engine
        .lock()
        .catalog
        .get(&query.from.name)
        .cloned()
        .ok_or_else(|| Error::statement(format!("{} does not exist.", query.from.name)))?;
    check_result(engine, query, &input, kind, insert, name)?;
    let mut plan = plan(engine, session, query, input.clone(), true, name)?;
    // INSERT INTO: a number or a narrower DECIMAL fits the sink's DECIMAL column (cast to it).
    let fitted = match engine.source(name).filter(|_| insert) {
        Some(target) => fit_to_sink(query, plan.output(), &target),
        None => None,
    };
    let query = match &fitted {
        Some(q) => {
            plan = self::plan(engine, session, q, input.clone(), true, name)?;
            q
        }
        None => query.as_ref(),
    };
    let mut inner = engine.lock();
    let existing = inner.catalog.get(name).cloned();
    let sink = if insert {
        let target =
            existing.ok_or_else(|| Error::statement(format!("Source `{name}` does not exist.")))?;
        if target.kind == SourceKind::Table {
            return Err(Error::statement(format!(
                "INSERT INTO can only be used to insert into a stream. {name} is a table."
            )));
        }
        if target.is_source {
            return Err(Error::statement(format!(
                "Cannot insert into read-only stream: {name}"
            )));
        }
        if target.name == input.name {
            return Err(Error::statement(format!("Cannot insert into {name} from {name}: a query cannot read from and write to the same source")));
        }
        let produced: Vec<(String, SqlType, bool)> = plan
            .output()
            .iter()
            .map(|c| {
                (
                    c.column.name.clone(),
                    c.column.ty.clone(),
                    c.column.kind == ColumnKind::Key,
                )
            })
            .collect();
        let expected: Vec<(String, SqlType, bool)> = target
            .keys()
            .chain(target.values())
            .map(|c| (c.name.clone(), c.ty.clone(), c.kind == ColumnKind::Key))
            .collect();
        if produced != expected {
            let show = |v: &[(String, SqlType, bool)]| {
                v.iter()
                    .map(|(n, t, k)| format!("`{n}` {t}{}", if *k { " KEY" } else { "" }))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(Error::statement(format!(
                "Incompatible schema between results and sink.\nResult schema is {}\nSink schema is {}",
                show(&produced),
                show(&expected)
            )));
        }
        target
    } else {
        if let Some(e) = existing {
            if if_not_exists {
                return Ok(Output::Message {
                    text: format!("Cannot add {} {name}: already exists", kind_word(kind)),
                    query_id: None,
                });
            }
            return Err(Error::statement(format!(
                "Cannot add {} '{name}': A {} with the same name already exists",
                kind_word(kind),
                kind_word(e.kind)
            )));
        }
        let prefix = engine
            .property(session, "ksql.output.topic.name.prefix")
            .unwrap_or_default();
        let topic = with
            .text("KAFKA_TOPIC")
            .unwrap_or_else(|| format!("{prefix}{name}"));
        let columns: Vec<Column> = plan.output().iter().map(|c| c.column.clone()).collect();
        let value_count = columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Value)
            .count();
        let (mut key_format, value_format) = with.format_specs(
            engine,
            session,
            Some((&input.key_format, &input.value_format)),
            value_count,
        )?;
        let keys = typed_columns(&columns, &ColumnKind::Key);
        let values = typed_columns(&columns, &ColumnKind::Value);
        if keys.is_empty() && with.formats()?.0.is_some_and(|f| f != Format::None) {
            return Err(Error::statement(
                "Key format specified for stream without key columns.",
            ));
        }
        if keys.is_empty() {
            key_format.format = Format::None;
        } else if with.formats()?.0 == Some(Format::None) {
            return Err(Error::statement(format!(
                "The 'NONE' format can only be used when no columns are defined. Got: [{}]",
                keys.iter()
                    .map(|(n, t)| format!("`{n}` {t} KEY"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        } else if key_format.format == Format::None {
            // A keyless source's query that makes a key (a join, GROUP BY): the default.
            key_format.format =
                match engine.property(session, "ksql.persistence.default.format.key") {
                    Some(f) => Format::parse(&f)?,
                    None => Format::Kafka,
                };
        }
        key_format.validate(&keys, "key")?;
        value_format.validate(&values, "value")?;
        let timestamp = timestamp_column(&with, &columns)?;
        let partitions = with
            .int("PARTITIONS")?
            .or_else(|| engine.log.topic(&input.topic).map(|t| t.partitions));
        let spec = topic_spec(&with, kind, query.window.as_ref())?;
        drop(inner);
        ensure_topic(engine, &topic, partitions, true, kind, &spec)?;
        let mut sink = Source {
            name: name.clone(),
            kind,
            topic,
            columns,
            key_format,
            value_format,
            timestamp,
            is_source: false,
            statement: parsed.text.clone(),
            writer: None,
            window: plan.window(),
            join_key: None,
        };
        let (key_origin, value_origin) = sink_origins(engine, &with, &sink)?;
        let names = schemas::full_names(&with, sink.key_format.format, sink.value_format.format)?;
        schemas::attach(engine, &mut sink, (key_origin, value_origin), names)?;
        inner = engine.lock();
        Arc::new(sink)
    };
    let n = inner.next_query;
    inner.next_query += 1;
    let id = match with.text("QUERY_ID") {
        Some(id) => id.to_uppercase(),
        None if insert => format!("INSERTQUERY_{n}"),
        None if kind == SourceKind::Table => format!("CTAS_{name}_{n}"),
        None => format!("CSAS_{name}_{n}"),
    };
    if inner.queries.contains_key(&id) {
        return Err(Error::statement(format!("Query ID '{id}' already exists.")));
    }
    drop(inner);
    let stages = repartition::stages(engine, session, query, &input, &plan, name, &id)?;
    inner = engine.lock();
    let mut spec = QuerySpec {
        producer: engine.producer_id(&id),
        task: None,
        shared: engine.shares_queries().then(|| engine.query_group(&id)),
        partitioned: false,
        id: id.clone(),
        statement: parsed.text.clone(),
        plan,
        sink: sink.clone(),
        start: engine.start_at(session),
        fail_on_bad_timestamp: engine
            .property(session, "ksql.timestamp.throw.on.invalid")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        state: engine.state.clone(),
        checkpoint_every: std::time::Duration::from_millis(
            engine
                .property(session, CHECKPOINT_INTERVAL)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(10_000),
        ),
    };
    let mut feeder = None;
    if let Some(stages) = stages {
        // The feeder reads the input as the query's group; the aggregation, from the start
        // of the repartition topic, as the topic's group.
        let mut f = spec.clone();
        f.id = repartition::feeder_id(&id);
        f.producer = engine.producer_id(&f.id);
        f.plan = stages.feeder;
        f.sink = stages.topic.clone();
        spec.shared = Some(stages.topic.topic.clone());
        spec.partitioned = true;
        spec.plan = stages.aggregate;
        spec.start = StartAt::Earliest;
        feeder = Some(persistent::start(
            f,
            engine.log.clone(),
            engine.plog.clone(),
        )?);
    }
    spec.state = query_state(engine, &id, &spec.plan)?;
    let (mut handle, query) = persistent::start(spec, engine.log.clone(), engine.plog.clone())?;
    let mut queries = Vec::new();
    if let Some((h, q)) = feeder {
        handle.fed_by(h);
        queries.push(q);
    }
    queries.push(query);
    for query in queries {
        if inner.replaying {
            inner.pending.push((id.clone(), query));
        } else {
            query.launch_new()?;
        }
    }
    if !insert {
        let mut s = (*sink).clone();
        s.writer = Some(id.clone());
        inner.catalog.insert(s);
    }
    inner.queries.insert(id.clone(), handle);
    Ok(Output::Message {
        text: format!("Created query with ID {id}"),
        query_id: Some(id),
    })
}

/// Where a query's checkpoints go: the engine's store, and on a service sharing its queries
/// also the query's changelog topic (made here if it is missing; see `state::changelog`).
fn query_state(engine: &Engine, id: &str, plan: &QueryPlan) -> Result<Arc<dyn StateStore>> {
    let join = match plan {
        QueryPlan::Stream(_) => return Ok(engine.state.clone()),
        QueryPlan::Aggregate(_) => false,
        QueryPlan::Join(_) => true,
    };
    if !engine.shares_queries() {
        return Ok(engine.state.clone());
    }
    let topic = changelog::topic_name(&engine.query_group(id), join);
    if engine.log.topic(&topic).is_none() {
        let input = &plan.inputs()[0].0.topic;
        let partitions = engine.log.topic(input).map_or(1, |t| t.partitions);
        let spec = TopicSpec {
            replicas: None,
            settings: vec![("cleanup.policy".into(), "compact".into())],
        };
        match engine.log.create_topic_with(&topic, partitions, &spec) {
            Ok(()) | Err(LogError::TopicExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let store = changelog::ChangelogStore::new(
        engine.log.clone(),
        topic,
        id.to_string(),
        engine.state.clone(),
    );
    Ok(Arc::new(store))
}

/// Deletes the internal topics of queries terminated by a statement of this server, once the
/// statement is recorded (the other servers stop the queries as they apply it) and none of
/// them runs the queries any more (see [`repartition::wait_unread`]).
pub(super) fn drop_internal_topics(engine: &Engine) -> Result<()> {
    let terminated = std::mem::take(&mut engine.lock().unread);
    for (id, keys) in terminated {
        repartition::wait_unread(engine, &id);
        drop_changelog(engine, &id, &keys)?;
        repartition::drop_topic(engine, &id)?;
    }
    Ok(())
}

/// Deletes a terminated query's changelog topic and where its tasks' checkpoints were.
fn drop_changelog(engine: &Engine, id: &str, keys: &[String]) -> Result<()> {
    for key in keys {
        engine.log.delete_group(&changelog::index_group(key))?;
    }
    for join in [false, true] {
        let topic = changelog::topic_name(&engine.query_group(id), join);
        match engine.log.delete_topic(&topic) {
            Ok(()) | Err(LogError::UnknownTopic(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

pub fn drop_source(engine: &Engine, parsed: &Parsed) -> Result<Output> {
    let Statement::Drop {
        kind,
        if_exists,
        name,
        delete_topic,
    } = &parsed.statement
    else {
        unreachable!("drop")
    };
    let mut inner = engine.lock();
    let Some(source) = inner.catalog.get(name).cloned() else {
        if *if_exists {
            return Ok(Output::Message {
                text: format!("Source `{name}` does not exist."),
                query_id: None,
            });
        }
        return Err(Error::statement(format!("Source {name} does not exist.")));
    };
    if source.kind != *kind {
        return Err(Error::statement(format!(
            "Incompatible data source type is {}, but statement was DROP {}",
            source.kind.name(),
            kind.name()
        )));
    }
    let readers: Vec<String> = inner
        .queries
        .values()
        .filter(|q| q.sources.contains(name))
        .map(|q| q.id.clone())
        .collect();
    let writers: Vec<String> = inner
        .queries
        .values()
        .filter(|q| &q.sink == name)
        .map(|q| q.id.clone())
        .collect();
    if !readers.is_empty() || !writers.is_empty() {
        return Err(Error::statement(format!(
            "Cannot drop {name}.\nThe following queries read from this source: [{}].\nThe following queries write into this source: [{}].\nYou need to terminate them before dropping {name}.",
            readers.join(", "),
            writers.join(", ")
        )));
    }
    if *delete_topic && source.is_source {
        return Err(Error::statement(format!(
            "Cannot delete topic for read-only source: {name}"
        )));
    }
    inner.catalog.remove(name);
    // On a restart's replay of the command topic, the topic was deleted long ago: a topic of
    // that name now is a later one, whose data must stay.
    if *delete_topic && !inner.replaying && !inner.catalog.iter().any(|s| s.topic == source.topic) {
        match engine.log.delete_topic(&source.topic) {
            Ok(()) | Err(LogError::UnknownTopic(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Output::Message {
        text: format!("Source `{name}` (topic: {}) was dropped.", source.topic),
        query_id: None,
    })
}

pub fn terminate(engine: &Engine, id: Option<&str>) -> Result<Output> {
    let mut inner = engine.lock();
    let ids: Vec<String> = match id {
        None => inner.queries.keys().cloned().collect(),
        Some(id) => {
            let found = inner
                .queries
                .keys()
                .find(|k| k.eq_ignore_ascii_case(id))
                .cloned();
            vec![found.ok_or_else(|| Error::statement(format!("Unknown queryId: {id}")))?]
        }
    };
    let mut internal = Vec::new();
    for id in &ids {
        inner.pending.retain(|(p, _)| p != id);
        if let Some(q) = inner.queries.remove(id) {
            q.terminate();
            q.wait_stopped();
            let keys = q.keys(&engine.log);
            for key in &keys {
                engine.log.delete_group(&persistent::consumer_group(key))?;
                engine.state.remove(key)?;
            }
            for key in q.feeder_keys(&engine.log) {
                engine.log.delete_group(&persistent::consumer_group(&key))?;
            }
            if engine.shares_queries() {
                internal.push((id.clone(), keys));
            }
            let sink = q.sink.clone();
            if let Some(s) = inner
                .catalog
                .get(&sink)
                .filter(|s| s.writer.as_deref() == Some(id.as_str()))
                .cloned()
            {
                let mut s = (*s).clone();
                s.writer = None;
                inner.catalog.insert(s);
            }
        }
    }
    // Its internal topics go once the statement is recorded and no other server of the
    // service runs it (see `drop_internal_topics`).
    inner.unread.extend(internal);
    Ok(Output::Message {
        text: "Query terminated.".to_string(),
        query_id: None,
    })
}

/// Plans a query through `plan::plan`, with its joined sources from the catalog and the
/// session's function settings.
/// ksqlDB's checks of what a CREATE ... AS SELECT (or INSERT INTO, `insert`) would make:
/// EMIT FINAL only when windowed; a table where the query makes one, a stream otherwise.
/// ksqlDB's implicit casts into an existing sink (`ImplicitlyCastResolver`, and
/// `Column.canImplicitlyCast`): the query with each select item whose sink column, at the
/// same place, is a DECIMAL cast to it, when the item is a number literal that fits the
/// DECIMAL without rounding, or a DECIMAL with no more digits before or after the point.
/// None when nothing changes.
fn fit_to_sink(
    query: &Query,
    produced: &[crate::plan::OutputColumn],
    target: &Source,
) -> Option<Query> {
    use datafusion::sql::sqlparser::ast::{
        CastKind, DataType as SqlDataType, ExactNumberInfo, Ident, SelectItem, Value,
    };
    let sink: Vec<&Column> = target.keys().chain(target.values()).collect();
    let mut fitted = query.clone();
    let mut changed = false;
    for (i, item) in fitted.select.iter_mut().enumerate() {
        // A cast item keeps the name it had (`d` stays D, not KSQL_COL_0).
        if let (SelectItem::UnnamedExpr(e), Some(out)) = (&*item, produced.get(i)) {
            *item = SelectItem::ExprWithAlias {
                expr: e.clone(),
                alias: Ident::with_quote('`', out.column.name.clone()),
            };
        }
        let expr = match item {
            SelectItem::ExprWithAlias { expr: e, .. } => e,
            // After a `*`, items no longer line up with columns.
            _ => break,
        };
        let (Some(out), Some(col)) = (produced.get(i), sink.get(i)) else {
            break;
        };
        let SqlType::Decimal(p, s) = col.ty else {
            continue;
        };
        if out.column.name != col.name || out.column.ty == col.ty {
            continue;
        }
        let fits = match (&*expr, &out.column.ty) {
            (Expr::Value(v), _) => match &v.value {
                Value::Number(n, _) => literal_fits(n, p, s),
                _ => false,
            },
            (_, SqlType::Decimal(p1, s1)) => {
                *s1 <= s && i16::from(*p1) - i16::from(*s1) <= i16::from(p) - i16::from(s)
            }
            _ => false,
        };
        if fits {
            let data_type = SqlDataType::Decimal(ExactNumberInfo::PrecisionAndScale(
                u64::from(p),
                i64::from(s),
            ));
            *expr = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(expr.clone()),
                data_type,
                array: false,
                format: None,
            };
            changed = true;
        }
    }
    changed.then_some(fitted)
}

/// Whether the number `text` is a DECIMAL(p, s) without rounding: at most `s` digits after
/// the point (trailing zeros aside) and `p - s` before it.
fn literal_fits(text: &str, p: u8, s: i8) -> bool {
    let Ok(s) = u8::try_from(s) else {
        return false;
    };
    let Ok(v) = text.parse::<f64>() else {
        return false;
    };
    let plain = if text.contains(['e', 'E']) {
        format!("{v}")
    } else {
        text.to_string()
    };
    let plain = plain.trim_start_matches(['-', '+']);
    let (whole, fraction) = plain.split_once('.').unwrap_or((plain, ""));
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    whole.len() <= usize::from(p.saturating_sub(s)) && fraction.len() <= usize::from(s)
}

pub(super) fn check_result(
    engine: &Engine,
    query: &Query,
    input: &Source,
    kind: SourceKind,
    insert: bool,
    name: &str,
) -> Result<()> {
    if query.emit == Some(crate::sql::ast::Emit::Final) && query.window.is_none() {
        return Err(Error::statement(
            "EMIT FINAL is only supported for windowed aggregations.",
        ));
    }
    // A windowed table (its key holds the window) feeds no persistent query, as in ksqlDB.
    let windowed_table = |s: &Source| s.kind == SourceKind::Table && s.window.is_some();
    let joined = query
        .joins
        .iter()
        .filter_map(|j| engine.lock().catalog.get(&j.source.name).cloned());
    if windowed_table(input) || joined.into_iter().any(|s| windowed_table(&s)) {
        return Err(Error::generic(
            "KSQL does not support persistent queries on windowed tables.",
        ));
    }
    // A join of two tables is a table, as is an aggregation.
    let mut table_join = !query.joins.is_empty() && input.kind == SourceKind::Table;
    for j in &query.joins {
        let right = engine.lock().catalog.get(&j.source.name).cloned();
        table_join &= right.is_some_and(|r| r.kind == SourceKind::Table);
    }
    // So is a query over one table.
    let over_table = query.joins.is_empty() && input.kind == SourceKind::Table;
    let makes_table = !query.group_by.is_empty() || table_join || over_table;
    match (makes_table, kind, insert) {
        (true, _, true) => Err(Error::statement(format!("INSERT INTO can only be used to insert into a stream. {name} would be a table."))),
        (true, SourceKind::Stream, _) => Err(Error::statement("Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead.")),
        (false, SourceKind::Table, _) => Err(Error::statement("Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS SELECT statement instead.")),
        _ => Ok(()),
    }
}

pub(super) fn plan(
    engine: &Engine,
    session: &Session,
    query: &Query,
    input: Arc<Source>,
    persistent: bool,
    sink: &str,
) -> Result<QueryPlan> {
    let mut sources = vec![input];
    for j in &query.joins {
        let source = engine.lock().catalog.get(&j.source.name).cloned();
        sources.push(
            source.ok_or_else(|| Error::statement(format!("{} does not exist.", j.source.name)))?,
        );
    }
    let limit = |name: &str| {
        engine
            .property(session, name)
            .and_then(|v| v.trim().parse::<usize>().ok())
    };
    let options = crate::plan::PlanOptions {
        persistent,
        sink,
        collect_list_limit: limit("ksql.functions.collect_list.limit"),
        collect_set_limit: limit("ksql.functions.collect_set.limit"),
    };
    crate::plan::plan(&engine.compiler, query, sources, &options)
}

pub fn push_query(engine: &Engine, query: &Query, session: &Session) -> Result<Output> {
    let source = engine
        .lock()
        .catalog
        .get(&query.from.name)
        .cloned()
        .ok_or_else(|| Error::statement(format!("{} does not exist.", query.from.name)))?;
    if query.emit.is_none() {
        return super::pull::pull_query(engine, query, source);
    }
    if !query.order_by.is_empty() {
        return Err(Error::statement(
            "ORDER BY is supported in pull queries only (a SELECT without EMIT).",
        ));
    }
    let plan = plan(engine, session, query, source.clone(), false, "")?;
    let id = {
        let mut inner = engine.lock();
        inner.next_transient += 1;
        format!("transient_{}_{}", source.name, inner.next_transient)
    };
    let q = push::start(
        id,
        plan,
        query.limit,
        engine.start_at(session),
        engine.log.clone(),
        engine.plog.clone(),
        push::Delivery {
            client_timeout: std::time::Duration::from_millis(
                engine
                    .property(session, "brooklet.push.client.timeout.ms")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(push::CLIENT_TIMEOUT_MS),
            ),
            tombstones: session.tombstones,
        },
    )?;
    Ok(Output::Push(q))
}

#[cfg(test)]
impl Engine {
    /// The plan of a CREATE ... AS SELECT, as the engine would run it (for operators' unit
    /// tests).
    pub(crate) fn plan_for_test(&self, sql: &str, session: &Session) -> Result<QueryPlan> {
        let parsed = crate::sql::parse(sql)?;
        let Some(Statement::CreateAs { name, query, .. }) = parsed.first().map(|p| &p.statement)
        else {
            return Err(Error::statement("not a CREATE ... AS SELECT"));
        };
        let input = self.lock().catalog.get(&query.from.name).cloned();
        let input = input.ok_or_else(|| Error::statement("no such source"))?;
        plan(self, session, query, input, true, name)
    }
}
