//! The optional trait features: tokio's `AsyncRead`/`AsyncWrite` (`tokio-io`) and
//! hyper's runtime traits (`hyper`) on heist's streams, executor and timers. Run with
//! `cargo test --all-features --test net_features`.

#![cfg(any(feature = "tokio-io", feature = "hyper"))]

use heist::net::{TcpListener, TcpStream};

mod common;
use common::rt;

#[cfg(feature = "tokio-io")]
#[test]
fn tokio_traits_echo() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    rt(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = heist::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (mut read, mut write) = socket.into_split();
            let mut buf = vec![0; 1024];
            loop {
                let n = read.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                write.write_all(&buf[..n]).await.unwrap();
            }
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"through tokio's traits").await.unwrap();
        let mut back = [0; 22];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"through tokio's traits");
        client.shutdown().await.unwrap();
        server.await.unwrap();
    });
}

/// tokio's `ReadBuf` may hand a read uninitialised memory; heist reads into it as it is
/// (no zeroing first), so only the bytes the read filled become initialised, and end of
/// stream fills none.
#[cfg(feature = "tokio-io")]
#[test]
fn a_tokio_read_into_uninitialised_memory_initialises_only_what_it_filled() {
    use std::mem::MaybeUninit;
    use tokio::io::{AsyncRead, ReadBuf};
    rt(1).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        futures::io::AsyncWriteExt::write_all(&mut client, b"seven b")
            .await
            .unwrap();
        let mut storage = [MaybeUninit::<u8>::uninit(); 4096];
        let mut buf = ReadBuf::uninit(&mut storage);
        while buf.filled().len() < 7 {
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut server).poll_read(cx, &mut buf))
                .await
                .unwrap();
            assert_eq!(
                buf.initialized().len(),
                buf.filled().len(),
                "the read initialised more than it filled"
            );
        }
        assert_eq!(buf.filled(), b"seven b");
        drop(client);
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut server).poll_read(cx, &mut buf))
            .await
            .unwrap();
        assert_eq!(buf.filled(), b"seven b", "end of stream fills nothing");
        assert_eq!(buf.initialized().len(), 7);
    });
}

#[cfg(feature = "hyper")]
#[test]
fn hyper_http1_round_trip_on_heist() {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    use std::convert::Infallible;
    rt(2).block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        heist::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(|req: hyper::Request<_>| async move {
                let path = req.uri().path().to_string();
                Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(path))))
            });
            hyper::server::conn::http1::Builder::new()
                .timer(heist::io::hyper::Timer)
                .header_read_timeout(std::time::Duration::from_secs(5))
                .serve_connection(stream, service)
                .await
                .unwrap();
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
        // hyper's connection future runs on heist through its `Executor`.
        hyper::rt::Executor::execute(&heist::io::hyper::Executor, async move {
            let _ = conn.await;
        });
        for path in ["/a", "/bc"] {
            let req = hyper::Request::builder()
                .uri(path)
                .header("host", "localhost")
                .body(Full::new(Bytes::new()))
                .unwrap();
            sender.ready().await.unwrap();
            let resp = sender.send_request(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], path.as_bytes());
        }
    });
}
