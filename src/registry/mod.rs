//! A schema registry with the Confluent Schema Registry's model and rules, kept in a topic of
//! the log, so that `brooklet server` is the registry its clients need when nothing else is.
//!
//! Subjects hold versions (1, 2, ...) of schemas; a schema has one id however many subjects
//! register it (the same schema is the same id). A new version must be compatible with the
//! subject's earlier ones at the subject's compatibility level, else the global one (BACKWARD
//! by default): `BACKWARD` (the new schema reads what the latest wrote), `FORWARD` (the latest
//! reads what the new one writes), `FULL` (both), their `_TRANSITIVE` forms (against every
//! version, not only the latest), `NONE`. Deleting a subject or a version is a soft delete:
//! the ids stay readable, as Confluent's are.
//!
//! Every change is a record of the registry's topic (its key and value JSON, after Confluent's
//! `_schemas` records), appended before it is answered; the registry reads its topic on before
//! every request, so servers over one Kafka service share it. AVRO schemas are parsed
//! (`apache-avro`), compared by their canonical form, and checked for compatibility; JSON
//! schemas must be JSON and PROTOBUF ones are taken as text, both compared as written and not
//! checked for compatibility yet. A schema may refer to other subjects' versions (Confluent's
//! references: a PROTOBUF schema's imports); a reference must exist when it is registered, and
//! [`Schemas::imports`] resolves them.

mod avro;
pub(crate) use avro::parse as parse_avro;
pub mod remote;

use crate::log::{LogError, Record, SharedLog};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// A registry error, with Confluent's HTTP status and error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

impl RegistryError {
    fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        RegistryError {
            status,
            code,
            message: message.into(),
        }
    }

    fn subject_not_found(subject: &str) -> Self {
        Self::new(404, 40401, format!("Subject '{subject}' not found."))
    }

    fn version_not_found(version: &str) -> Self {
        Self::new(404, 40402, format!("Version {version} not found."))
    }

    fn store(e: LogError) -> Self {
        Self::new(500, 50001, format!("Error in the backend data store: {e}"))
    }
}

pub type RegistryResult<T> = std::result::Result<T, RegistryError>;

/// The kinds of schema the registry takes (`schemaType`; AVRO when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaType {
    Avro,
    Json,
    Protobuf,
}

