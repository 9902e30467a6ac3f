//! HTTP basic authentication (`--auth-file`): a file of `user: password[,role...]` lines, as
//! ksqlDB's Jetty property-file login module reads them. A password may be stored hashed: an
//! Argon2 PHC string (`$argon2id$...`, written by `brooklet hash-password`), or Jetty's
//! `MD5:<hex>` (unsalted, accepted for files that already have it). Every endpoint but the
//! health probes (`/chc/*`) needs a known user and password when the file is given.
//!
//! Checks take the same time whether the user exists or not, compare in constant time, and
//! remember a header that passed for a while so a slow hash is paid once per client, not per
//! request. An address that fails `brooklet.auth.max.failures` times in a row is locked out for
//! `brooklet.auth.lockout.ms` (429), so passwords cannot be guessed at speed.

use super::{error, Server};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// How a password is stored.
#[derive(Debug, Clone)]
enum Secret {
    Plain(String),
    /// Jetty's `MD5:` form: the hex MD5 of the password.
    Md5(String),
    /// An Argon2 PHC string.
    Argon2(String),
}

impl Secret {
    fn read(text: &str) -> Secret {
        if let Some(hex) = text.strip_prefix("MD5:") {
            Secret::Md5(hex.to_ascii_lowercase())
        } else if text.starts_with("$argon2") {
            Secret::Argon2(text.to_string())
        } else {
            Secret::Plain(text.to_string())
        }
    }

    fn matches(&self, password: &str) -> bool {
        match self {
            Secret::Plain(p) => p.as_bytes().ct_eq(password.as_bytes()).into(),
            Secret::Md5(hex) => {
                use md5::Digest;
                let digest = md5::Md5::digest(password.as_bytes());
                let mine: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                mine.as_bytes().ct_eq(hex.as_bytes()).into()
            }
            Secret::Argon2(phc) => PasswordHash::new(phc).is_ok_and(|h| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            }),
        }
    }
}

/// An Argon2id PHC string for `password` (what `brooklet hash-password` prints).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// The password of `password[,role...]`; a PHC string's parameters have commas of their own,
/// so its roles start after its last `$` part.
fn password_of(entry: &str) -> &str {
    let from = if entry.starts_with('$') {
        entry.rfind('$').unwrap_or(0)
    } else {
        0
    };
    let end = entry[from..].find(',').map_or(entry.len(), |i| from + i);
    entry[..end].trim()
}

/// Users and their passwords.
#[derive(Debug, Clone, Default)]
pub struct Users {
    users: HashMap<String, Secret>,
    /// Checked when the user is unknown, so that takes as long as a wrong password.
    decoy: Option<Secret>,
}

impl Users {
    pub fn load(path: &std::path::Path) -> std::io::Result<Users> {
        Ok(Users::parse(&std::fs::read_to_string(path)?))
    }

    pub fn parse(text: &str) -> Users {
        let users: HashMap<String, Secret> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (user, rest) = l.split_once(':')?;
                Some((
                    user.trim().to_string(),
                    Secret::read(password_of(rest.trim())),
                ))
            })
            .collect();
        // The decoy costs what the users' own checks cost (the first hashed one, if any).
        let decoy = users
            .values()
            .find(|s| matches!(s, Secret::Argon2(_)))
            .or_else(|| users.values().next())
            .cloned();
        Users { users, decoy }
    }

    /// The user an `Authorization` header names, when its password is right.
    fn check(&self, authorization: Option<&str>) -> Option<String> {
        use base64::Engine as _;
        let encoded = authorization?.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8_lossy(&decoded);
        let (user, password) = text.split_once(':')?;
        match self.users.get(user) {
            Some(secret) => secret.matches(password).then(|| user.to_string()),
            None => {
                // As long as a known user's check.
                let _ = self.decoy.as_ref().map(|d| d.matches(password));
                None
            }
        }
    }

    #[cfg(test)]
    fn allows(&self, authorization: Option<&str>) -> bool {
        self.check(authorization).is_some()
    }
}

/// Who made a request (the authenticated user), for per-client limits.
#[derive(Debug, Clone)]
pub struct User(pub String);

/// Failed attempts per address, and headers that passed recently.
#[derive(Default)]
pub struct Guard {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    passed: Mutex<HashMap<String, (String, Instant)>>,
}

/// How long a header that passed is trusted without checking its password again.
const REMEMBER: Duration = Duration::from_secs(60);
/// Entries kept at most (an attacker cycling addresses or headers cannot grow them further).
const MAX_ENTRIES: usize = 10_000;

