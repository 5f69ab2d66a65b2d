//! Keeping the listener alive, or failing loudly when it dies.
//!
//! tiny_http's accept thread panics when it cannot duplicate an accepted socket (`EMFILE`: out of
//! file descriptors) or cannot start a connection thread; the listening socket is then closed for
//! good while the process stays up, silent, refusing every connection. Two defences:
//! [`raise_open_files_limit`] makes running out much less likely, and [`exit_if_accepting_dies`]
//! turns the accept thread's death into a log line and exit code 1, so a supervisor (Docker's
//! `restart: unless-stopped`, systemd, Kubernetes) starts a fresh process.

use serde_json::json;
use std::net::SocketAddr;

/// Connections the kernel may hold complete but not yet accepted (Linux caps it at
/// `net.core.somaxconn`, 4,096 by default). The standard library's 128 overflowed when 1,000
/// clients connected within a second: a dropped handshake is retried by the client only after
/// one, three, seven seconds (BENCHMARKS.md, target 7).
pub const LISTEN_BACKLOG: i32 = 4096;

/// Binds `addr` with a [`LISTEN_BACKLOG`]-deep accept queue and `TCP_NODELAY` (see [`listen`])
/// and hands the socket to tiny_http. Errors: the address cannot be bound.
pub fn bind(addr: SocketAddr) -> Result<tiny_http::Server, String> {
    tiny_http::Server::from_listener(listen(addr)?, None)
        .map_err(|e| format!("cannot serve {addr}: {e}"))
}

/// The listening socket: a [`LISTEN_BACKLOG`]-deep accept queue, and `TCP_NODELAY`, which Linux
/// passes on to every accepted connection (tiny_http never shows us those sockets). tiny_http
/// writes a response through a 1 KiB buffer: the headers, then a larger body in a second write.
/// With Nagle's algorithm on, that second write waited for the client to acknowledge the first,
/// and a client on a keep-alive connection delays its acknowledgement by up to 40 ms: every
/// answer over about 1 KiB (a page of accounts or events, the web client's script) took 40 ms
/// more than its work (BENCHMARKS.md, target 9). Errors: the address cannot be bound.
pub fn listen(addr: SocketAddr) -> Result<std::net::TcpListener, String> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|e| format!("cannot bind {addr}: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let fd = listener.as_raw_fd();
        let on: libc::c_int = 1;
        // SAFETY: listen() and setsockopt() on a socket we own, with a pointer to a live c_int
        // and its size; listen() again only changes the backlog.
        let failed = unsafe {
            libc::listen(fd, LISTEN_BACKLOG) != 0
                || libc::setsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                ) != 0
        };
        if failed {
            let error = std::io::Error::last_os_error();
            return Err(format!("cannot configure the socket on {addr}: {error}"));
        }
    }
    Ok(listener)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (the soft default is often 1,024, and each
/// connection costs tiny_http two descriptors). Returns the soft limit now in force, if known.
#[cfg(unix)]
pub fn raise_open_files_limit() -> Option<libc::rlim_t> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read or write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    Some(limit.rlim_cur)
}

/// Not raised on platforms without `RLIMIT_NOFILE`.
#[cfg(not(unix))]
pub fn raise_open_files_limit() -> Option<u64> {
    None
}

/// Installs a panic hook that exits the process (code 1, after a `listener_failed` log line)
/// when tiny_http's accept thread panics. Every thread of ours is named; the accept thread is
/// not, and its panics come from duplicating an accepted socket (`refined_tcp_stream.rs`) or
/// from starting a connection thread. Panics elsewhere (a handler: caught and answered 500; a
/// tiny_http connection thread: only that connection is lost) keep the default behaviour.
pub fn exit_if_accepting_dies() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let location = info.location().map_or("", |l| l.file());
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let unnamed = std::thread::current().name().is_none();
        if unnamed
            && (location.ends_with("refined_tcp_stream.rs")
                || message.contains("failed to spawn thread"))
        {
            crate::telemetry::log::error(
                "listener_failed",
                json!({"error": format!("the HTTP accept thread panicked: {message}"),
                       "location": location, "exiting": true}),
            );
            std::process::exit(1);
        }
    }));
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn accepted_nodelay(listener: TcpListener) -> bool {
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        listener.accept().unwrap().0.nodelay().unwrap()
    }

    #[test]
    fn accepted_connections_send_without_waiting_for_acknowledgements() {
        let any = "127.0.0.1:0".parse().unwrap();
        assert!(accepted_nodelay(listen(any).unwrap()));
        // The control: without the option on the listener, Nagle's algorithm is on.
        assert!(!accepted_nodelay(TcpListener::bind(any).unwrap()));
    }
}
