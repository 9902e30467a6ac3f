//! The engine: executes statements against the catalog and the log, runs persistent queries,
//! and keeps the catalog durable by writing every catalog command to a command topic that is
//! replayed on start (as ksqlDB does with its command topic).

pub mod connectors;
mod ddl;
pub mod explain;
pub mod heartbeats;
pub(crate) mod insert;
pub mod output;
mod props;
mod pull;
mod repartition;
mod schemas;
mod show;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::exec::persistent::{QueryHandle, StartAt};
use crate::exec::processing_log::{self, ProcessingLog};
use crate::log::{EmbeddedLog, FsyncPolicy, Record, SharedLog};
use crate::plan::expr::ExprCompiler;
use crate::sql::ast::{Explain, Statement};
use crate::sql::{self, ast::Parsed};
use crate::state::{DiskStore, MemoryStore, StateStore};
pub use output::{Listing, Output};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub const COMMAND_TOPIC: &str = "_brooklet_commands";

/// How often a server of a service looks for statements other servers recorded.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

/// The size in bytes at which the embedded log starts a new segment file (64 MiB by default).
pub const SEGMENT_BYTES: &str = "brooklet.log.segment.bytes";

/// Engine-wide settings.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Create a missing topic named by CREATE STREAM/TABLE instead of failing, and take an
    /// existing one whatever its partitions (the QTT harness, whose fake Kafka does both).
    pub auto_create_topics: bool,
    /// Defaults every session starts from (`ksql.*` and `auto.offset.reset`).
    pub properties: BTreeMap<String, String>,
    /// The directories file connectors may use (`brooklet.connect.file.dirs`); none by default.
    pub file_dirs: crate::connect::files::FileDirs,
    /// Scalar functions beyond ksqlDB's (the QTT runner's test registry).
    pub functions: Vec<datafusion::logical_expr::ScalarUDF>,
    /// Aggregate functions beyond ksqlDB's (the QTT runner's test registry).
    pub aggregates: Vec<Arc<dyn crate::functions::udaf::UserAggregate>>,
}

/// Per-client state: property overrides set with SET.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub properties: BTreeMap<String, String>,
    /// Variables set with DEFINE (names upper-cased), substituted for `${name}`.
    pub variables: BTreeMap<String, String>,
    /// Push queries over tables send the tables' deletions as rows (ksqlDB's `/query` marks
    /// them `"tombstone": true`); elsewhere deletions are not rows.
    pub tombstones: bool,
}

pub(crate) struct Inner {
    pub catalog: Catalog,
    pub queries: BTreeMap<String, QueryHandle>,
    pub connectors: BTreeMap<String, crate::connect::Connector>,
    pub next_query: u64,
    pub next_transient: u64,
    pub replaying: bool,
    /// Queries a restart's replay set up, started when it is over.
    pub pending: Vec<(String, crate::exec::persistent::Pending)>,
    /// Tables' materialized state for pull queries, by table name (built on first use).
    pub tables: hashbrown::HashMap<String, Arc<Mutex<crate::state::table::TableStore>>>,
    /// Queries TERMINATE stopped on a service sharing its queries, with their tasks' keys:
    /// their internal topics are deleted by the server that ran the statement, once recorded.
    pub unread: Vec<(String, Vec<String>)>,
}

pub struct Engine {
    pub(crate) log: SharedLog,
    /// Where statements that change the catalog are recorded and replayed from:
    /// [`COMMAND_TOPIC`] on the embedded log, ksqlDB's `_confluent-ksql-<service id>_command_topic`
    /// on Kafka.
    pub(crate) command_topic: String,
    pub(crate) plog: ProcessingLog,
    pub(crate) compiler: ExprCompiler,
    pub(crate) config: EngineConfig,
    pub(crate) state: Arc<dyn StateStore>,
    /// The schema registry `brooklet server` serves (kept in the log).
    registry: Option<Arc<crate::registry::Registry>>,
    /// The one AVRO sources use: `ksql.schema.registry.url`'s, else `registry`.
    schemas: Option<Arc<dyn crate::registry::Schemas>>,
    /// How far the command topic has been applied; held while a statement of this process is
    /// executed and recorded, so statements are applied in one order.
    commands: Mutex<Commands>,
    /// Shut down: the command follower stops.
    closed: std::sync::atomic::AtomicBool,
    inner: Mutex<Inner>,
}