impl Guard {
    /// When `ip` is locked out: how long it still is.
    fn locked(&self, ip: IpAddr, max: u32, lockout: Duration) -> Option<Duration> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (count, last) = map.get(&ip)?;
        let elapsed = last.elapsed();
        (*count >= max && elapsed < lockout).then(|| lockout - elapsed)
    }

    fn failed(&self, ip: IpAddr, lockout: Duration) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (_, last)| last.elapsed() < lockout);
        }
        let entry = map.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= lockout {
            entry.0 = 0;
        }
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    fn succeeded(&self, ip: IpAddr) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }

    fn remembered(&self, header: &str) -> Option<String> {
        let map = self.passed.lock().unwrap_or_else(|e| e.into_inner());
        let (user, at) = map.get(header)?;
        (at.elapsed() < REMEMBER).then(|| user.clone())
    }

    fn remember(&self, header: &str, user: &str) {
        let mut map = self.passed.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (_, at)| at.elapsed() < REMEMBER);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(header.to_string(), (user.to_string(), Instant::now()));
    }
}

pub async fn check(
    State(server): State<Arc<Server>>,
    mut request: Request,
    next: Next,
) -> Response {
    let open = request.uri().path().starts_with("/chc/");
    let Some(users) = server.users.as_ref().filter(|_| !open) else {
        return next.run(request).await;
    };
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let config = &server.config;
    if let Some(wait) = server
        .auth
        .locked(ip, config.auth_max_failures, config.auth_lockout)
    {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            0,
            "Too many failed logins from this address: try again later",
        );
        if let Ok(v) = header::HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let user = match authorization.as_deref() {
        Some(h) => match server.auth.remembered(h) {
            Some(user) => Some(user),
            None => {
                // A slow hash runs on the blocking pool, not on a server thread.
                let (users, header) = (users.clone(), h.to_string());
                let user = tokio::task::spawn_blocking(move || users.check(Some(&header)))
                    .await
                    .ok()
                    .flatten();
                if let Some(u) = &user {
                    server.auth.remember(h, u);
                }
                user
            }
        },
        None => None,
    };
    if let Some(user) = user {
        server.auth.succeeded(ip);
        request.extensions_mut().insert(User(user));
        return next.run(request).await;
    }
    // A request without credentials is how clients learn they need them: not a failure.
    if authorization.is_some() {
        server.auth.failed(ip, config.auth_lockout);
    }
    let mut response = error(StatusCode::UNAUTHORIZED, 0, "Unauthorized");
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"KsqlServer\""),
    );
    response.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(s: &str) -> String {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    }

    #[test]
    fn users_and_passwords_from_a_property_file() {
        let users = Users::parse("# users\nfred: letmein,admin\n  ann:secret\nbroken line\n");
        assert!(users.allows(Some(&basic("fred:letmein"))));
        assert!(users.allows(Some(&basic("ann:secret"))));
        assert!(!users.allows(Some(&basic("fred:secret"))));
        assert!(!users.allows(Some(&basic("fred:letmein2"))));
        assert!(!users.allows(Some(&basic("fred:letmei"))));
        assert!(!users.allows(Some(&basic("nobody:letmein"))));
        assert!(!users.allows(Some("Bearer x")));
        assert!(!users.allows(None));
    }

    #[test]
    fn hashed_passwords() {
        let hash = hash_password("s3cret").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        // Salted: the same password hashes differently each time.
        assert_ne!(hash, hash_password("s3cret").unwrap());
        // Jetty's MD5 form: md5("letmein").
        let file = format!("fred: {hash},admin\nann: MD5:0d107d09f5bbe40cade3de5c71e9e9b7\n");
        let users = Users::parse(&file);
        assert!(users.allows(Some(&basic("fred:s3cret"))));
        assert!(!users.allows(Some(&basic("fred:s3cre"))));
        assert!(!users.allows(Some(&basic(&format!("fred:{hash}")))));
        assert!(users.allows(Some(&basic("ann:letmein"))));
        assert!(!users.allows(Some(&basic("ann:MD5:0d107d09f5bbe40cade3de5c71e9e9b7"))));
    }

    #[test]
    fn an_address_is_locked_out_after_repeated_failures() {
        let guard = Guard::default();
        let ip = IpAddr::from([10, 0, 0, 1]);
        let lockout = Duration::from_secs(60);
        for _ in 0..3 {
            assert!(guard.locked(ip, 3, lockout).is_none());
            guard.failed(ip, lockout);
        }
        assert!(guard.locked(ip, 3, lockout).is_some());
        // Another address is not affected; a short lockout ends.
        assert!(guard
            .locked(IpAddr::from([10, 0, 0, 2]), 3, lockout)
            .is_none());
        assert!(guard.locked(ip, 3, Duration::ZERO).is_none());
        guard.succeeded(ip);
        assert!(guard.locked(ip, 3, lockout).is_none());
    }
}
