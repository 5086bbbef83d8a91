//! The HTTP/1.1 server: one task per connection, a line per request to the access log, and a
//! graceful stop (no new connections; requests in flight finish, for up to a grace period).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::registry::Registry;

/// Receives one line per request (the CLI prints it; libraries never print).
pub type AccessLog = Arc<dyn Fn(&str) + Send + Sync>;

/// How long requests in flight may take to finish once a stop is asked for.
pub const GRACE: Duration = Duration::from_secs(10);

/// Listens on `addr`.
pub async fn listen(addr: &str) -> crate::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| crate::Error::Listen {
            addr: addr.to_owned(),
            source,
        })
}

/// Serves `registry` on `listener` (over TLS with `tls`) until `stop` completes, then lets
/// requests in flight finish (up to [`GRACE`]).
pub async fn serve(
    listener: TcpListener,
    registry: Arc<Registry>,
    log: AccessLog,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: impl Future<Output = ()>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                // Headers and a streamed body go out in separate writes: without this, Nagle's
                // algorithm holds the body until the client's delayed ACK (40 ms per request).
                let _ = stream.set_nodelay(true);
                let (registry, log, acceptor) = (registry.clone(), log.clone(), acceptor.clone());
                connections.spawn(async move {
                    match acceptor {
                        Some(acceptor) => {
                            // A handshake that fails (a plain-HTTP client, a scanner) ends
                            // the connection; it is logged like a request.
                            match acceptor.accept(stream).await {
                                Ok(tls) => connection(tls, peer, registry, log).await,
                                Err(e) => log(&format!("{peer} TLS handshake failed: {e}")),
                            }
                        }
                        None => connection(stream, peer, registry, log).await,
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

/// Serves the requests of one connection.
async fn connection<S>(stream: S, peer: SocketAddr, registry: Arc<Registry>, log: AccessLog)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let (registry, log) = (registry.clone(), log.clone());
        async move { Ok::<_, std::convert::Infallible>(answer(&registry, &log, peer, request).await) }
    });
    let _ = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn answer(
    registry: &Registry,
    log: &AccessLog,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> hyper::Response<crate::registry::Body> {
    let started = Instant::now();
    let (method, uri, headers) = (
        request.method().clone(),
        request.uri().clone(),
        request.headers().clone(),
    );
    let response = registry
        .handle(&method, uri.path(), uri.query(), &headers)
        .await;
    let length = response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    log(&format!(
        "{peer} {method} {uri} {} {length} {:.1}ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    ));
    response
}