impl SchemaType {
    pub fn parse(s: Option<&str>) -> RegistryResult<Self> {
        match s.map(str::to_ascii_uppercase).as_deref() {
            None | Some("AVRO") => Ok(SchemaType::Avro),
            Some("JSON") => Ok(SchemaType::Json),
            Some("PROTOBUF") => Ok(SchemaType::Protobuf),
            Some(other) => Err(RegistryError::new(
                422,
                42201,
                format!("Invalid schema type {other}"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }
}

/// A compatibility level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compatibility {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Compatibility {
    const ALL: [(Compatibility, &'static str); 7] = [
        (Compatibility::None, "NONE"),
        (Compatibility::Backward, "BACKWARD"),
        (Compatibility::BackwardTransitive, "BACKWARD_TRANSITIVE"),
        (Compatibility::Forward, "FORWARD"),
        (Compatibility::ForwardTransitive, "FORWARD_TRANSITIVE"),
        (Compatibility::Full, "FULL"),
        (Compatibility::FullTransitive, "FULL_TRANSITIVE"),
    ];

    pub fn parse(s: &str) -> RegistryResult<Self> {
        Self::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(c, _)| *c)
            .ok_or_else(|| RegistryError::new(422, 42203, "Invalid compatibility level"))
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("NONE", |(_, n)| n)
    }

    /// (whether the new schema must read the old ones' data, whether they must read its data,
    /// whether against every version rather than the latest)
    fn rules(self) -> (bool, bool, bool) {
        match self {
            Compatibility::None => (false, false, false),
            Compatibility::Backward => (true, false, false),
            Compatibility::BackwardTransitive => (true, false, true),
            Compatibility::Forward => (false, true, false),
            Compatibility::ForwardTransitive => (false, true, true),
            Compatibility::Full => (true, true, false),
            Compatibility::FullTransitive => (true, true, true),
        }
    }
}

/// What a source in a registry format needs of a schema registry: this process's
/// ([`Registry`]) or one elsewhere ([`remote::RemoteRegistry`]).
pub trait Schemas: Send + Sync {
    /// A schema by id.
    fn schema(&self, id: u32) -> RegistryResult<Schema>;
    /// Registers a schema under a subject (its id; the existing one's if it is there).
    fn register(&self, subject: &str, kind: SchemaType, text: &str) -> RegistryResult<u32>;
    /// A subject's latest version.
    fn latest(&self, subject: &str) -> RegistryResult<SubjectVersion> {
        self.version_of(subject, None)
    }
    /// A subject's version (`None`: the latest).
    fn version_of(&self, subject: &str, version: Option<u32>) -> RegistryResult<SubjectVersion>;
    /// The schemas `references` name, as (import name, text), and theirs in turn.
    fn imports(&self, references: &[Reference]) -> RegistryResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        for r in references {
            let v = self.version_of(&r.subject, Some(r.version))?;
            out.extend(self.imports(&v.references)?);
            out.push((r.name.clone(), v.schema));
        }
        Ok(out)
    }
}

impl Schemas for Registry {
    fn schema(&self, id: u32) -> RegistryResult<Schema> {
        Registry::schema(self, id)
    }

    fn register(&self, subject: &str, kind: SchemaType, text: &str) -> RegistryResult<u32> {
        Registry::register(self, subject, kind, text)
    }

    fn version_of(&self, subject: &str, version: Option<u32>) -> RegistryResult<SubjectVersion> {
        self.version(subject, version)
    }
}

/// A schema's reference to another subject's version, imported by `name` (a PROTOBUF file
/// name), as Confluent's registry keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub name: String,
    pub subject: String,
    pub version: u32,
}

impl Reference {
    /// The references of a request or record (`[{"name", "subject", "version"}]`).
    pub fn parse_all(v: &Value) -> Vec<Reference> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                Some(Reference {
                    name: r["name"].as_str()?.to_string(),
                    subject: r["subject"].as_str()?.to_string(),
                    version: r["version"].as_u64()? as u32,
                })
            })
            .collect()
    }

    pub fn to_json(all: &[Reference]) -> Value {
        Value::Array(
            all.iter()
                .map(|r| json!({"name": r.name, "subject": r.subject, "version": r.version}))
                .collect(),
        )
    }
}

/// A registered schema.
#[derive(Debug, Clone)]
pub struct Schema {
    pub id: u32,
    pub kind: SchemaType,
    /// As first registered.
    pub text: String,
    /// The other subjects' schemas it imports.
    pub references: Vec<Reference>,
    /// What identifies it: an AVRO schema's canonical form, else the text; then its references.
    identity: String,
}

impl Schema {
    /// A schema as another registry gave it.
    pub fn new(id: u32, kind: SchemaType, text: String, references: Vec<Reference>) -> Schema {
        Schema {
            id,
            kind,
            identity: text.clone(),
            text,
            references,
        }
    }
}

/// One version of a subject.
#[derive(Debug, Clone)]
struct Version {
    version: u32,
    id: u32,
    deleted: bool,
}

/// A subject's version as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub kind: SchemaType,
    pub schema: String,
    pub references: Vec<Reference>,
}

impl SubjectVersion {
    /// Confluent's JSON for it (`schemaType` only when not AVRO, `references` only when there
    /// are some, as Confluent answers).
    pub fn to_json(&self) -> Value {
        let mut v = json!({"subject": self.subject, "version": self.version, "id": self.id,
                           "schema": self.schema});
        describe(&mut v, self.kind, &self.references);
        v
    }
}

/// Adds a schema's `schemaType` (only when not AVRO) and `references` (only when there are
/// some) to its JSON, as Confluent answers.
pub fn describe(v: &mut Value, kind: SchemaType, references: &[Reference]) {
    if kind != SchemaType::Avro {
        v["schemaType"] = json!(kind.name());
    }
    if !references.is_empty() {
        v["references"] = Reference::to_json(references);
    }
}

