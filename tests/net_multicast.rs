//! `UdpSocket`'s multicast and other socket options, on loopback only.
//!
//! Delivery: a receiver that joins a group on the loopback interface (127.0.0.1) gets
//! what a sender whose `IP_MULTICAST_IF` is 127.0.0.1 sends to the group (checked on
//! Linux; heist, like tokio, has no `set_multicast_if_v4`, so the sender sets it through
//! socket2). Leaving is checked without waiting for an absence: a second leave of the
//! same group fails, which it does only if the first one dropped the membership.

use heist::net::UdpSocket;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

mod common;
use common::rt;

/// A group in the organisation-local scope (239/8), never routed off the host here.
const GROUP_V4: Ipv4Addr = Ipv4Addr::new(239, 255, 72, 73);

#[test]
fn v4_group_delivers_on_loopback_and_leave_drops_membership() {
    rt(2).block_on(async {
        let receiver = UdpSocket::bind("0.0.0.0:0").await.unwrap();
        let port = receiver.local_addr().unwrap().port();
        receiver
            .join_multicast_v4(GROUP_V4, Ipv4Addr::LOCALHOST)
            .unwrap();
        // Joining twice is the system's error, not a panic.
        assert_eq!(
            receiver
                .join_multicast_v4(GROUP_V4, Ipv4Addr::LOCALHOST)
                .unwrap_err()
                .kind(),
            io::ErrorKind::AddrInUse
        );

        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket2::SockRef::from(&sender)
            .set_multicast_if_v4(&Ipv4Addr::LOCALHOST)
            .unwrap();
        sender.set_multicast_loop_v4(true).unwrap();
        sender
            .send_to(b"to the group", SocketAddr::from((GROUP_V4, port)))
            .await
            .unwrap();
        let mut buf = [0; 32];
        // A bound, not a synchronisation: the datagram is queued before send_to returns.
        let (n, from) = heist::time::timeout(Duration::from_secs(10), receiver.recv_from(&mut buf))
            .await
            .expect("the group's datagram never arrived")
            .unwrap();
        assert_eq!(&buf[..n], b"to the group");
        assert_eq!(from, sender.local_addr().unwrap());

        receiver
            .leave_multicast_v4(GROUP_V4, Ipv4Addr::LOCALHOST)
            .unwrap();
        // The membership is gone: leaving again fails.
        assert!(receiver
            .leave_multicast_v4(GROUP_V4, Ipv4Addr::LOCALHOST)
            .is_err());
    });
}

#[test]
fn v4_options_round_trip() {
    rt(1).block_on(async {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for on in [false, true] {
            socket.set_multicast_loop_v4(on).unwrap();
            assert_eq!(socket.multicast_loop_v4().unwrap(), on);
            socket.set_broadcast(on).unwrap();
            assert_eq!(socket.broadcast().unwrap(), on);
        }
        socket.set_multicast_ttl_v4(7).unwrap();
        assert_eq!(socket.multicast_ttl_v4().unwrap(), 7);
        socket.set_ttl(33).unwrap();
        assert_eq!(socket.ttl().unwrap(), 33);
        socket.set_tos_v4(0x10).unwrap();
        assert_eq!(socket.tos_v4().unwrap(), 0x10);
        // No device bound by default.
        assert_eq!(socket.device().unwrap(), None);
        assert!(socket.take_error().unwrap().is_none());
    });
}

#[test]
fn bad_multicast_input_is_an_io_error() {
    rt(1).block_on(async {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // Not a multicast address.
        let err = socket
            .join_multicast_v4(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        // A group never joined.
        assert!(socket
            .leave_multicast_v4(GROUP_V4, Ipv4Addr::LOCALHOST)
            .is_err());
        // An interface address that is no interface's.
        assert!(socket
            .join_multicast_v4(GROUP_V4, Ipv4Addr::new(192, 0, 2, 254))
            .is_err());
        // A TTL out of range (it is one byte).
        assert!(socket.set_multicast_ttl_v4(256).is_err());
        // An IPv6 option on an IPv4 socket.
        assert!(socket
            .join_multicast_v6(&Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x1234), 0)
            .is_err());
    });
}

/// IPv6, if the host has it on loopback: the options and a join/leave round trip on the
/// loopback interface (its index from the system).
#[test]
fn v6_options_and_membership_round_trip() {
    rt(1).block_on(async {
        let socket = match UdpSocket::bind("[::1]:0").await {
            Ok(socket) => socket,
            Err(e) => {
                eprintln!("no IPv6 loopback here ({e}); skipping");
                return;
            }
        };
        for on in [false, true] {
            socket.set_multicast_loop_v6(on).unwrap();
            assert_eq!(socket.multicast_loop_v6().unwrap(), on);
        }
        socket.set_tclass_v6(0x20).unwrap();
        assert_eq!(socket.tclass_v6().unwrap(), 0x20);
        // SAFETY: the argument is a NUL-terminated string literal.
        let lo = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
        assert_ne!(lo, 0, "no interface named lo");
        let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0x4865, 0x6973);
        socket.join_multicast_v6(&group, lo).unwrap();
        socket.leave_multicast_v6(&group, lo).unwrap();
        assert!(socket.leave_multicast_v6(&group, lo).is_err());
        // Not a multicast address. (An IPv4 group on an IPv6 socket is no error on
        // Linux: a dual-stack socket takes IPv4 options.)
        assert!(socket.join_multicast_v6(&Ipv6Addr::LOCALHOST, lo).is_err());
    });
}
