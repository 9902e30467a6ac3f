//! The shell against a running server (`brooklet --server http://host:8088`), as ksqlDB's CLI
//! works: statements go to `/ksql`, queries and PRINT to `/query` (the legacy framing, which
//! carries the end and error messages), and the answers become the outputs the embedded engine
//! gives, so the shell shows them the same way. SET, UNSET, DEFINE and UNDEFINE stay in the
//! shell's session, which is sent with every request.

use crate::catalog::{Column, ColumnKind};
use crate::engine::{Listing, Output, Session};
use crate::error::{Error, Result};
use crate::exec::print::PrintStream;
use crate::exec::push::{self, PushEvent};
use crate::server::lines::LineBuffer;
use crate::sql::ast::{Parsed, Statement};
use axum::body::Bytes;
use axum::http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio_rustls::rustls::pki_types::ServerName;

pub struct Remote {
    /// `host:port`.
    authority: String,
    /// `Basic ...` from the URL's `user:password@`.
    auth: Option<String>,
    /// For `https://`: the TLS client and the name the server's certificate must carry.
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
}

fn generic(e: impl std::fmt::Display) -> Error {
    Error::generic(e.to_string())
}

impl Remote {
    /// A server's address: `http://host:port` or `https://host:port` (port 8088 when left out),
    /// optionally with `user:password@` for HTTP basic authentication. Over HTTPS the server's
    /// certificate must be signed by a CA the system trusts, or by the one in `ca_file` (PEM).
    pub fn new(url: &str, ca_file: Option<&std::path::Path>) -> Result<Remote> {
        let (https, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (false, rest),
            (_, Some(rest)) => (true, rest),
            _ => {
                return Err(Error::generic(format!(
                    "The server address must start with http:// or https:// (got '{url}')"
                )))
            }
        };
        let host = rest.split('/').next().unwrap_or_default();
        let (auth, host) = match host.rsplit_once('@') {
            Some((user, host)) => {
                use base64::Engine as _;
                let token = base64::engine::general_purpose::STANDARD.encode(user);
                (Some(format!("Basic {token}")), host)
            }
            None => (None, host),
        };
        if host.is_empty() {
            return Err(Error::generic(format!("No host in '{url}'")));
        }
        let authority = if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            host.to_string()
        } else {
            format!("{host}:8088")
        };
        let tls = if https {
            let host = authority.rsplit_once(':').map_or(&*authority, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name = ServerName::try_from(host.to_string())
                .map_err(|e| Error::generic(format!("Not a server name: '{host}': {e}")))?;
            Some((tls_connector(ca_file)?, name))
        } else {
            None
        };
        Ok(Remote {
            authority,
            auth,
            tls,
        })
    }

