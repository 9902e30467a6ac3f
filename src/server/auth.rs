//! HTTP basic authentication (`--auth-file`): a file of `user: password[,role...]` lines, as
//! ksqlDB's Jetty property-file login module reads them. Every endpoint but the health probes
//! (`/chc/*`) needs a known user and password when the file is given.

use super::{error, Server};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;

/// Users and their passwords.
#[derive(Debug, Clone, Default)]
pub struct Users(HashMap<String, String>);

impl Users {
    pub fn load(path: &std::path::Path) -> std::io::Result<Users> {
        Ok(Users::parse(&std::fs::read_to_string(path)?))
    }

    pub fn parse(text: &str) -> Users {
        let users = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (user, rest) = l.split_once(':')?;
                let password = rest.split(',').next().unwrap_or_default().trim();
                Some((user.trim().to_string(), password.to_string()))
            })
            .collect();
        Users(users)
    }

    /// Whether an `Authorization` header names a known user with the right password.
    fn allows(&self, authorization: Option<&str>) -> bool {
        use base64::Engine as _;
        let Some(encoded) = authorization.and_then(|a| a.strip_prefix("Basic ")) else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let text = String::from_utf8_lossy(&decoded);
        let Some((user, password)) = text.split_once(':') else {
            return false;
        };
        self.0.get(user).is_some_and(|p| p == password)
    }
}

pub async fn check(State(server): State<Arc<Server>>, request: Request, next: Next) -> Response {
    let open = request.uri().path().starts_with("/chc/");
    let Some(users) = server.users.as_ref().filter(|_| !open) else {
        return next.run(request).await;
    };
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    if users.allows(authorization) {
        return next.run(request).await;
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

    #[test]
    fn users_and_passwords_from_a_property_file() {
        let users = Users::parse("# users\nfred: letmein,admin\n  ann:secret\nbroken line\n");
        let basic = |s: &str| {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert!(users.allows(Some(&basic("fred:letmein"))));
        assert!(users.allows(Some(&basic("ann:secret"))));
        assert!(!users.allows(Some(&basic("fred:secret"))));
        assert!(!users.allows(Some(&basic("nobody:letmein"))));
        assert!(!users.allows(Some("Bearer x")));
        assert!(!users.allows(None));
    }
}
