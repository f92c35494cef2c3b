//! How connections are accepted and served, apart from what they ask for (that is the router's).
//!
//! The accept loop is hyper's own (rather than `axum::serve`) for one setting axum does not
//! expose: a deadline on reading a request's headers, so a client that sends its request a byte
//! at a time (slowloris) is cut off instead of holding its connection for ever. A connection
//! whose first bytes are a stream request goes to the lean transport (`lean.rs`) instead: an
//! idle stream then costs a few KiB rather than hyper's buffers.

mod host;
pub mod lean;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::Request;
use socket2::{SockRef, TcpKeepalive};
use tower::ServiceExt;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long open connections get to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Connections the kernel queues for `accept`. A burst of clients reconnecting at once (after
/// a deploy, say) must not overflow it: at the usual default of 128, the overflow waits out a
/// one-second SYN retransmit. The kernel caps it at `net.core.somaxconn`.
const ACCEPT_BACKLOG: u32 = 4096;

/// Serves a connection with hyper (HTTP/1.1 with keep-alive, or HTTP/2).
async fn serve_hyper(
    socket: TcpStream,
    router: axum::Router,
    http: Arc<ConnectionBuilder<TokioExecutor>>,
    watcher: hyper_util::server::graceful::Watcher,
    first_request_by: Instant,
) {
    // hyper's header-read deadline starts only once it knows the protocol, and finding
    // out reads up to 24 bytes without one: a client that sends one byte (or the HTTP/2
    // preface) and stalls would hold its socket for ever. So the connection's first
    // request must have arrived by the deadline set when it was accepted, or the connection
    // is dropped.
    let first_request = Arc::new(AtomicBool::new(false));
    let service = {
        let first_request = Arc::clone(&first_request);
        router.map_request(move |request: Request<_>| {
            first_request.store(true, Ordering::Relaxed);
            request
        })
    };
    let service = TowerToHyperService::new(service);
    let connection = http.serve_connection_with_upgrades(TokioIo::new(socket), service);
    let connection = watcher.watch(connection.into_owned());
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = &mut connection => ended,
        () = tokio::time::sleep_until(first_request_by) => {
            if !first_request.load(Ordering::Relaxed) {
                tracing::debug!("no request within the header deadline; closing");
                return;
            }
            connection.await
        }
    };
    if let Err(err) = ended {
        tracing::debug!(%err, "connection ended with an error");
    }
}

/// Interval of HTTP/2 pings, and how long an answer may take before the connection is closed.
const H2_KEEP_ALIVE: Duration = Duration::from_secs(20);
/// How long the accept loop waits after the process ran out of files (or another resource).
const ACCEPT_RETRY: Duration = Duration::from_secs(1);

/// TCP keep-alive on every accepted socket: a peer that vanished (a laptop that slept, a cable
/// pulled) sends no FIN, and a stream only ever writes a ping every 15 s, which the kernel would
/// retransmit for a quarter of an hour. With these, a dead peer's stream ends within about a
/// minute and stops counting against `--max-streams-per-user`.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_PROBES: u32 = 3;
/// Unacknowledged data older than this ends the connection (`TCP_USER_TIMEOUT`).
const USER_TIMEOUT: Duration = Duration::from_secs(60);

/// Sets keep-alive and the user timeout on an accepted socket. A failure costs only the early
/// detection of dead peers, so it is logged, not fatal.
pub fn tune(socket: &TcpStream) {
    let socket = SockRef::from(socket);
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_PROBES);
    let tuned = socket
        .set_tcp_keepalive(&keepalive)
        .and_then(|()| socket.set_tcp_user_timeout(Some(USER_TIMEOUT)));
    if let Err(err) = tuned {
        tracing::debug!(%err, "cannot set TCP keep-alive on a connection");
    }
}

