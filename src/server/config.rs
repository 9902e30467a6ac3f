//! The server's own settings, from `--config` / `--property` only (never from a request): which
//! browser origins may call it (ksqlDB's `access.control.allow.*`), and the limits a hostile
//! client cannot pass. Every limit has a default that keeps one machine safe and can be raised.

use std::collections::BTreeMap;
use std::time::Duration;

pub const ALLOW_ORIGIN: &str = "access.control.allow.origin";
pub const ALLOW_METHODS: &str = "access.control.allow.methods";
pub const ALLOW_HEADERS: &str = "access.control.allow.headers";
pub const MAX_PUSH_QUERIES: &str = "ksql.max.push.queries";
pub const PUSH_PER_CLIENT: &str = "brooklet.push.queries.per.client";
pub const MAX_CONNECTIONS: &str = "brooklet.server.max.connections";
pub const MAX_BODY: &str = "brooklet.request.max.bytes";
pub const MAX_STATEMENTS: &str = "brooklet.request.max.statements";
pub const HEADER_TIMEOUT: &str = "brooklet.server.header.timeout.ms";
pub const BODY_TIMEOUT: &str = "brooklet.server.body.timeout.ms";
pub const AUTH_FAILURES: &str = "brooklet.auth.max.failures";
pub const AUTH_LOCKOUT: &str = "brooklet.auth.lockout.ms";

/// Every setting this module reads (they are not session properties).
pub const KEYS: &[&str] = &[
    ALLOW_ORIGIN,
    ALLOW_METHODS,
    ALLOW_HEADERS,
    MAX_PUSH_QUERIES,
    PUSH_PER_CLIENT,
    MAX_CONNECTIONS,
    MAX_BODY,
    MAX_STATEMENTS,
    HEADER_TIMEOUT,
    BODY_TIMEOUT,
    AUTH_FAILURES,
    AUTH_LOCKOUT,
];

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Browser origins allowed to call the API (`*` wildcards, as ksqlDB's); none by default.
    pub allowed_origins: Option<regex::Regex>,
    /// What a CORS preflight answers.
    pub allow_methods: String,
    pub allow_headers: String,
    /// Push queries (and PRINTs) open at once, in all and per client (user, or address).
    pub max_push_queries: usize,
    pub push_per_client: usize,
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// A request body's size (all but `/inserts-stream`, which streams).
    pub max_body_bytes: usize,
    /// Statements in one `/ksql` request.
    pub max_statements: usize,
    /// Time for a request's head to arrive, and for an idle HTTP/1.1 connection to stay open.
    pub header_timeout: Duration,
    /// Time for a request's whole body to arrive (all but `/inserts-stream`).
    pub body_timeout: Duration,
    /// Failed logins from one address before it is locked out, and for how long.
    pub auth_max_failures: u32,
    pub auth_lockout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            allowed_origins: None,
            allow_methods: "GET, POST, HEAD".into(),
            allow_headers: "X-Requested-With, Content-Type, Accept, Origin, Authorization".into(),
            max_push_queries: 100,
            push_per_client: 100,
            max_connections: 1000,
            max_body_bytes: 4 << 20,
            max_statements: 1000,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            auth_max_failures: 10,
            auth_lockout: Duration::from_secs(60),
        }
    }
}

impl ServerConfig {
    /// The settings among `props`; a value that does not parse is an error naming its key.
    pub fn from_properties(props: &BTreeMap<String, String>) -> Result<ServerConfig, String> {
        let mut c = ServerConfig::default();
        let number = |key: &str, default: u64| -> Result<u64, String> {
            match props.get(key) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{key}: expected a positive whole number, got '{v}'")),
            }
        };
        if let Some(origins) = props.get(ALLOW_ORIGIN).filter(|o| !o.trim().is_empty()) {
            c.allowed_origins = Some(origin_pattern(origins)?);
        }
        if let Some(m) = props.get(ALLOW_METHODS).filter(|m| !m.trim().is_empty()) {
            c.allow_methods = m.to_uppercase();
        }
        if let Some(h) = props.get(ALLOW_HEADERS).filter(|h| !h.trim().is_empty()) {
            c.allow_headers = h.clone();
        }
        c.max_push_queries = number(MAX_PUSH_QUERIES, c.max_push_queries as u64)? as usize;
        c.push_per_client = number(PUSH_PER_CLIENT, c.push_per_client as u64)? as usize;
        c.max_connections = number(MAX_CONNECTIONS, c.max_connections as u64)? as usize;
        c.max_body_bytes = number(MAX_BODY, c.max_body_bytes as u64)? as usize;
        c.max_statements = number(MAX_STATEMENTS, c.max_statements as u64)? as usize;
        let ms = |d: Duration| d.as_millis() as u64;
        c.header_timeout = Duration::from_millis(number(HEADER_TIMEOUT, ms(c.header_timeout))?);
        c.body_timeout = Duration::from_millis(number(BODY_TIMEOUT, ms(c.body_timeout))?);
        c.auth_max_failures = number(AUTH_FAILURES, c.auth_max_failures as u64)? as u32;
        c.auth_lockout = Duration::from_millis(number(AUTH_LOCKOUT, ms(c.auth_lockout))?);
        Ok(c)
    }

    /// Whether a browser at `origin` may call the API.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins
            .as_ref()
            .is_some_and(|re| re.is_match(origin))
    }
}

/// ksqlDB's origin list: comma-separated, `*` matching anything, the rest literal; the whole
/// origin must match one entry.
fn origin_pattern(list: &str) -> Result<regex::Regex, String> {
    let alternatives: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split('*')
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join(".*")
        })
        .collect();
    regex::Regex::new(&format!("^(?:{})$", alternatives.join("|")))
        .map_err(|e| format!("{ALLOW_ORIGIN}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<ServerConfig, String> {
        let props = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ServerConfig::from_properties(&props)
    }

    #[test]
    fn origins_as_ksqldb_lists_them() {
        assert!(!ServerConfig::default().origin_allowed("http://localhost:8088"));
        let c = config(&[(ALLOW_ORIGIN, "http://localhost:3000, https://*.example.com")]).unwrap();
        assert!(c.origin_allowed("http://localhost:3000"));
        assert!(c.origin_allowed("https://app.example.com"));
        assert!(!c.origin_allowed("https://example.com.evil.net"));
        assert!(!c.origin_allowed("http://localhost:30000"));
        assert!(!c.origin_allowed("null"));
        let any = config(&[(ALLOW_ORIGIN, "*")]).unwrap();
        assert!(any.origin_allowed("https://anything"));
    }

    #[test]
    fn limits_must_be_positive_numbers() {
        let c = config(&[(MAX_PUSH_QUERIES, "7"), (HEADER_TIMEOUT, "1500")]).unwrap();
        assert_eq!(c.max_push_queries, 7);
        assert_eq!(c.header_timeout, Duration::from_millis(1500));
        let e = config(&[(MAX_BODY, "lots")]).unwrap_err();
        assert!(e.contains(MAX_BODY), "{e}");
        assert!(config(&[(MAX_CONNECTIONS, "0")]).is_err());
    }
}
