//! `UnixStream`'s halves: borrowed (`split`) and owned (`into_split`, `reunite`), from
//! `net/split.rs`.

use super::{SocketAddr, UnixStream};

crate::net::split::stream_halves!(UnixStream, SocketAddr);