/// The command topic as this process has applied it.
#[derive(Default)]
struct Commands {
    /// The next offset to apply.
    next: u64,
    /// Offsets past `next` holding this process's own statements, applied already.
    own: std::collections::HashSet<u64>,
}

impl Engine {
    /// An engine over the durable log in `dir`; the catalog and persistent queries come back.
    pub fn open(dir: &Path, fsync: FsyncPolicy, config: EngineConfig) -> Result<Arc<Engine>> {
        let segment_bytes = config
            .properties
            .get(SEGMENT_BYTES)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(crate::log::DEFAULT_SEGMENT_BYTES);
        let log: SharedLog = Arc::new(EmbeddedLog::open_with(dir, fsync, segment_bytes)?);
        let state = Arc::new(DiskStore::new(dir.join("state"))?);
        Self::build(log, state, COMMAND_TOPIC.to_string(), config)
    }

    /// An engine over a Kafka cluster: topics, the command topic and committed positions live
    /// there; operator checkpoints are kept in `dir` (the state is also rebuilt from the input
    /// topics without them). It waits until it holds the service's lease (one server of a
    /// `ksql.service.id` runs its queries; see `log::kafka::lease`).
    pub fn open_kafka(
        kafka: crate::log::kafka::KafkaConfig,
        dir: &Path,
        config: EngineConfig,
    ) -> Result<Arc<Engine>> {
        let command_topic = kafka.command_topic();
        use crate::log::Log as _;
        let kafka = crate::log::kafka::KafkaLog::connect(kafka)?;
        if kafka.topic(&command_topic).is_none() {
            match kafka.create_topic(&command_topic, 1) {
                Ok(()) | Err(crate::log::LogError::TopicExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Every server of a service runs its share of the queries; the holder of the lease
        // also runs the connectors.
        kafka.join_lease()?;
        let state = Arc::new(DiskStore::new(dir.join("state"))?);
        let engine = Self::build(Arc::new(kafka), state, command_topic, config)?;
        engine.follow_commands();
        Ok(engine)
    }

    /// Whether the servers of a service share its queries' partitions (on Kafka).
    pub(crate) fn shares_queries(&self) -> bool {
        self.command_topic != COMMAND_TOPIC
    }

    /// This process's schema registry, if its topic could be opened.
    pub fn registry(&self) -> Option<&Arc<crate::registry::Registry>> {
        self.registry.as_ref()
    }

    /// The schema registry sources use (`ksql.schema.registry.url`, else this process's).
    pub fn schemas(&self) -> Option<&Arc<dyn crate::registry::Schemas>> {
        self.schemas.as_ref()
    }

    /// A topic of the service named `_confluent-ksql-<service id>_<name>`, on Kafka.
    pub fn service_topic(&self, name: &str) -> Option<String> {
        let service = self
            .command_topic
            .strip_suffix("_command_topic")
            .filter(|_| self.shares_queries())?;
        Some(format!("{service}_{name}"))
    }

    /// The input partitions this process reads for each persistent query.
    pub fn local_partitions(&self) -> BTreeMap<String, Vec<(String, u32)>> {
        let inner = self.lock();
        let queries = inner.queries.values();
        queries
            .map(|q| (q.id.clone(), q.local_partitions()))
            .collect()
    }

    /// A query's consumer group on a service (ksqlDB's name).
    pub(crate) fn query_group(&self, query_id: &str) -> String {
        crate::exec::persistent::split::group_name(&self.command_topic, query_id)
    }

    /// Applies the statements other servers of the service record in the command topic, as
    /// they come (a thread polling it every [`FOLLOW_INTERVAL`] until the engine is dropped).
    fn follow_commands(self: &Arc<Self>) {
        let engine = Arc::downgrade(self);
        let runtime = tokio::runtime::Handle::try_current().ok();
        let spawned = std::thread::Builder::new()
            .name("command-follower".into())
            .spawn(move || {
                let _entered = runtime.as_ref().map(|r| r.enter());
                loop {
                    std::thread::sleep(FOLLOW_INTERVAL);
                    let Some(engine) = engine.upgrade() else {
                        return;
                    };
                    if engine.closed.load(std::sync::atomic::Ordering::SeqCst) {
                        return;
                    }
                    let mut commands = engine.commands();
                    if let Err(e) = engine.catch_up(&mut commands) {
                        tracing::warn!("cannot follow the command topic: {e}");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start following the command topic: {e}");
        }
    }

    fn commands(&self) -> MutexGuard<'_, Commands> {
        self.commands.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn in_memory(config: EngineConfig) -> Result<Arc<Engine>> {
        Self::with_log(Arc::new(EmbeddedLog::in_memory()), config)
    }

    /// An engine over any log; must be called inside a tokio runtime.
    pub fn with_log(log: SharedLog, config: EngineConfig) -> Result<Arc<Engine>> {
        let state = Arc::new(MemoryStore::default());
        Self::build(log, state, COMMAND_TOPIC.to_string(), config)
    }

    fn build(
        log: SharedLog,
        state: Arc<dyn StateStore>,
        command_topic: String,
        config: EngineConfig,
    ) -> Result<Arc<Engine>> {
        for topic in [command_topic.as_str(), processing_log::TOPIC] {
            if log.topic(topic).is_none() {
                // Another server of the service starting at once may make it first.
                match log.create_topic(topic, 1) {
                    Ok(()) | Err(crate::log::LogError::TopicExists(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let retention = config
            .properties
            .get(processing_log::RETENTION_BYTES)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(processing_log::DEFAULT_RETENTION_BYTES);
        log.set_retention_bytes(processing_log::TOPIC, retention)?;
        let registry = open_registry(&log, &command_topic);
        let schemas: Option<Arc<dyn crate::registry::Schemas>> =
            match config.properties.get("ksql.schema.registry.url") {
                Some(url) => Some(Arc::new(crate::registry::remote::RemoteRegistry::new(url))),
                None => registry
                    .clone()
                    .map(|r| r as Arc<dyn crate::registry::Schemas>),
            };
        let engine = Arc::new(Engine {
            registry,
            schemas,
            plog: ProcessingLog::new(log.clone()),
            log,
            command_topic,
            compiler: ExprCompiler::with_functions(&config.functions, &config.aggregates),
            config,
            state,
            commands: Mutex::new(Commands::default()),
            closed: std::sync::atomic::AtomicBool::new(false),
            inner: Mutex::new(Inner {
                catalog: Catalog::default(),
                queries: BTreeMap::new(),
                connectors: BTreeMap::new(),
                next_query: 0,
                next_transient: 0,
                replaying: false,
                pending: Vec::new(),
                tables: hashbrown::HashMap::new(),
                unread: Vec::new(),
            }),
        });
        engine.lock().replaying = true;
        let registered = engine.register_processing_log();
        engine.lock().replaying = false;
        registered?;
        {
            let mut commands = engine.commands();
            engine.catch_up(&mut commands)?;
        }
        Ok(engine)
    }

    /// The producer id a query's outputs carry in their origins. On the embedded log it is the
    /// query id's hash, as it always was; on Kafka the service's command topic is hashed in too,
    /// so two services whose queries share an id and a sink topic never take each other's
    /// outputs for their own.
    pub fn producer_id(&self, query_id: &str) -> u64 {
        if self.command_topic == COMMAND_TOPIC {
            crate::exec::persistent::producer_id(query_id)
        } else {
            crate::exec::persistent::producer_id(&format!("{}/{query_id}", self.command_topic))
        }
    }

    pub fn log(&self) -> &SharedLog {
        &self.log
    }

    pub fn processing_errors(&self) -> u64 {
        self.plog.error_count()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register_processing_log(&self) -> Result<()> {
        let sql = format!(
            "CREATE STREAM {} ({}) WITH (KAFKA_TOPIC='{}', VALUE_FORMAT='JSON');",
            processing_log::STREAM,
            processing_log::COLUMNS,
            processing_log::TOPIC
        );
        let parsed = sql::parse(&sql)?.remove(0);
        self.execute_statement(&parsed, &mut Session::default())
            .map(|_| ())
    }

    /// Applies the command topic from where this process left it to its end: on start, every
    /// stream, table and persistent query comes back; later, the statements other servers of
    /// the service recorded. Queries set up meanwhile start when it is over (state rebuilt
    /// first), so that a query terminated later in the history never runs; they resume from
    /// their committed offsets.
    fn catch_up(&self, commands: &mut Commands) -> Result<()> {
        let end = self.log.end_offset(&self.command_topic, 0)?;
        if commands.next >= end {
            return Ok(());
        }
        self.lock().replaying = true;
        let topic = &self.command_topic;
        let from = commands.next;
        let result = crate::log::read_to_end(&*self.log, topic, 0, from, 1024, |fetch| {
            for r in fetch.records() {
                commands.next = r.offset + 1;
                if !commands.own.remove(&r.offset) {
                    self.apply_command(r.value)?;
                }
            }
            Ok(())
        });
        self.lock().replaying = false;
        let pending = std::mem::take(&mut self.lock().pending);
        for (id, query) in pending {
            if let Err(e) = query.launch() {
                tracing::error!(query = %id, "cannot resume query: {e}");
            }
        }
        result
    }

    /// Executes one recorded statement (a failure is logged: it failed where it was recorded
    /// too, or the catalog moved on since).
    fn apply_command(&self, value: Option<&[u8]>) -> Result<()> {
        let Some(value) = value else {
            return Ok(());
        };
        let cmd: serde_json::Value = serde_json::from_slice(value)
            .map_err(|e| Error::generic(format!("corrupt command: {e}")))?;
        let mut session = Session::default();
        if let Some(props) = cmd["properties"].as_object() {
            for (k, v) in props {
                session
                    .properties
                    .insert(k.clone(), v.as_str().unwrap_or_default().to_string());
            }
        }
        let text = cmd["statement"].as_str().unwrap_or_default();
        for parsed in sql::parse(text)? {
            if let Err(e) = self.execute_statement(&parsed, &mut session) {
                tracing::warn!("replaying '{}' failed: {e}", parsed.text);
            }
        }
        // The server that ran a TERMINATE deletes the query's internal topics.
        self.lock().unread.clear();
        Ok(())
    }

    /// Parses and executes a script; stops at the first error.
    pub fn execute(&self, sql: &str, session: &mut Session) -> Result<Vec<Output>> {
        let mut out = Vec::new();
        for parsed in sql::parse(sql)? {
            out.push(self.execute_parsed(&parsed, session)?);
        }
        Ok(out)
    }

    /// Executes one statement. Every error a statement raises is a statement error (ksqlDB
    /// wraps them likewise), except syntax errors.
    pub fn execute_parsed(&self, parsed: &Parsed, session: &mut Session) -> Result<Output> {
        self.execute_recorded(parsed, session).map_err(|mut e| {
            if e.kind == crate::error::ErrorKind::Generic {
                e.kind = crate::error::ErrorKind::Statement;
            }
            e
        })
    }

    /// Executes a statement of this process; one that changes the catalog is recorded in the
    /// command topic after the statements already there (other servers' first, on a service
    /// that shares its queries).
    fn execute_recorded(&self, parsed: &Parsed, session: &mut Session) -> Result<Output> {
        if !parsed.statement.is_persistent_command() {
            return self.execute_statement(parsed, session);
        }
        let mut commands = self.commands();
        if self.shares_queries() {
            self.catch_up(&mut commands)?;
        }
        let out = self.execute_statement(parsed, session)?;
        let cmd = serde_json::json!({"statement": parsed.text, "properties": session.properties});
        let record = Record {
            value: Some(cmd.to_string().into_bytes()),
            ..Default::default()
        };
        let at = self.log.append(&self.command_topic, 0, &[record])?;
        if at == commands.next {
            commands.next = at + 1;
        } else {
            // Another server's statements came in between: the follower applies them, and
            // skips this one.
            commands.own.insert(at);
        }
        drop(commands);
        ddl::drop_internal_topics(self)?;
        Ok(out)
    }

    fn execute_statement(&self, parsed: &Parsed, session: &mut Session) -> Result<Output> {
        let out = match &parsed.statement {
            Statement::CreateSource { .. } => ddl::create_source(self, parsed, session)?,
            Statement::CreateAs { .. } | Statement::InsertSelect { .. } => {
                ddl::create_as(self, parsed, session)?
            }
            Statement::Drop { .. } => ddl::drop_source(self, parsed)?,
            Statement::Terminate(id) => ddl::terminate(self, id.as_deref())?,
            Statement::InsertValues {
                target,
                columns,
                values,
            } => insert::insert_values(self, target, columns.as_deref(), values)?,
            Statement::Select(q) => ddl::push_query(self, q, session)?,
            Statement::Delete { table, selection } => {
                pull::delete(self, table, selection.as_deref())?
            }
            Statement::Show(kind, extended) => {
                Output::Listing(show::show(self, kind, *extended, session)?)
            }
            Statement::Define(..)
            | Statement::Undefine(_)
            | Statement::Set(..)
            | Statement::Unset(_) => {
                session_statement(&parsed.statement, session).unwrap_or(Output::Message {
                    text: String::new(),
                    query_id: None,
                })
            }
            Statement::CreateConnector { .. } => connectors::create(self, &parsed.statement)?,
            Statement::DropConnector { if_exists, name } => {
                connectors::drop(self, name, *if_exists)?
            }
            Statement::DescribeFunction(name) => Output::Listing(show::describe_function(name)?),
            Statement::DescribeConnector(name) => {
                Output::Listing(connectors::describe(self, name)?)
            }
            Statement::Describe { name, extended } => {
                Output::Listing(show::describe(self, name, *extended)?)
            }
            Statement::Explain(Explain::Query(id)) => Output::Listing(explain::query(self, id)?),
            Statement::Explain(Explain::Statement(inner)) => {
                let text = parsed.text.trim_start();
                let text = text.get(7..).unwrap_or_default().trim_start();
                Output::Listing(explain::statement(self, inner, text, session)?)
            }
            Statement::Print {
                topic,
                from_beginning,
                limit,
            } => {
                // Keys of a windowed source's topic print with their window.
                let window = self
                    .sources()
                    .iter()
                    .find(|s| &s.topic == topic)
                    .and_then(|s| s.window);
                Output::Print(crate::exec::print::start(
                    self.log.clone(),
                    topic.clone(),
                    *from_beginning,
                    *limit,
                    window,
                )?)
            }
        };
        Ok(out)
    }

    /// A property's value for a session: its override, else the engine default.
    pub(crate) fn property(&self, session: &Session, name: &str) -> Option<String> {
        session
            .properties
            .get(name)
            .or_else(|| self.config.properties.get(name))
            .cloned()
    }

    pub(crate) fn start_at(&self, session: &Session) -> StartAt {
        match self.property(session, "auto.offset.reset").as_deref() {
            Some(v) if v.eq_ignore_ascii_case("earliest") => StartAt::Earliest,
            _ => StartAt::Latest,
        }
    }

    /// Waits until every persistent query has processed all input that exists (and so nothing
    /// more will arrive unless someone writes).
    pub async fn quiesce(&self) {
        let mut stable = 0;
        while stable < 2 {
            let idle = {
                let inner = self.lock();
                inner.queries.values().all(|q| q.caught_up(&self.log))
                    && inner.connectors.values().all(|c| c.idle(&self.log))
            };
            stable = if idle { stable + 1 } else { 0 };
            tokio::time::sleep(Duration::from_millis(if idle { 2 } else { 5 })).await;
        }
    }

    /// The end of a bounded run: waits for the queries to catch up, then closes their open
    /// windows (so EMIT FINAL queries give their last results), and again while that feeds
    /// queries downstream.
    pub async fn finish(&self) {
        for _ in 0..16 {
            self.quiesce().await;
            let queries: Vec<_> = {
                let inner = self.lock();
                for q in inner.queries.values() {
                    q.request_flush();
                }
                inner.queries.keys().cloned().collect()
            };
            let mut wrote = false;
            for id in queries {
                loop {
                    let flushed = {
                        let inner = self.lock();
                        let Some(q) = inner.queries.get(&id) else {
                            break;
                        };
                        q.flushed()
                    };
                    match flushed {
                        Some(w) => {
                            wrote |= w;
                            break;
                        }
                        None => tokio::time::sleep(Duration::from_millis(2)).await,
                    }
                }
            }
            if !wrote {
                return;
            }
        }
    }

    /// Ids and states of the persistent queries.
    pub fn query_states(&self) -> Vec<(String, crate::exec::persistent::QueryState)> {
        self.lock()
            .queries
            .values()
            .map(|q| (q.id.clone(), q.state()))
            .collect()
    }

    /// Per persistent query run whole here: its id, the records of its input it has read,
    /// and the records its input holds now (see `QueryHandle::backlog`).
    pub fn backlogs(&self) -> Vec<(String, u64, u64)> {
        let inner = self.lock();
        let backlog = |q: &crate::exec::persistent::QueryHandle| {
            let (done, total) = q.backlog(&self.log)?;
            Some((q.id.clone(), done, total))
        };
        inner.queries.values().filter_map(backlog).collect()
    }

    pub fn sources(&self) -> Vec<Arc<crate::catalog::Source>> {
        self.lock().catalog.iter().cloned().collect()
    }

    pub fn source(&self, name: &str) -> Option<Arc<crate::catalog::Source>> {
        self.lock().catalog.get(name).cloned()
    }

    /// The rows of state a persistent query holds (see `QueryHandle::state_rows`).
    pub fn state_rows(&self, query_id: &str) -> Option<u64> {
        self.lock().queries.get(query_id).map(|q| q.state_rows())
    }

    /// Stops every query task (the catalog and offsets stay on disk).
    pub fn shutdown(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        let inner = self.lock();
        for q in inner.queries.values() {
            q.stop();
        }
        for q in inner.queries.values() {
            q.wait_stopped();
        }
        drop(inner);
        self.log.close();
    }
}

/// SET, UNSET, DEFINE and UNDEFINE: they change the session only (a remote shell runs them
/// itself, as ksqlDB's CLI does); `None` for any other statement.
pub fn session_statement(statement: &Statement, session: &mut Session) -> Option<Output> {
    Some(match statement {
        Statement::Define(k, v) => {
            session.variables.insert(k.to_uppercase(), v.clone());
            Output::Message {
                text: format!("Defined variable '{k}'."),
                query_id: None,
            }
        }
        Statement::Undefine(k) => Output::Message {
            text: match session.variables.remove(&k.to_uppercase()) {
                Some(_) => format!("Undefined variable '{k}'."),
                None => format!("Variable '{k}' is not defined."),
            },
            query_id: None,
        },
        Statement::Set(k, v) => {
            let old = session.properties.insert(k.clone(), v.clone());
            let text = match old {
                Some(o) => {
                    format!("Successfully changed local property '{k}' from '{o}' to '{v}'.")
                }
                None => format!("Successfully changed local property '{k}' to '{v}'."),
            };
            Output::Message {
                text,
                query_id: None,
            }
        }
        Statement::Unset(k) => match session.properties.remove(k) {
            Some(v) => Output::Message {
                text: format!("Successfully unset local property '{k}' (value was '{v}')."),
                query_id: None,
            },
            None => Output::Message {
                text: format!("Property '{k}' was not set."),
                query_id: None,
            },
        },
        _ => return None,
    })
}

/// The schema registry kept in the log: `_brooklet_schemas` on the embedded log, the service's
/// `_confluent-ksql-<service id>_brooklet_schemas` on Kafka.
fn open_registry(log: &SharedLog, command_topic: &str) -> Option<Arc<crate::registry::Registry>> {
    let topic = match command_topic.strip_suffix("_command_topic") {
        Some(service) if command_topic != COMMAND_TOPIC => format!("{service}_brooklet_schemas"),
        _ => "_brooklet_schemas".to_string(),
    };
    match crate::registry::Registry::open(log.clone(), &topic) {
        Ok(r) => Some(Arc::new(r)),
        Err(e) => {
            tracing::warn!("no schema registry: {}", e.message);
            None
        }
    }
}
