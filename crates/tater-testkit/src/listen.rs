//! Starting a peer on a port picked in advance, and knowing it is *that* peer which answers.
//!
//! A port from [`free_port`] is free when it is picked, not when the peer binds it: two tests
//! running at once can pick the same one. The second peer then fails to bind, while a connect
//! to the port still succeeds — it reaches the first test's peer, and the two tests read each
//! other's messages. So readiness here means "this child process holds the listening socket",
//! read from `/proc` (the socket inodes in the child's file table against the kernel's table of
//! listening sockets), and a child that exits first is reported at once.

use std::collections::HashSet;
use std::process::Child;
use std::time::{Duration, Instant};

/// A loopback TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A loopback UDP port nothing is bound to right now.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Which protocol's socket table to read.
#[derive(Debug, Clone, Copy)]
pub enum Proto {
    Tcp,
    Udp,
}

/// Waits until `child` itself is bound to `port` (a listening socket for TCP, a bound one
/// for UDP). Panics naming `what` and `diagnostics()` when the child exits first (typically
/// "address already in use") or after `timeout`.
pub fn wait_until_bound(
    child: &mut Child,
    port: u16,
    proto: Proto,
    what: &str,
    timeout: Duration,
    diagnostics: impl Fn() -> String,
) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}) before it bound port {port}: {}",
                diagnostics()
            );
        }
        if bound_by(child.id(), port, proto) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not bind port {port} within {timeout:?}: {}",
            diagnostics()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Whether process `pid` holds a socket bound to local `port` (TCP: in the LISTEN state).
pub fn bound_by(pid: u32, port: u16, proto: Proto) -> bool {
    let mine = socket_inodes(pid);
    let (tables, state) = match proto {
        Proto::Tcp => (["/proc/net/tcp", "/proc/net/tcp6"], "0A"),
        Proto::Udp => (["/proc/net/udp", "/proc/net/udp6"], "07"),
    };
    tables.iter().any(|table| {
        std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|line| {
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                let f: Vec<&str> = line.split_whitespace().collect();
                f.len() > 9
                    && f[3] == state
                    && mine.contains(f[9])
                    && f[1]
                        .rsplit_once(':')
                        .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                        == Some(port)
            })
    })
}

/// The inodes of the sockets in `pid`'s file table (`socket:[INODE]` links in /proc/PID/fd).
fn socket_inodes(pid: u32) -> HashSet<String> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_is_bound_by_its_holder_only() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(bound_by(std::process::id(), port, Proto::Tcp));
        assert!(!bound_by(std::process::id(), port, Proto::Udp));
        assert!(!bound_by(1, port, Proto::Tcp), "pid 1 does not hold it");
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_port = udp.local_addr().unwrap().port();
        assert!(bound_by(std::process::id(), udp_port, Proto::Udp));
        drop(listener);
        assert!(!bound_by(std::process::id(), port, Proto::Tcp));
    }

    #[test]
    fn a_peer_that_cannot_bind_is_reported_not_mistaken_for_the_holder() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // A child that can never bind the port (we hold it) but stays alive: not ready.
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until_bound(
                &mut child,
                port,
                Proto::Tcp,
                "sleep",
                Duration::from_millis(200),
                String::new,
            )
        }));
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            waited.is_err(),
            "a connectable port held by another process is not ready"
        );
    }
}