/// Errors that concern one connection that is already gone, not the listener (as `axum::serve`
/// counts them): accept the next one at once.
fn is_connection_error(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Binds `addr` (port 0 picks a free one) with a deep accept backlog.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Serves `router` on `listener` until `shutdown` is cancelled. Then: stop accepting, let open
/// connections finish (every stream's body ends on the same signal), and give up waiting after
/// [`SHUTDOWN_GRACE`].
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    header_read_timeout: Duration,
    shutdown: CancellationToken,
) {
    // Before any route, on both transports: a request whose host is unclear is refused.
    let router = router.layer(axum::middleware::from_fn(host::require));
    let mut http = ConnectionBuilder::new(TokioExecutor::new());
    // hyper's default, kept on purpose: the end of a client's input is its hang-up. That is how
    // a stream on a kept-alive connection learns its client left (an `EventSource` never
    // half-closes), at the price of no answer for a client that sends a request and shuts its
    // side at once (`nc -N`). With `half_close(true)` such a stream lived on until a write failed.
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    // HTTP/2 peers that stop answering are found by pings and let go.
    http.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_KEEP_ALIVE)
        .keep_alive_timeout(H2_KEEP_ALIVE);
    // Shared, not cloned into each connection's task: that task lives as long as its
    // connection, and most connections are streams that never use the builder.
    let http = Arc::new(http);
    let connections = GracefulShutdown::new();
    // Every connection's task; the lean stream connections are not hyper's, so the graceful
    // shutdown below waits for them here.
    let tasks = tokio_util::task::TaskTracker::new();
    let mut accept_failing = false;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let socket = match accepted {
            Ok((socket, _)) => {
                if accept_failing {
                    tracing::info!("accepting connections again");
                    accept_failing = false;
                }
                socket
            }
            Err(err) if is_connection_error(&err) => continue,
            Err(err) => {
                // Out of file descriptors, usually: keep serving the connections we have, and
                // try again in a while rather than at once (which would spin a core and write a
                // log line per attempt until a file frees). Said once per episode.
                if !accept_failing {
                    tracing::warn!(%err, "cannot accept connections; retrying every {ACCEPT_RETRY:?}");
                    accept_failing = true;
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_RETRY) => continue,
                }
            }
        };
        tune(&socket);
        let router = router.clone();
        let http = Arc::clone(&http);
        let watcher = connections.watcher();
        tasks.spawn(async move {
            // One deadline for the first request head, from the accept: the peek at its first
            // bytes and the reading of the rest share it (each had its own, which let a client
            // that waited before sending hold the socket for twice the setting).
            let head_by = Instant::now() + header_read_timeout;
            let first_bytes = lean::opens_a_stream(&socket);
            match tokio::time::timeout_at(head_by, first_bytes).await {
                Ok(true) => return lean::serve(socket, router, head_by).await,
                Ok(false) => {}
                // Connected and sent nothing within the deadline: let it go.
                Err(_) => return,
            }
            // On the heap, so that a lean stream's task (most connections) does not carry the
            // room a hyper connection's state needs.
            Box::pin(serve_hyper(socket, router, http, watcher, head_by)).await;
        });
    }
    tasks.close();
    tokio::select! {
        () = async { tokio::join!(connections.shutdown(), tasks.wait()); } => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; exiting anyway");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dead peers are found by the kernel: keep-alive and the user timeout are on every
    /// accepted socket.
    #[tokio::test]
    async fn accepted_sockets_probe_for_dead_peers() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (_client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (socket, _) = accepted.unwrap();
        tune(&socket);
        let socket = SockRef::from(&socket);
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.tcp_keepalive_time().unwrap(), KEEPALIVE_IDLE);
        assert_eq!(socket.tcp_keepalive_interval().unwrap(), KEEPALIVE_INTERVAL);
        assert_eq!(socket.tcp_keepalive_retries().unwrap(), KEEPALIVE_PROBES);
        assert_eq!(socket.tcp_user_timeout().unwrap(), Some(USER_TIMEOUT));
    }
}