#[derive(Default)]
struct State {
    /// The next offset of the registry's topic to read.
    next: u64,
    /// By id (given 1, 2, ... unless a registration names its id).
    schemas: BTreeMap<u32, Schema>,
    subjects: BTreeMap<String, Vec<Version>>,
    global: Option<Compatibility>,
    per_subject: BTreeMap<String, Compatibility>,
}

/// The registry over one topic of a log.
pub struct Registry {
    log: SharedLog,
    topic: String,
    state: Mutex<State>,
}

/// Which version a request names: a number, or the latest (`latest`, `-1`).
pub fn parse_version(v: &str) -> RegistryResult<Option<u32>> {
    if v == "latest" || v == "-1" {
        return Ok(None);
    }
    match v.parse::<u32>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(RegistryError::new(
            422,
            42202,
            format!(
                "The specified version '{v}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
            ),
        )),
    }
}

impl Registry {
    /// The registry kept in `topic` of `log` (made when missing).
    pub fn open(log: SharedLog, topic: &str) -> RegistryResult<Registry> {
        if log.topic(topic).is_none() {
            let spec = crate::log::TopicSpec {
                replicas: None,
                settings: vec![("cleanup.policy".into(), "compact".into())],
            };
            match log.create_topic_with(topic, 1, &spec) {
                Ok(()) | Err(LogError::TopicExists(_)) => {}
                Err(e) => return Err(RegistryError::store(e)),
            }
        }
        Ok(Registry {
            log,
            topic: topic.to_string(),
            state: Mutex::new(State::default()),
        })
    }

