//! How connections are accepted and served, apart from what they ask for (that is the router's).
//!
//! The accept loop is hyper's own (rather than `axum::serve`) for one setting axum does not
//! expose: a deadline on reading a request's headers, so a client that sends its request a byte
//! at a time (slowloris) is cut off instead of holding its connection for ever. A connection
//! whose first bytes are a stream request goes to the lean transport (`lean.rs`) instead: an
//! idle stream then costs a few KiB rather than hyper's buffers.

mod lean;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;

/// How long open connections get to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Connections the kernel queues for `accept`. A burst of clients reconnecting at once (after
/// a deploy, say) must not overflow it: at the usual default of 128, the overflow waits out a
/// one-second SYN retransmit. The kernel caps it at `net.core.somaxconn`.
const ACCEPT_BACKLOG: u32 = 4096;

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
    let mut http = ConnectionBuilder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    // Shared, not cloned into each connection's task: that task lives as long as its
    // connection, and most connections are streams that never use the builder.
    let http = Arc::new(http);
    let connections = GracefulShutdown::new();
    // Every connection's task; the lean stream connections are not hyper's, so the graceful
    // shutdown below waits for them here.
    let tasks = tokio_util::task::TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let socket = match accepted {
            Ok((socket, _)) => socket,
            Err(err) => {
                // Out of file descriptors, usually: keep serving the connections we have.
                tracing::warn!(%err, "cannot accept a connection");
                continue;
            }
        };
        let router = router.clone();
        let http = Arc::clone(&http);
        let watcher = connections.watcher();
        tasks.spawn(async move {
            let first_bytes = lean::opens_a_stream(&socket);
            match tokio::time::timeout(header_read_timeout, first_bytes).await {
                Ok(true) => return lean::serve(socket, router, header_read_timeout).await,
                Ok(false) => {}
                // Connected and sent nothing within the deadline: let it go.
                Err(_) => return,
            }
            let service = TowerToHyperService::new(router);
            let connection = http.serve_connection_with_upgrades(TokioIo::new(socket), service);
            if let Err(err) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%err, "connection ended with an error");
            }
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
