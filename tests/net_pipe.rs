//! `heist::net::unix::pipe` (tokio's `net::unix::pipe`): anonymous pipes and FIFOs on the
//! I/O driver. Every wait is on the other end's progress and bounded by `PATIENCE`
//! (a failure bound, never a synchronisation); FIFOs live in a fresh temporary directory.

use futures::io::{AsyncReadExt, AsyncWriteExt};
use heist::net::unix::pipe::{self, OpenOptions, Receiver, Sender};
use heist::time::timeout;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::unix::io::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

mod common;
use common::{rt, PATIENCE};

/// A fresh temporary directory, removed with what it holds when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("heist-pipe-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }

    /// A FIFO (`mkfifo`, mode 0600) named `name` in the directory.
    fn fifo(&self, name: &str) -> PathBuf {
        let path = self.0.join(name);
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `c_path` is a NUL-terminated string that outlives the call.
        let r = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
        assert_eq!(r, 0, "mkfifo: {}", io::Error::last_os_error());
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `fd`'s `O_NONBLOCK` flag.
fn is_nonblocking(fd: RawFd) -> bool {
    // SAFETY: `F_GETFL` takes no pointer; `fd` is open for the call (the caller owns it).
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    assert!(flags >= 0, "{}", io::Error::last_os_error());
    flags & libc::O_NONBLOCK != 0
}

/// All `rx` reads until end of file, bounded by `PATIENCE`.
async fn read_all(rx: &mut Receiver) -> Vec<u8> {
    let mut got = Vec::new();
    timeout(PATIENCE, rx.read_to_end(&mut got))
        .await
        .expect("no end of file: the writer stalled")
        .unwrap();
    got
}

/// `n` bytes of a pattern that shows a lost, repeated or reordered chunk.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[test]
fn a_round_trip_between_two_tasks() {
    rt(2).block_on(async {
        let (mut tx, mut rx) = pipe::pipe().unwrap();
        let (mut back_tx, mut back_rx) = pipe::pipe().unwrap();
        // The echo: reads each message on one pipe, writes it back on the other.
        let echo = heist::spawn(async move {
            let mut buf = [0; 5];
            for _ in 0..100 {
                rx.read_exact(&mut buf).await.unwrap();
                back_tx.write_all(&buf).await.unwrap();
            }
        });
        for i in 0..100u8 {
            let msg = [i, i + 1, i + 2, b'!', b'\n'];
            tx.write_all(&msg).await.unwrap();
            let mut got = [0; 5];
            timeout(PATIENCE, back_rx.read_exact(&mut got))
                .await
                .expect("the echo stalled")
                .unwrap();
            assert_eq!(got, msg);
        }
        echo.await.unwrap();
    });
}

/// The pipe is filled (`WouldBlock` proves it full), then a write far larger
/// than the pipe waits on the reader and completes once it has drained everything.
#[test]
fn a_large_write_waits_for_the_reader_and_completes() {
    rt(2).block_on(async {
        let (mut tx, mut rx) = pipe::pipe().unwrap();
        // Filled through a duplicate of the descriptor, so that `WouldBlock` is the
        // kernel's answer (a `try_write` says it too before the driver's first event).
        let mut raw = std::fs::File::from(tx.as_fd().try_clone_to_owned().unwrap());
        let mut filled = 0;
        loop {
            match raw.write(&[0xAA; 4096]) {
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(filled >= 4096, "the pipe took only {filled} bytes");
        drop(raw);

        let big = pattern(4 << 20);
        let expected = big.clone();
        let writer = heist::spawn(async move {
            tx.write_all(&big).await.unwrap();
            // `tx` drops here: the reader's `read_to_end` ends.
        });
        let got = read_all(&mut rx).await;
        assert_eq!(got.len(), filled + expected.len());
        assert!(got[..filled].iter().all(|&b| b == 0xAA));
        assert!(got[filled..] == expected[..], "bytes lost or reordered");
        timeout(PATIENCE, writer).await.unwrap().unwrap();
    });
}

#[test]
fn the_reader_sees_end_of_file_when_the_sender_drops() {
    rt(1).block_on(async {
        let (mut tx, mut rx) = pipe::pipe().unwrap();
        // A read pending on an empty pipe, woken by the drop alone.
        let reader = heist::spawn(async move {
            let mut got = Vec::new();
            rx.read_to_end(&mut got).await.unwrap();
            (got, rx)
        });
        tx.write_all(b"last words").await.unwrap();
        drop(tx);
        let (got, rx) = timeout(PATIENCE, reader).await.unwrap().unwrap();
        assert_eq!(got, b"last words");
        let mut buf = [0; 4];
        assert_eq!(rx.try_read(&mut buf).unwrap(), 0, "end of file again");
        rx.readable().await.unwrap();
    });
}

#[test]
fn a_sender_whose_receiver_dropped_fails_with_broken_pipe() {
    rt(1).block_on(async {
        let (mut tx, rx) = pipe::pipe().unwrap();
        drop(rx);
        timeout(PATIENCE, tx.writable()).await.unwrap().unwrap();
        let err = tx.write_all(b"anyone?").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn a_fifo_opened_at_both_ends() {
    let dir = TempDir::new("fifo");
    let path = dir.fifo("fifo");
    rt(2).block_on(async {
        let mut rx = OpenOptions::new().open_receiver(&path).unwrap();
        let mut tx = OpenOptions::new().open_sender(&path).unwrap();
        assert!(is_nonblocking(rx.as_raw_fd()) && is_nonblocking(tx.as_raw_fd()));
        let writer = heist::spawn(async move {
            tx.write_all(&pattern(200_000)).await.unwrap();
        });
        let got = read_all(&mut rx).await;
        assert!(got == pattern(200_000));
        writer.await.unwrap();
    });
}

#[test]
fn a_fifo_sender_with_no_reader_fails_with_enxio() {
    let dir = TempDir::new("enxio");
    let path = dir.fifo("fifo");
    rt(1).block_on(async {
        let err = OpenOptions::new().open_sender(&path).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENXIO), "{err}");
        // Unchecked changes nothing here: the error is the system's open.
        let err = OpenOptions::new()
            .unchecked(true)
            .open_sender(&path)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENXIO), "{err}");

        // Linux: read-write access holds a reading end itself, so the open succeeds,
        // and what it writes waits in the FIFO for a reader.
        #[cfg(target_os = "linux")]
        {
            let mut tx = OpenOptions::new()
                .read_write(true)
                .open_sender(&path)
                .unwrap();
            tx.write_all(b"early").await.unwrap();
            let mut rx = OpenOptions::new().open_receiver(&path).unwrap();
            let mut buf = [0; 5];
            timeout(PATIENCE, rx.read_exact(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&buf, b"early");
        }
    });
}

#[test]
fn a_regular_file_is_refused_unless_unchecked() {
    let dir = TempDir::new("regular");
    let path = dir.0.join("plain");
    std::fs::write(&path, b"not a pipe").unwrap();
    rt(1).block_on(async {
        for result in [
            OpenOptions::new().open_receiver(&path).map(drop),
            OpenOptions::new().open_sender(&path).map(drop),
            Receiver::from_file(std::fs::File::open(&path).unwrap()).map(drop),
        ] {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            assert_eq!(err.to_string(), "not a pipe");
        }
        // Unchecked, the file gets past the check to the driver, which cannot poll a
        // regular file (epoll says `EPERM`): a different error, from a later step.
        let err = OpenOptions::new()
            .unchecked(true)
            .open_receiver(&path)
            .unwrap_err();
        assert_ne!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        #[cfg(target_os = "linux")]
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
    });
}

/// A socket is pollable but not a pipe: `from_owned_fd` refuses it, the unchecked
/// constructor takes it and reads through it.
#[test]
fn from_owned_fd_checks_what_unchecked_does_not() {
    rt(1).block_on(async {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = OwnedFd::from(a);
        let err = Receiver::from_owned_fd(a.try_clone().unwrap()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");

        // `from_file_unchecked` leaves the flags alone: the caller set O_NONBLOCK.
        std::os::unix::net::UnixStream::from(a.try_clone().unwrap())
            .set_nonblocking(true)
            .unwrap();
        let mut rx = Receiver::from_owned_fd_unchecked(a).unwrap();
        b.write_all(b"via a socket").unwrap();
        drop(b);
        let got = read_all(&mut rx).await;
        assert_eq!(got, b"via a socket");

        // A pipe's read end is not a writing end, and the other way round.
        let (tx, rx) = pipe::pipe().unwrap();
        let rx_fd = rx.into_nonblocking_fd().unwrap();
        let tx_fd = tx.into_nonblocking_fd().unwrap();
        let err = Sender::from_owned_fd(rx_fd.try_clone().unwrap()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        let err = Receiver::from_owned_fd(tx_fd.try_clone().unwrap()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        // The right ends are taken, from blocking descriptors made non-blocking.
        let (tx_file, rx_file) = (std::fs::File::from(tx_fd), std::fs::File::from(rx_fd));
        let tx = Sender::from_file(set_blocking(tx_file)).unwrap();
        let rx = Receiver::from_file(set_blocking(rx_file)).unwrap();
        assert!(is_nonblocking(tx.as_raw_fd()) && is_nonblocking(rx.as_fd().as_raw_fd()));
    });
}

/// `file`, switched to blocking mode.
fn set_blocking(file: std::fs::File) -> std::fs::File {
    // SAFETY: `F_GETFL`/`F_SETFL` take no pointer; `file` keeps the descriptor open.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        assert!(flags >= 0);
        assert_eq!(
            libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK),
            0
        );
    }
    assert!(!is_nonblocking(file.as_raw_fd()));
    file
}

#[test]
fn into_blocking_fd_returns_a_blocking_descriptor() {
    rt(1).block_on(async {
        let (tx, rx) = pipe::pipe().unwrap();
        let rx = rx.into_blocking_fd().unwrap();
        assert!(!is_nonblocking(rx.as_raw_fd()), "still O_NONBLOCK");
        let tx = tx.into_nonblocking_fd().unwrap();
        assert!(is_nonblocking(tx.as_raw_fd()), "lost O_NONBLOCK");

        // The blocking end waits for the writer in a plain thread (no driver involved).
        let reader = std::thread::spawn(move || {
            let mut got = String::new();
            std::fs::File::from(rx).read_to_string(&mut got).unwrap();
            got
        });
        let mut tx = std::fs::File::from(tx);
        tx.write_all(b"blocking").unwrap();
        drop(tx);
        assert_eq!(reader.join().unwrap(), "blocking");
    });
}

#[test]
fn try_io_and_the_vectored_forms() {
    rt(1).block_on(async {
        let (tx, rx) = pipe::pipe().unwrap();
        // Nothing to read: `WouldBlock` (readiness cleared), then it arrives.
        let mut buf = [0; 8];
        assert_eq!(
            rx.try_read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        tx.writable().await.unwrap();
        let n = tx
            .try_write_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cde")])
            .unwrap();
        assert_eq!(n, 5);
        timeout(PATIENCE, rx.readable()).await.unwrap().unwrap();
        let (mut one, mut two) = ([0; 3], [0; 8]);
        let n = rx
            .try_read_vectored(&mut [IoSliceMut::new(&mut one), IoSliceMut::new(&mut two)])
            .unwrap();
        assert_eq!((n, &one, &two[..2]), (5, b"abc", &b"de"[..]));

        // `try_io` runs the caller's own syscall on the descriptor.
        tx.try_io(|| std::fs::File::from(tx.as_fd().try_clone_to_owned()?).write(b"raw"))
            .unwrap();
        let ready = timeout(PATIENCE, rx.ready(heist::io::Interest::READABLE))
            .await
            .unwrap()
            .unwrap();
        assert!(ready.is_readable());
        let n = rx
            .try_io(|| std::fs::File::from(rx.as_fd().try_clone_to_owned()?).read(&mut buf))
            .unwrap();
        assert_eq!(&buf[..n], b"raw");
        assert_eq!(
            rx.try_io(|| Err::<(), _>(io::ErrorKind::WouldBlock.into()))
                .unwrap_err()
                .kind(),
            io::ErrorKind::WouldBlock
        );
        // The poll forms.
        std::future::poll_fn(|cx| tx.poll_write_ready(cx))
            .await
            .unwrap();
        tx.try_write(b"!").unwrap();
        timeout(PATIENCE, std::future::poll_fn(|cx| rx.poll_read_ready(cx)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rx.try_read(&mut buf).unwrap(), 1);
    });
}

/// Close on a pipe's `Sender` is a no-op (there is no half-close): the writer can go on.
#[test]
fn close_does_not_end_the_stream() {
    rt(1).block_on(async {
        let (mut tx, mut rx) = pipe::pipe().unwrap();
        tx.close().await.unwrap();
        tx.write_all(b"still open").await.unwrap();
        drop(tx);
        let got = read_all(&mut rx).await;
        assert_eq!(got, b"still open");
    });
}

#[cfg(feature = "tokio-io")]
#[test]
fn tokio_io_traits() {
    rt(2).block_on(async {
        let (mut tx, mut rx) = pipe::pipe().unwrap();
        let writer = heist::spawn(async move {
            tokio::io::AsyncWriteExt::write_all(&mut tx, &pattern(300_000))
                .await
                .unwrap();
            tokio::io::AsyncWriteExt::shutdown(&mut tx).await.unwrap();
        });
        let mut got = Vec::new();
        timeout(
            PATIENCE,
            tokio::io::AsyncReadExt::read_to_end(&mut rx, &mut got),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(got == pattern(300_000));
        writer.await.unwrap();
    });
}

#[test]
#[should_panic(expected = "heist::net")]
fn a_pipe_outside_a_runtime_panics() {
    let _ = pipe::pipe();
}