    /// The state, read on to the end of the topic.
    fn state(&self) -> RegistryResult<MutexGuard<'_, State>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let from = state.next;
        let read = crate::log::read_to_end(&*self.log, &self.topic, 0, from, 1024, |fetch| {
            for r in fetch.records() {
                state.next = r.offset + 1;
                if let (Some(k), Some(v)) = (r.key, r.value) {
                    if let (Ok(k), Ok(v)) = (serde_json::from_slice(k), serde_json::from_slice(v)) {
                        state.apply(&k, &v);
                    }
                }
            }
            Ok::<_, LogError>(())
        });
        read.map_err(RegistryError::store)?;
        Ok(state)
    }

    /// Appends a change and applies it.
    fn record(&self, state: &mut State, key: Value, value: Value) -> RegistryResult<()> {
        let record = Record {
            key: Some(key.to_string().into_bytes()),
            value: Some(value.to_string().into_bytes()),
            timestamp: now_ms(),
            ..Record::default()
        };
        let at = self
            .log
            .append(&self.topic, 0, &[record])
            .map_err(RegistryError::store)?;
        state.apply(&key, &value);
        state.next = state.next.max(at + 1);
        Ok(())
    }

    /// The subjects with at least one version not deleted.
    pub fn subjects(&self) -> RegistryResult<Vec<String>> {
        let state = self.state()?;
        Ok(state
            .subjects
            .iter()
            .filter(|(_, v)| v.iter().any(|v| !v.deleted))
            .map(|(s, _)| s.clone())
            .collect())
    }

    /// A subject's versions (not deleted).
    pub fn versions(&self, subject: &str) -> RegistryResult<Vec<u32>> {
        let state = self.state()?;
        let live = state.live(subject)?;
        Ok(live.iter().map(|v| v.version).collect())
    }

    /// One version of a subject (`None`: the latest).
    pub fn version(&self, subject: &str, version: Option<u32>) -> RegistryResult<SubjectVersion> {
        let state = self.state()?;
        let live = state.live(subject)?;
        let found = match version {
            None => live.last(),
            Some(n) => live.iter().find(|v| v.version == n),
        };
        let v = found.ok_or_else(|| {
            RegistryError::version_not_found(&version.map_or("latest".into(), |n| n.to_string()))
        })?;
        Ok(state.show(subject, v))
    }

    /// A schema by id.
    pub fn schema(&self, id: u32) -> RegistryResult<Schema> {
        let state = self.state()?;
        state
            .by_id(id)
            .cloned()
            .ok_or_else(|| RegistryError::new(404, 40403, format!("Schema {id} not found")))
    }

    /// Registers `text` under `subject` (its id; the existing version's if it is there).
    pub fn register(&self, subject: &str, kind: SchemaType, text: &str) -> RegistryResult<u32> {
        self.register_as(subject, kind, text, None)
    }

    /// Registers `text` under `subject`, with the id `id` if one is asked for (as Confluent's
    /// `"id"` in a registration does): an id already taken by another schema is refused.
    pub fn register_as(
        &self,
        subject: &str,
        kind: SchemaType,
        text: &str,
        id: Option<u32>,
    ) -> RegistryResult<u32> {
        self.register_with(subject, kind, text, &[], id)
    }

    /// Registers `text`, which imports what `references` name (each must be registered).
    pub fn register_with(
        &self,
        subject: &str,
        kind: SchemaType,
        text: &str,
        references: &[Reference],
        id: Option<u32>,
    ) -> RegistryResult<u32> {
        for r in references {
            self.version(&r.subject, Some(r.version)).map_err(|_| {
                RegistryError::new(
                    422,
                    42201,
                    format!(
                        "Invalid schema: reference {} to {} version {} does not exist",
                        r.name, r.subject, r.version
                    ),
                )
            })?;
        }
        let identity = identity_of(kind, text, references)?;
        let mut state = self.state()?;
        if let Some(v) = state.find(subject, kind, &identity) {
            if id.is_none_or(|id| id == v.id) {
                return Ok(v.id);
            }
        }
        if let Some(taken) = id.and_then(|id| state.by_id(id)) {
            if taken.kind != kind || taken.identity != identity {
                return Err(RegistryError::new(
                    422,
                    42205,
                    format!(
                        "Overwrite new schema with id {} is not permitted.",
                        taken.id
                    ),
                ));
            }
        }
        let level = state.level(subject);
        if let Err(why) = state.check(subject, kind, text, level) {
            return Err(RegistryError::new(
                409,
                409,
                format!(
                    "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{why}]"
                ),
            ));
        }
        let same = state
            .schemas
            .values()
            .find(|s| s.kind == kind && s.identity == identity);
        let id = match (id, same) {
            (Some(id), _) => id,
            (None, Some(s)) => s.id,
            (None, None) => state.schemas.keys().next_back().map_or(1, |max| max + 1),
        };
        let version = state
            .subjects
            .get(subject)
            .and_then(|v| v.iter().map(|v| v.version).max())
            .unwrap_or(0)
            + 1;
        let key = json!({"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1});
        let mut value = json!({"subject": subject, "version": version, "id": id,
                               "schema": text, "deleted": false});
        if kind != SchemaType::Avro {
            value["schemaType"] = json!(kind.name());
        }
        if !references.is_empty() {
            value["references"] = Reference::to_json(references);
        }
        self.record(&mut state, key, value)?;
        Ok(id)
    }

    /// The version of `subject` holding `text`, if it is registered there.
    pub fn lookup(
        &self,
        subject: &str,
        kind: SchemaType,
        text: &str,
    ) -> RegistryResult<SubjectVersion> {
        let identity = identity(kind, text)?;
        let state = self.state()?;
        state.live(subject)?;
        let v = state
            .find(subject, kind, &identity)
            .ok_or_else(|| RegistryError::new(404, 40403, "Schema not found"))?;
        Ok(state.show(subject, &v))
    }

    /// Whether `text` could be registered as a new version after `version` of `subject`
    /// (`None`: the latest), at the subject's level.
    pub fn compatible(
        &self,
        subject: &str,
        version: Option<u32>,
        kind: SchemaType,
        text: &str,
    ) -> RegistryResult<bool> {
        identity(kind, text)?;
        let state = self.state()?;
        if let Some(n) = version {
            if !state.live(subject)?.iter().any(|v| v.version == n) {
                return Err(RegistryError::version_not_found(&n.to_string()));
            }
        }
        let level = state.level(subject);
        Ok(state.check(subject, kind, text, level).is_ok())
    }

    /// Soft-deletes a subject's versions (all, or one); the versions deleted.
    pub fn delete(&self, subject: &str, version: Option<Option<u32>>) -> RegistryResult<Vec<u32>> {
        let mut state = self.state()?;
        let live = state.live(subject)?;
        let doomed: Vec<Version> = match version {
            None => live,
            Some(which) => {
                let v = match which {
                    None => live.last().cloned(),
                    Some(n) => live.iter().find(|v| v.version == n).cloned(),
                };
                vec![v.ok_or_else(|| {
                    RegistryError::version_not_found(
                        &which.map_or("latest".into(), |n| n.to_string()),
                    )
                })?]
            }
        };
        for v in &doomed {
            let schema = state.by_id(v.id).cloned();
            let key =
                json!({"keytype": "SCHEMA", "subject": subject, "version": v.version, "magic": 1});
            let mut value = json!({"subject": subject, "version": v.version, "id": v.id,
                                   "schema": schema.as_ref().map(|s| s.text.clone()),
                                   "deleted": true});
            if let Some(s) = schema.filter(|s| s.kind != SchemaType::Avro) {
                value["schemaType"] = json!(s.kind.name());
            }
            self.record(&mut state, key, value)?;
        }
        Ok(doomed.iter().map(|v| v.version).collect())
    }

    /// The compatibility level of a subject (`None`: the global one); a subject without a
    /// level of its own is an error unless `fall_back`.
    pub fn level(&self, subject: Option<&str>, fall_back: bool) -> RegistryResult<Compatibility> {
        let state = self.state()?;
        match subject {
            None => Ok(state.global.unwrap_or(Compatibility::Backward)),
            Some(s) => match state.per_subject.get(s) {
                Some(c) => Ok(*c),
                None if fall_back => Ok(state.level(s)),
                None => Err(RegistryError::new(
                    404,
                    40408,
                    format!("Subject '{s}' does not have subject-level compatibility configured"),
                )),
            },
        }
    }

    /// Sets the compatibility level of a subject, or the global one.
    pub fn set_level(&self, subject: Option<&str>, level: Compatibility) -> RegistryResult<()> {
        let mut state = self.state()?;
        let key = json!({"keytype": "CONFIG", "subject": subject, "magic": 0});
        let value = json!({"compatibilityLevel": level.name()});
        self.record(&mut state, key, value)
    }
}

impl State {
    /// Applies one record of the topic.
    fn apply(&mut self, key: &Value, value: &Value) {
        match key["keytype"].as_str() {
            Some("SCHEMA") => self.apply_schema(value),
            Some("CONFIG") => {
                let level = value["compatibilityLevel"]
                    .as_str()
                    .and_then(|l| Compatibility::parse(l).ok());
                match (key["subject"].as_str(), level) {
                    (None, level) => self.global = level,
                    (Some(s), Some(level)) => {
                        self.per_subject.insert(s.to_string(), level);
                    }
                    (Some(s), None) => {
                        self.per_subject.remove(s);
                    }
                }
            }
            _ => {}
        }
    }

    fn apply_schema(&mut self, value: &Value) {
        let (Some(subject), Some(version), Some(id)) = (
            value["subject"].as_str(),
            value["version"].as_u64(),
            value["id"].as_u64(),
        ) else {
            return;
        };
        let (version, id) = (version as u32, id as u32);
        if let (Some(text), None) = (value["schema"].as_str(), self.by_id(id)) {
            let kind = SchemaType::parse(value["schemaType"].as_str()).unwrap_or(SchemaType::Avro);
            let references = Reference::parse_all(&value["references"]);
            let identity =
                identity_of(kind, text, &references).unwrap_or_else(|_| text.to_string());
            self.schemas.insert(
                id,
                Schema {
                    id,
                    kind,
                    text: text.to_string(),
                    references,
                    identity,
                },
            );
        }
        let deleted = value["deleted"].as_bool().unwrap_or(false);
        let versions = self.subjects.entry(subject.to_string()).or_default();
        match versions.iter_mut().find(|v| v.version == version) {
            Some(v) => v.deleted = deleted,
            None => {
                versions.push(Version {
                    version,
                    id,
                    deleted,
                });
                versions.sort_by_key(|v| v.version);
            }
        }
    }

    fn by_id(&self, id: u32) -> Option<&Schema> {
        self.schemas.get(&id)
    }

    /// A subject's versions not deleted; an error when there are none.
    fn live(&self, subject: &str) -> RegistryResult<Vec<Version>> {
        let live: Vec<Version> = self
            .subjects
            .get(subject)
            .map(|v| v.iter().filter(|v| !v.deleted).cloned().collect())
            .unwrap_or_default();
        if live.is_empty() {
            return Err(RegistryError::subject_not_found(subject));
        }
        Ok(live)
    }

    /// The live version of `subject` whose schema is `identity`.
    fn find(&self, subject: &str, kind: SchemaType, identity: &str) -> Option<Version> {
        let versions = self.subjects.get(subject)?;
        versions
            .iter()
            .filter(|v| !v.deleted)
            .find(|v| {
                self.by_id(v.id)
                    .is_some_and(|s| s.kind == kind && s.identity == identity)
            })
            .cloned()
    }

    fn show(&self, subject: &str, v: &Version) -> SubjectVersion {
        let schema = self.by_id(v.id);
        SubjectVersion {
            subject: subject.to_string(),
            version: v.version,
            id: v.id,
            kind: schema.map_or(SchemaType::Avro, |s| s.kind),
            schema: schema.map(|s| s.text.clone()).unwrap_or_default(),
            references: schema.map(|s| s.references.clone()).unwrap_or_default(),
        }
    }

    /// The level that applies to a subject.
    fn level(&self, subject: &str) -> Compatibility {
        self.per_subject
            .get(subject)
            .copied()
            .or(self.global)
            .unwrap_or(Compatibility::Backward)
    }

    /// Whether `text` may follow the subject's live versions at `level`; why not if not.
    fn check(
        &self,
        subject: &str,
        kind: SchemaType,
        text: &str,
        level: Compatibility,
    ) -> Result<(), String> {
        let (backward, forward, transitive) = level.rules();
        let Ok(live) = self.live(subject) else {
            return Ok(());
        };
        let against: Vec<&Version> = if transitive {
            live.iter().rev().collect()
        } else {
            live.last().into_iter().collect()
        };
        for v in against {
            let Some(old) = self.by_id(v.id) else {
                continue;
            };
            if old.kind != kind {
                return Err(format!(
                    "Incompatible because of different schema type: {} and {}",
                    old.kind.name(),
                    kind.name()
                ));
            }
            if kind != SchemaType::Avro {
                continue;
            }
            if backward {
                avro::can_read(&old.text, text).map_err(|e| {
                    format!(
                        "version {}: the new schema cannot read its data: {e}",
                        v.version
                    )
                })?;
            }
            if forward {
                avro::can_read(text, &old.text).map_err(|e| {
                    format!(
                        "version {}: it cannot read the new schema's data: {e}",
                        v.version
                    )
                })?;
            }
        }
        Ok(())
    }
}

/// What identifies a schema with the references it is registered with: one text with other
/// references is another schema. AVRO's named types live in the schemas it refers to, which
/// this registry does not resolve yet, so such a schema is taken as text.
fn identity_of(kind: SchemaType, text: &str, references: &[Reference]) -> RegistryResult<String> {
    if references.is_empty() {
        return identity(kind, text);
    }
    let own = match kind {
        SchemaType::Avro => text.trim().to_string(),
        _ => identity(kind, text)?,
    };
    Ok(format!("{own}\u{0}{}", Reference::to_json(references)))
}

/// What identifies a schema of `kind` (checking it is one): an AVRO schema's canonical form,
/// a JSON schema's compact JSON, a PROTOBUF schema's text.
fn identity(kind: SchemaType, text: &str) -> RegistryResult<String> {
    let invalid = |e: String| RegistryError::new(422, 42201, format!("Invalid schema {text}: {e}"));
    match kind {
        SchemaType::Avro => avro::canonical(text).map_err(invalid),
        SchemaType::Json => serde_json::from_str::<Value>(text)
            .map(|v| v.to_string())
            .map_err(|e| invalid(e.to_string())),
        SchemaType::Protobuf => Ok(text.trim().to_string()),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests;