    async fn send(
        &self,
        path: &str,
        accept: &str,
        body: Option<Value>,
    ) -> Result<hyper::Response<Incoming>> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| {
                Error::generic(format!(
                    "Cannot reach the server at {}: {e}",
                    self.authority
                ))
            })?;
        let mut sender = match &self.tls {
            None => open(stream).await?,
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), stream)
                    .await
                    .map_err(|e| Error::generic(format!("TLS with {}: {e}", self.authority)))?;
                open(tls).await?
            }
        };
        let method = if body.is_some() { "POST" } else { "GET" };
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.authority)
            .header(header::ACCEPT, accept)
            .header(header::CONTENT_TYPE, "application/vnd.ksql.v1+json");
        if let Some(a) = &self.auth {
            request = request.header(header::AUTHORIZATION, a);
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(generic)?;
        sender.send_request(request).await.map_err(generic)
    }

    /// A streamed answer (`/query`), or the error the server gave instead.
    async fn stream(&self, path: &str, request: Value) -> Result<hyper::Response<Incoming>> {
        let response = self
            .send(path, "application/vnd.ksql.v1+json", Some(request))
            .await?;
        if response.status() == StatusCode::OK {
            return Ok(response);
        }
        let body = whole(response).await?;
        Err(failure(&serde_json::from_slice(&body).unwrap_or_default()))
    }

    /// The server's version (`GET /info`): also checks that it answers.
    pub async fn version(&self) -> Result<String> {
        let response = self.send("/info", "application/json", None).await?;
        let body = whole(response).await?;
        let info: Value = serde_json::from_slice(&body).map_err(generic)?;
        Ok(info["KsqlServerInfo"]["version"]
            .as_str()
            .unwrap_or("unknown")
            .to_string())
    }

    pub async fn execute(&self, parsed: &Parsed, session: &mut Session) -> Result<Output> {
        if let Some(out) = crate::engine::session_statement(&parsed.statement, session) {
            return Ok(out);
        }
        let request = json!({
            "ksql": parsed.text,
            "streamsProperties": session.properties,
            "sessionVariables": session.variables,
        });
        match &parsed.statement {
            Statement::Select(q) => self.query(request, q.emit.is_none()).await,
            Statement::Print { .. } => self.print(request).await,
            _ => self.statement(request).await,
        }
    }

    /// The server's streams and tables with their columns, and its queries, for completion:
    /// one request (`SHOW ... EXTENDED` describes every source, as ksqlDB's does).
    pub async fn catalog(&self) -> Result<crate::cli::complete::Catalog> {
        let listed = self
            .entities("SHOW STREAMS EXTENDED; SHOW TABLES EXTENDED; SHOW QUERIES;")
            .await?;
        let field = |e: &Value, list: &str, key: &str| -> Vec<String> {
            e[list]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x[key].as_str().map(str::to_string))
                .collect()
        };
        let mut sources = Vec::new();
        let mut queries = Vec::new();
        for e in &listed {
            for d in e["sourceDescriptions"].as_array().into_iter().flatten() {
                if let Some(name) = d["name"].as_str() {
                    sources.push((name.to_string(), field(d, "fields", "name")));
                }
            }
            queries.extend(field(e, "queries", "id"));
        }
        Ok(crate::cli::complete::Catalog { sources, queries })
    }

    /// The entities `/ksql` answers for `sql`.
    async fn entities(&self, sql: &str) -> Result<Vec<Value>> {
        let request = json!({"ksql": sql, "streamsProperties": {}});
        let response = self
            .send("/ksql", "application/vnd.ksql.v1+json", Some(request))
            .await?;
        let status = response.status();
        let answer: Value = serde_json::from_slice(&whole(response).await?).map_err(generic)?;
        if status != StatusCode::OK {
            return Err(failure(&answer));
        }
        Ok(answer.as_array().cloned().unwrap_or_default())
    }

    async fn statement(&self, mut request: Value) -> Result<Output> {
        request["requestProperties"] = json!({"brooklet.shell": true});
        let response = self
            .send("/ksql", "application/vnd.ksql.v1+json", Some(request))
            .await?;
        let status = response.status();
        let body = whole(response).await?;
        let answer: Value = serde_json::from_slice(&body).map_err(generic)?;
        if status != StatusCode::OK {
            return Err(failure(&answer));
        }
        let Some(entity) = answer.as_array().and_then(|a| a.first()) else {
            // INSERT VALUES has no entity.
            return Ok(Output::Message {
                text: String::new(),
                query_id: None,
            });
        };
        if entity["@type"] == "currentStatus" {
            let status = &entity["commandStatus"];
            return Ok(Output::Message {
                text: status["message"].as_str().unwrap_or_default().to_string(),
                query_id: status["queryId"].as_str().map(str::to_string),
            });
        }
        let mut json = entity.clone();
        let shown = json
            .as_object_mut()
            .and_then(|o| {
                o.remove("statementText");
                o.remove("warnings");
                o.remove("@type");
                o.remove("brooklet")
            })
            .unwrap_or(Value::Null);
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        };
        Ok(Output::Listing(Listing {
            kind: entity["@type"].as_str().unwrap_or("listing").to_string(),
            title: shown["title"].as_str().map(str::to_string),
            headers: strings(&shown["headers"]),
            rows: shown["rows"]
                .as_array()
                .into_iter()
                .flatten()
                .map(strings)
                .collect(),
            footer: shown["footer"].as_str().map(str::to_string),
            json,
        }))
    }

    async fn query(&self, request: Value, pull: bool) -> Result<Output> {
        let response = self.stream("/query", request).await?;
        let mut lines = Lines::new(response.into_body());
        let header = match lines.next().await? {
            Some(element) => element,
            None => {
                return Err(Error::generic(
                    "The server ended the query before its header",
                ))
            }
        };
        let id = header["header"]["queryId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let schema = header["header"]["schema"].as_str().unwrap_or_default();
        let columns = columns(schema)?;
        let (q, tx, mut stopped) = push::channel(id, columns.clone(), pull, 16);
        tokio::spawn(async move {
            loop {
                let element = tokio::select! {
                    e = lines.next() => e,
                    _ = stopped.changed() => return,
                };
                let event = match element {
                    Ok(Some(e)) if e.get("row").is_some() => {
                        match batch(&columns, &e["row"]["columns"]) {
                            Ok(b) => PushEvent::Rows(b),
                            Err(e) => PushEvent::Error(e.message),
                        }
                    }
                    Ok(Some(e)) if e.get("finalMessage").is_some() => {
                        let end = match e["finalMessage"].as_str() {
                            Some("Limit Reached") => "Limit Reached",
                            _ => "Query Completed",
                        };
                        let _ = tx.send(PushEvent::End(end)).await;
                        return;
                    }
                    Ok(Some(e)) => PushEvent::Error(
                        e["errorMessage"]["message"]
                            .as_str()
                            .unwrap_or("The query failed on the server")
                            .to_string(),
                    ),
                    Ok(None) => return,
                    Err(e) => PushEvent::Error(e.message),
                };
                let error = matches!(event, PushEvent::Error(_));
                if tx.send(event).await.is_err() || error {
                    return;
                }
            }
        });
        Ok(Output::Push(q))
    }

    async fn print(&self, request: Value) -> Result<Output> {
        let response = self.stream("/query", request).await?;
        let mut lines = Lines::new(response.into_body());
        let (p, tx, mut stopped) = PrintStream::channel(256);
        tokio::spawn(async move {
            loop {
                let line = tokio::select! {
                    l = lines.next_line() => l,
                    _ = stopped.changed() => return,
                };
                let Ok(Some(text)) = line else { return };
                if tx.send(text).await.is_err() {
                    return;
                }
            }
        });
        Ok(Output::Print(p))
    }
}

