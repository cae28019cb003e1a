//! The stream-side items heist added to match tokio::net: `poll_peek` with a `ReadBuf`,
//! the vectored `try_*`, `TryFrom<std>`, `AsRef` on halves, linger and quickack,
//! `TcpSocket`'s IP options, and the Unix extras (`peer_cred`, `bind_addr`,
//! `connect_addr`, `take_error`). Loopback and temporary paths only; every wait is
//! bounded by the peer's own progress.

use futures::io::AsyncWriteExt;
use heist::io::ReadBuf;
use heist::net::{TcpListener, TcpSocket, TcpStream, UnixListener, UnixStream};
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, Read};
use std::mem::MaybeUninit;

mod common;
use common::rt;

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

#[test]
fn tcp_poll_peek_fills_a_read_buf_and_halves_peek_too() {
    rt(2).block_on(async {
        let (mut client, server) = tcp_pair().await;
        client.write_all(b"hello").await.unwrap();

        let mut storage = [MaybeUninit::<u8>::uninit(); 16];
        let mut buf = ReadBuf::uninit(&mut storage);
        buf.put_slice(b">");
        // Peeking may see fewer bytes than were written; poll until all five are there.
        let mut n = 0;
        while buf.filled().len() < 6 {
            buf.set_filled(1);
            n = poll_fn(|cx| server.poll_peek(cx, &mut buf)).await.unwrap();
        }
        assert_eq!((n, buf.filled()), (5, &b">hello"[..]));

        // Through the halves: the same bytes, still unread.
        let (mut read, write) = server.into_split();
        let mut storage = [0u8; 2];
        let mut small = ReadBuf::new(&mut storage);
        assert_eq!(
            poll_fn(|cx| read.poll_peek(cx, &mut small)).await.unwrap(),
            2
        );
        assert_eq!(small.filled(), b"he");
        let stream: &TcpStream = read.as_ref();
        assert_eq!(
            stream.local_addr().unwrap(),
            write.as_ref().local_addr().unwrap()
        );
        let mut server = read.reunite(write).unwrap();
        {
            let (mut read, _write) = server.split();
            let mut storage = [0u8; 8];
            let mut buf = ReadBuf::new(&mut storage);
            assert_eq!(poll_fn(|cx| read.poll_peek(cx, &mut buf)).await.unwrap(), 5);
        }

        // A full buffer peeks nothing, at once.
        let mut none: [u8; 0] = [];
        let mut full = ReadBuf::new(&mut none);
        assert_eq!(
            poll_fn(|cx| server.poll_peek(cx, &mut full)).await.unwrap(),
            0
        );
    });
}

