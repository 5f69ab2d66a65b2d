//! The service's one outbound HTTP client, for the mail API and `--healthcheck`: send one
//! complete request, return the status code of the final answer. Blocking, over `std::net`, with
//! `httparse` reading the answer's head; the body is never read.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Most bytes read while waiting for the final answer's head.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Sends `request` (complete bytes, ideally with `Connection: close`) to `addr` and returns the
/// status code of the first final (non-`1xx`) answer as soon as its head has arrived. Interim
/// answers such as `100 Continue` are skipped. Connecting, writing and reading share one deadline,
/// `timeout` (DNS resolution is not bounded by it).
///
/// Errors: resolution, connect or I/O failure, `TimedOut` past the deadline, `InvalidData` for an
/// answer that is not HTTP or whose head exceeds 64 KiB.
pub fn status(addr: impl ToSocketAddrs, request: &[u8], timeout: Duration) -> io::Result<u16> {
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
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(status) = final_status(&buffer)? {
            return Ok(status);
        }
        stream.set_read_timeout(Some(remaining()?))?;
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Err(invalid("connection closed before an answer")),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"));
            }
            Err(e) => return Err(e),
        };
        buffer.extend_from_slice(&chunk[..n]);
        if buffer.len() > MAX_HEAD_BYTES {
            return Err(invalid("answer head too large"));
        }
    }
}

/// The status of the first final answer in `buffer`; `None` while its head is incomplete.
fn final_status(mut buffer: &[u8]) -> io::Result<Option<u16>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let head_len = match response.parse(buffer) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(invalid(&e.to_string())),
        };
        match response.code {
            Some(code) if (100..200).contains(&code) && code != 101 => buffer = &buffer[head_len..],
            Some(code) => return Ok(Some(code)),
            None => return Err(invalid("no status code")),
        }
    }
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
        assert_eq!(
            final_status(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap(),
            None
        );
        assert_eq!(
            final_status(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(),
            None
        );
        assert!(final_status(b"SMTP ready\r\n\r\n").is_err());
    }
}