/// A response's whole body.
async fn whole(response: hyper::Response<Incoming>) -> Result<Bytes> {
    Ok(response
        .into_body()
        .collect()
        .await
        .map_err(generic)?
        .to_bytes())
}

/// The error a server answered with (`statement_error` or `generic_error`).
fn failure(answer: &Value) -> Error {
    let message = answer["message"]
        .as_str()
        .unwrap_or("The server refused the request")
        .to_string();
    if answer["@type"] == "statement_error" {
        Error::statement(message)
    } else {
        Error::generic(message)
    }
}

/// The columns of a legacy header's schema: `` `ID` INTEGER KEY, `N` BIGINT ``.
fn columns(schema: &str) -> Result<Vec<Column>> {
    if schema.trim().is_empty() {
        return Ok(Vec::new());
    }
    Ok(crate::sql::parse_columns(schema)?
        .into_iter()
        .map(|c| Column {
            kind: ColumnKind::from(&c.role),
            name: c.name,
            ty: c.ty,
        })
        .collect())
}

/// One row as a batch of the query's columns.
fn batch(columns: &[Column], row: &Value) -> Result<datafusion::arrow::array::RecordBatch> {
    let values = row.as_array().cloned().unwrap_or_default();
    let mut arrays = Vec::with_capacity(columns.len());
    let mut fields = Vec::with_capacity(columns.len());
    for (i, c) in columns.iter().enumerate() {
        let v = values.get(i).unwrap_or(&Value::Null);
        let array = crate::format::build::build_column(&[v], &c.ty)
            .map_err(|e| Error::generic(format!("Cannot read column {}: {e:?}", c.name)))?;
        fields.push(datafusion::arrow::datatypes::Field::new(
            &c.name,
            array.data_type().clone(),
            true,
        ));
        arrays.push(array);
    }
    datafusion::arrow::array::RecordBatch::try_new(
        std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields)),
        arrays,
    )
    .map_err(generic)
}

/// A streamed answer's lines: PRINT's text, or the elements of a legacy StreamedRow array,
/// one per line (`[{...},` / `{...},` / `{...}]`).
struct Lines {
    body: Incoming,
    buffer: LineBuffer,
}

impl Lines {
    fn new(body: Incoming) -> Lines {
        Lines {
            body,
            buffer: LineBuffer::default(),
        }
    }

    /// The next whole line; `None` at the end of the answer.
    async fn next_line(&mut self) -> Result<Option<String>> {
        loop {
            if let Some(line) = self.buffer.next_line() {
                return Ok(Some(String::from_utf8_lossy(line).into_owned()));
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(generic(e)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.push(&data);
                    }
                }
            }
        }
    }

    /// The next element of a StreamedRow array.
    async fn next(&mut self) -> Result<Option<Value>> {
        while let Some(line) = self.next_line().await? {
            let element = line
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(',')
                .trim_end_matches(']');
            if !element.is_empty() {
                return serde_json::from_str(element).map(Some).map_err(generic);
            }
        }
        Ok(None)
    }
}

/// An HTTP/1.1 connection over `io`, driven in the background.
async fn open<I>(io: I) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(generic)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// A TLS client trusting the system's CAs and the one in `ca_file`.
fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<tokio_rustls::TlsConnector> {
    use tokio_rustls::rustls::{crypto::ring, ClientConfig, RootCertStore};
    let mut roots = RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs = crate::server::tls::certificates(path).map_err(|e| {
            Error::generic(format!("Cannot read the CA file {}: {e}", path.display()))
        })?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| Error::generic(format!("Unusable CA in {}: {e}", path.display())))?;
        }
    }
    let mut config =
        ClientConfig::builder_with_provider(std::sync::Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(generic)?
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}
