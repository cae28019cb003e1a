//! `accept` when the process is out of file descriptors: an `io::Error` (EMFILE), the
//! listener keeps working once descriptors are free again, and a loop that retries does
//! not spin. Its own test binary, because it lowers the process's descriptor limit.

use heist::net::TcpListener;
use heist::Runtime;
use std::time::{Duration, Instant};

fn set_soft_limit(limit: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for getrlimit/setrlimit to read and write.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        let old = lim.rlim_cur;
        lim.rlim_cur = limit;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        old
    }
}

/// The highest open descriptor + 1.
fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap()
        + 1
}

#[test]
fn accept_out_of_descriptors_is_an_error_and_does_not_spin() {
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Two connections wait in the backlog (their client ends are open here).
        let _clients: Vec<_> = (0..2)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        // Take every descriptor left under a lowered limit.
        let old = set_soft_limit(open_fds() + 2);
        let mut fillers = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            fillers.push(f);
        }
        let err = listener.accept().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
        // Retrying fails again, but each retry first waits (no busy loop): five
        // failures take at least five back-offs.
        let start = Instant::now();
        for _ in 0..5 {
            let err = listener.accept().await.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
        }
        assert!(
            start.elapsed() >= Duration::from_millis(40),
            "{:?}",
            start.elapsed()
        );
        // Descriptors are back: the waiting connection is accepted.
        drop(fillers);
        set_soft_limit(old);
        let (conn, _) = listener.accept().await.unwrap();
        assert!(conn.peer_addr().is_ok());
    });
}
