//! `UCred`: the credentials of a Unix stream's peer (tokio's type), read with
//! `SO_PEERCRED` on Linux and Android and `getpeereid` on the BSDs and Apple systems
//! (which give no process id there).

use std::io;
use std::os::unix::io::AsRawFd;

/// A user id (`uid_t`), as tokio names it.
#[allow(non_camel_case_types)]
pub type uid_t = u32;
/// A group id (`gid_t`), as tokio names it.
#[allow(non_camel_case_types)]
pub type gid_t = u32;
/// A process id (`pid_t`), as tokio names it.
#[allow(non_camel_case_types)]
pub type pid_t = i32;

/// The credentials of the process at the other end of a [`UnixStream`], as the system
/// recorded them when the connection was made (see
/// [`UnixStream::peer_cred`](super::UnixStream::peer_cred)).
///
/// [`UnixStream`]: super::UnixStream
#[derive(Copy, Clone, Eq, PartialEq, Hash, Debug)]
pub struct UCred {
    pid: Option<pid_t>,
    uid: uid_t,
    gid: gid_t,
}

impl UCred {
    /// The peer's effective user id.
    pub fn uid(&self) -> uid_t {
        self.uid
    }

    /// The peer's effective group id.
    pub fn gid(&self) -> gid_t {
        self.gid
    }

    /// The peer's process id, where the system reports it (Linux and Android do).
    pub fn pid(&self) -> Option<pid_t> {
        self.pid
    }
}

/// `SO_PEERCRED`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn peer_cred(socket: &impl AsRawFd) -> io::Result<UCred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a live `ucred` and `len` its size, as `SO_PEERCRED` wants; the
    // kernel writes at most `len` bytes into it. A bad fd is an error return, not UB.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(UCred {
        pid: Some(cred.pid),
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// `getpeereid`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn peer_cred(socket: &impl AsRawFd) -> io::Result<UCred> {
    let mut uid: libc::uid_t = 0;
    let mut gid: libc::gid_t = 0;
    // SAFETY: both pointers are to live locals of the types `getpeereid` writes.
    let rc = unsafe { libc::getpeereid(socket.as_raw_fd(), &mut uid, &mut gid) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(UCred {
        pid: None,
        uid,
        gid,
    })
}
