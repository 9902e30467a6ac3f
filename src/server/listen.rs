//! Accepting connections, for plain HTTP and HTTPS alike: at most
//! `brooklet.server.max.connections` open at once (one more is answered 503 and closed), each
//! told who its peer is (`ConnectInfo`, for per-client limits), and none held open by a client
//! that sends slowly: the TLS handshake, the HTTP/2 preface and every request head must arrive
//! within `brooklet.server.header.timeout.ms`, which also closes an idle HTTP/1.1 connection.
//! HTTP/1.1 and cleartext HTTP/2 (prior knowledge) share the port, told apart by the preface; over
//! TLS, ALPN decides.

use super::config::ServerConfig;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves `router` on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    config: Arc<ServerConfig>,
) -> std::io::Result<()> {
    let permits = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse(tcp, config.max_connections));
            continue;
        };
        let (router, tls, config) = (router.clone(), tls.clone(), config.clone());
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = connection(tcp, peer, router, tls, &config).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
}

/// Over the connection limit: a 503 in ksqlDB's envelope, then the connection is closed.
async fn refuse(mut tcp: TcpStream, limit: usize) {
    tracing::warn!(
        "connection refused: {limit} connections are open (brooklet.server.max.connections)"
    );
    let body = serde_json::json!({
        "@type": "generic_error",
        "error_code": 50300,
        "message": format!("Too many connections: the server allows {limit} (brooklet.server.max.connections)"),
    })
    .to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), tcp.write_all(response.as_bytes())).await;
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    tls: Option<TlsAcceptor>,
    config: &ServerConfig,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let _ = tcp.set_nodelay(true);
    let deadline = config.header_timeout;
    match tls {
        Some(acceptor) => {
            let stream = tokio::time::timeout(deadline, acceptor.accept(tcp)).await??;
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            http(stream, h2, peer, router, config).await
        }
        None => {
            let h2 = tokio::time::timeout(deadline, is_h2(&tcp)).await??;
            http(tcp, h2, peer, router, config).await
        }
    }
}

/// Whether a cleartext connection starts with HTTP/2's preface (peeked, not consumed): decided
/// at the first byte that differs from it, or once all of it is there.
async fn is_h2(tcp: &TcpStream) -> std::io::Result<bool> {
    let mut buf = [0u8; 24];
    let mut seen = 0;
    loop {
        let n = tcp.peek(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if buf[..n] != H2_PREFACE[..n] {
            return Ok(false);
        }
        if n == H2_PREFACE.len() {
            return Ok(true);
        }
        if n == seen {
            // A prefix of the preface and nothing new: wait for more bytes.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        seen = n;
    }
}

async fn http<I>(
    io: I,
    h2: bool,
    peer: SocketAddr,
    router: Router,
    config: &ServerConfig,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        tower::ServiceExt::oneshot(router.clone(), request)
    });
    let io = TokioIo::new(io);
    if h2 {
        hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_header_list_size(64 << 10)
            .max_concurrent_streams(256)
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(20))
            .serve_connection(io, service)
            .await?;
    } else {
        hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_timeout)
            .max_buf_size(256 << 10)
            .serve_connection(io, service)
            .await?;
    }
    Ok(())
}
