//! Turns Nagle's algorithm off on the pool's TCP connections. sqlx 0.9.0 stopped setting
//! `TCP_NODELAY` (launchbadge/sqlx#4335, fixed upstream in #4336 but not yet released), so a
//! statement larger than one segment waited up to 40 ms for the server's delayed ACK: ingest
//! over TCP reached 2,232 messages/s against 4,992/s over the Unix socket (BENCHMARKS.md).
//! Remove this module once the sqlx in Cargo.lock sets the option itself.
//!
//! sqlx does not hand out its socket, so each new connection looks through this process's file
//! descriptors for TCP sockets whose peer is the database's port, and sets the option on them.

/// Sets `TCP_NODELAY` on every TCP socket of this process connected to `port`; how many now
/// have it. Other sockets to that port are also PostgreSQL connections, for which it is right
/// too. A descriptor that fails is skipped: this must never fail the connection.
#[cfg(target_os = "linux")]
pub fn set_on_connections_to(port: u16) -> std::io::Result<usize> {
    use std::os::fd::BorrowedFd;

    let mut set = 0;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let Some(fd) = entry?.file_name().to_str().and_then(|name| name.parse::<i32>().ok()) else {
            continue;
        };
        // SAFETY: the descriptor is only queried and given a socket option, never closed or
        // read. If another thread closes it meanwhile, the calls fail (EBADF or ENOTSOCK) or
        // reach the descriptor's next owner, which gets the option only if it is also a
        // connection to the database's port.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let to_database =
            socket.peer_addr().ok().and_then(|peer| peer.as_socket()).is_some_and(|peer| peer.port() == port);
        if to_database && (socket.tcp_nodelay().is_ok_and(|on| on) || socket.set_tcp_nodelay(true).is_ok()) {
            set += 1;
        }
    }
    Ok(set)
}

/// Elsewhere there is no `/proc/self/fd` to look through: connections keep sqlx's default.
#[cfg(not(target_os = "linux"))]
pub fn set_on_connections_to(_port: u16) -> std::io::Result<usize> {
    Ok(0)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn sets_nodelay_only_on_sockets_to_the_port() {
        let database = TcpListener::bind("127.0.0.1:0").unwrap();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let to_database = TcpStream::connect(database.local_addr().unwrap()).unwrap();
        let to_other = TcpStream::connect(other.local_addr().unwrap()).unwrap();
        assert!(!to_database.nodelay().unwrap(), "sockets start with Nagle on");

        let found = super::set_on_connections_to(database.local_addr().unwrap().port()).unwrap();

        assert_eq!(found, 1, "exactly the one socket connected to the port");
        assert!(to_database.nodelay().unwrap());
        assert!(!to_other.nodelay().unwrap(), "a socket to another port is left alone");
    }
}