#[test]
fn vectored_try_io_on_streams_and_halves() {
    rt(2).block_on(async {
        let (client, server) = tcp_pair().await;
        client.writable().await.unwrap();
        let n = client
            .try_write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cd")])
            .unwrap();
        assert_eq!(n, 4);
        // One 4-byte segment on loopback: the first read that finds it reads it whole.
        let (mut a, mut b) = ([0u8; 3], [0u8; 3]);
        let n = loop {
            server.readable().await.unwrap();
            match server.try_read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
            {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(n, 4);
        assert_eq!((&a, &b[..1]), (b"abc", &b"d"[..]));

        // The Unix halves forward to the stream.
        let (x, y) = UnixStream::pair().unwrap();
        let (_xr, xw) = x.into_split();
        xw.writable().await.unwrap();
        assert_eq!(xw.try_write_vectored(&[IoSlice::new(b"xyz")]).unwrap(), 3);
        let (yr, _yw) = y.into_split();
        let mut c = [0u8; 3];
        loop {
            yr.readable().await.unwrap();
            match yr.try_read_vectored(&mut [IoSliceMut::new(&mut c)]) {
                Ok(n) => {
                    assert_eq!((n, &c), (3, b"xyz"));
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
    });
}

/// Linux: `TCP_QUICKACK`, `SO_BINDTODEVICE` and the reset that a zero linger makes.
#[cfg(target_os = "linux")]
#[test]
fn tryfrom_std_and_tcp_options() {
    rt(2).block_on(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let listener = TcpListener::try_from(std_listener).unwrap();
        let std_stream = std::net::TcpStream::connect(addr).unwrap();
        let client = TcpStream::try_from(std_stream).unwrap();
        let (server, _) = listener.accept().await.unwrap();

        client.set_quickack(true).unwrap();
        assert!(client.quickack().unwrap());
        // A zero linger makes the close a reset: the peer's read fails instead of
        // reading end of stream.
        client.set_zero_linger().unwrap();
        assert_eq!(client.linger().unwrap(), Some(std::time::Duration::ZERO));
        drop(client);
        let mut std_server = server.into_std().unwrap();
        std_server.set_nonblocking(false).unwrap();
        let err = std_server.read(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);

        let socket = TcpSocket::new_v4().unwrap();
        socket.set_tos_v4(0x08).unwrap();
        assert_eq!(socket.tos_v4().unwrap(), 0x08);
        socket.set_zero_linger().unwrap();
        assert_eq!(socket.linger().unwrap(), Some(std::time::Duration::ZERO));
        assert_eq!(socket.device().unwrap(), None);
        let socket6 = TcpSocket::new_v6().unwrap();
        socket6.set_tclass_v6(0x10).unwrap();
        assert_eq!(socket6.tclass_v6().unwrap(), 0x10);
    });
}

/// Linux: abstract socket names, and `SO_PEERCRED`'s process id.
#[cfg(target_os = "linux")]
#[test]
fn unix_peer_cred_addr_constructors_and_errors() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;

    rt(2).block_on(async {
        let name = format!("heist-parity-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixListener::bind_addr(&addr).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_abstract_name(),
            Some(name.as_bytes())
        );
        assert!(listener.take_error().unwrap().is_none());
        let client = UnixStream::connect_addr(&addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();

        let cred = client.peer_cred().unwrap();
        assert_eq!(
            cred.pid(),
            Some(std::process::id() as heist::net::unix::pid_t)
        );
        assert_eq!(cred, server.peer_cred().unwrap());
        assert!(client.take_error().unwrap().is_none());

        // Binding the same name twice is the system's error.
        assert_eq!(
            UnixListener::bind_addr(&addr).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        let std_pair = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(UnixStream::try_from(std_pair.0).is_ok());
    });
}

/// `UnixSocket`: a client bound to a path before it connects (the server sees that
/// path), a datagram socket, and the stream/datagram mix-ups as errors.
#[test]
fn unix_socket_before_it_listens_connects_or_sends() {
    use heist::net::{UnixDatagram, UnixSocket};

    let dir = std::env::temp_dir();
    let pid = std::process::id();
    let (server_path, client_path, dgram_path) = (
        dir.join(format!("heist-parity-{pid}-server.sock")),
        dir.join(format!("heist-parity-{pid}-client.sock")),
        dir.join(format!("heist-parity-{pid}-dgram.sock")),
    );
    for path in [&server_path, &client_path, &dgram_path] {
        let _ = std::fs::remove_file(path);
    }
    rt(2).block_on(async {
        let socket = UnixSocket::new_stream().unwrap();
        socket.bind(&server_path).unwrap();
        let listener = socket.listen(8).unwrap();
        let client = UnixSocket::new_stream().unwrap();
        client.bind(&client_path).unwrap();
        let client = client.connect(&server_path).await.unwrap();
        let (_server, from) = listener.accept().await.unwrap();
        assert_eq!(from.as_pathname(), Some(client_path.as_path()));
        assert_eq!(
            client.local_addr().unwrap().as_pathname(),
            Some(client_path.as_path())
        );

        let dgram = UnixSocket::new_datagram().unwrap();
        dgram.bind(&dgram_path).unwrap();
        let dgram = dgram.datagram().unwrap();
        let sender = UnixDatagram::unbound().unwrap();
        sender.send_to(b"d", &dgram_path).await.unwrap();
        let mut buf = [0; 4];
        assert_eq!(dgram.recv(&mut buf).await.unwrap(), 1);

        // The wrong kind for the call: an error, not a panic.
        assert!(UnixSocket::new_datagram().unwrap().listen(8).is_err());
        assert!(UnixSocket::new_datagram()
            .unwrap()
            .connect(&server_path)
            .await
            .is_err());
        assert!(UnixSocket::new_stream().unwrap().datagram().is_err());
        // A path already bound.
        assert_eq!(
            UnixSocket::new_stream()
                .unwrap()
                .bind(&server_path)
                .unwrap_err()
                .kind(),
            io::ErrorKind::AddrInUse
        );
    });
    for path in [&server_path, &client_path, &dgram_path] {
        let _ = std::fs::remove_file(path);
    }
}
