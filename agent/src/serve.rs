//! `hone serve`: a live, read-only web view of the runs in a store.
//!
//! An axum server on the process's tokio runtime answers a JSON API under `/api/` and one
//! page (`/`, with its script and stylesheet embedded in the binary: no remote assets, no
//! build step). The page polls the API every two seconds, so runs driven by other
//! processes (or by workers) show as they go. Every request reads the store afresh and
//! nothing is written: the store is opened read-only.

mod api;
mod assets;

use std::net::SocketAddr;

use hone_store::Store;

/// The web view's routes over a store: the page, its assets and the JSON API.
pub fn router(store: Store) -> axum::Router {
    axum::Router::new()
        .merge(assets::routes())
        .nest("/api", api::routes(store))
}

/// Serves the web view on `listener` until `shutdown` completes.
pub async fn serve(
    store: Store,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(store))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The page's address for a bound socket (an unspecified address shows as loopback, which
/// reaches it from this machine).
pub fn page_url(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    format!("http://{host}:{}/", addr.port())
}
