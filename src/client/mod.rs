//! The service's plain outbound HTTP client, for `--healthcheck`: send one
//! complete request, return the status code of the final answer. Blocking, over `std::net`; only
//! status lines are read (headers are skipped whatever their number, the body is never read).
//! [`exchange`] is the transport underneath, which the tests' full-response reader shares.
//! Calls that need HTTPS go through [`agent`] instead.

pub mod agent;

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Most bytes read while waiting for the final answer's head.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Sends `request` (complete bytes, ideally with `Connection: close`) to `addr` and returns the
/// status code of the first final (non-`1xx`) answer as soon as its status line has arrived.
/// Interim answers such as `100 Continue` are skipped. Connecting, writing and reading share one
/// deadline, `timeout` (DNS resolution is not bounded by it).
///
/// Errors: resolution, connect or I/O failure, `TimedOut` past the deadline, `InvalidData` for an
/// answer that is not HTTP or whose head exceeds 64 KiB.
pub fn status(addr: impl ToSocketAddrs, request: &[u8], timeout: Duration) -> io::Result<u16> {
    exchange(addr, request, timeout, |answer, closed| match final_status(answer)? {
        Some(status) => Ok(Some(status)),
        None if closed => Err(invalid("connection closed before an answer")),
        None if answer.len() > MAX_HEAD_BYTES => Err(invalid("answer head too large")),
        None => Ok(None),
    })
}

/// Connects to `addr`, writes `request`, then reads until `done` makes something of the bytes
/// received so far (`closed`: the peer closed the connection, no more will come), all within one
/// deadline `timeout`. Errors: as [`status`], or whatever `done` returns.
pub fn exchange<T>(
    addr: impl ToSocketAddrs,
    request: &[u8],
    timeout: Duration,
    done: impl Fn(&[u8], bool) -> io::Result<Option<T>>,
) -> io::Result<T> {
    let deadline = Instant::now() + timeout;
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))
    };
    let target = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
    let mut stream = TcpStream::connect_timeout(&target, remaining()?)?;
    stream.set_write_timeout(Some(remaining()?))?;
    stream.write_all(request)?;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(answer) = done(&buffer, false)? {
            return Ok(answer);
        }
        stream.set_read_timeout(Some(remaining()?))?;
        match stream.read(&mut chunk) {
            Ok(0) => return done(&buffer, true)?.ok_or_else(|| invalid("closed mid-answer")),
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"));
            }
            Err(e) => return Err(e),
        }
    }
}

/// The status of the first final answer in `buffer`, as soon as its status line is complete;
/// `None` until then. Interim (`1xx`) answers are skipped once their whole head has arrived.
fn final_status(mut buffer: &[u8]) -> io::Result<Option<u16>> {
    loop {
        let Some(line_end) = find(buffer, b"\r\n") else {
            return Ok(None);
        };
        let code = status_code(&buffer[..line_end])?;
        if !(100..200).contains(&code) || code == 101 {
            return Ok(Some(code));
        }
        let Some(head_end) = find(buffer, b"\r\n\r\n") else {
            return Ok(None);
        };
        buffer = &buffer[head_end + 4..];
    }
}

/// The code of a status line `HTTP/1.x NNN reason` (RFC 9112 §4).
fn status_code(line: &[u8]) -> io::Result<u16> {
    match (line.get(..7), line.get(8), line.get(9..12), line.get(12)) {
        (Some(b"HTTP/1."), Some(b' '), Some(digits), None | Some(b' '))
            if digits.iter().all(u8::is_ascii_digit) =>
        {
            Ok(digits.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0')))
        }
        _ => Err(invalid("not an HTTP/1.x status line")),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interim_answers_are_skipped_and_the_body_is_never_needed() {
        let answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n\
                       HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff";
        assert_eq!(final_status(answer).unwrap(), Some(202));
        assert_eq!(final_status(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap(), None);
        assert_eq!(final_status(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(), Some(200));
        assert_eq!(final_status(b"HTTP/1.1 100 Continue\r\nX: y").unwrap(), None);
        assert_eq!(final_status(b"HTTP/1.1 20").unwrap(), None);
        assert!(final_status(b"SMTP ready\r\n\r\n").is_err());
        assert!(final_status(b"HTTP/1.1 2000 OK\r\n\r\n").is_err());
        let many_headers = format!("HTTP/1.1 204 No Content\r\n{}\r\n", "X-A: b\r\n".repeat(500));
        assert_eq!(final_status(many_headers.as_bytes()).unwrap(), Some(204));
    }
}
