//! Resolving addresses: [`lookup_host`] on the blocking pool, and trying each address
//! a `connect` or `bind` argument resolves to.

use super::ToSocketAddrs;
use std::io;
use std::net::SocketAddr;

/// Resolves `host` (a `"name:port"` string, a `(name, port)` pair, a literal address)
/// on the blocking pool, as tokio's `lookup_host` does, so that a slow resolver does not
/// hold a worker.
///
/// Unlike tokio's, which takes its own sealed trait, `host` must be owned (`String`
/// rather than `&str`): it moves to the blocking thread.
///
/// ```
/// let rt = heist::Runtime::new().unwrap();
/// rt.block_on(async {
///     let addrs: Vec<_> = heist::net::lookup_host("127.0.0.1:80").await.unwrap().collect();
///     assert_eq!(addrs, ["127.0.0.1:80".parse().unwrap()]);
///     let err = heist::net::lookup_host("no port here").await.err().unwrap();
///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// });
/// ```
///
/// # Panics
/// Outside a heist runtime.
pub async fn lookup_host<T>(host: T) -> io::Result<impl Iterator<Item = SocketAddr>>
where
    T: ToSocketAddrs + Send + 'static,
{
    let resolve = move || {
        host.to_socket_addrs()
            .map(|addrs| addrs.collect::<Vec<_>>())
    };
    match crate::task::spawn_blocking(resolve).await {
        Ok(addrs) => Ok(addrs?.into_iter()),
        Err(e) => Err(io::Error::other(e)),
    }
}

/// Tries `f` on each address `addr` resolves to; the first success, or the last error.
pub(crate) async fn each_addr<A, T, F, Fut>(addr: A, mut f: F) -> io::Result<T>
where
    A: ToSocketAddrs,
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in addr.to_socket_addrs()? {
        match f(addr).await {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}
