//! A minimal blocking HTTP/1.1 client over `std::net`, with `httparse` reading the response.
//!
//! Used by the HTTP mailer and by the integration tests. One request per connection; the whole
//! exchange (connect, write, read) shares one deadline. Responses are capped at 4 MiB.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// A parsed response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Header names (lowercased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// Body, de-chunked if it was chunked.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request` (complete bytes, ideally with `Connection: close`) and reads one response.
///
/// Errors: resolution, connect, I/O, timeout (`TimedOut`) or an unparsable response
/// (`InvalidData`). DNS resolution itself is not bounded by `timeout`.
pub fn exchange(
    addr: impl ToSocketAddrs,
    request: &[u8],
    timeout: Duration,
) -> io::Result<RawResponse> {
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
        if let Some(response) = parse(&buffer, false)? {
            return Ok(response);
        }
        stream.set_read_timeout(Some(remaining()?))?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"));
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            return parse(&buffer, true)?.ok_or_else(|| invalid("connection closed mid-response"));
        }
        buffer.extend_from_slice(&chunk[..n]);
        if buffer.len() > MAX_RESPONSE_BYTES {
            return Err(invalid("response too large"));
        }
    }
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_owned())
}

/// A complete response from `buffer`, `None` if more bytes are needed (`eof`: no more will come).
fn parse(buffer: &[u8], eof: bool) -> io::Result<Option<RawResponse>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response
        .parse(buffer)
        .map_err(|e| invalid(&e.to_string()))?
    {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let status = response.code.unwrap_or(0);
    let headers: Vec<(String, String)> = response
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let rest = &buffer[head_len..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
    };
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        match dechunk(rest)? {
            Some(body) => body,
            None if eof => return Err(invalid("truncated chunked body")),
            None => return Ok(None),
        }
    } else if let Some(length) = find("content-length") {
        let length: usize = length.parse().map_err(|_| invalid("bad content-length"))?;
        if rest.len() < length {
            return if eof {
                Err(invalid("truncated body"))
            } else {
                Ok(None)
            };
        }
        rest[..length].to_vec()
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if eof {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(RawResponse {
        status,
        headers,
        body,
    }))
}

/// Decodes a complete chunked body; `None` if the final chunk has not arrived yet.
fn dechunk(mut data: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text =
            std::str::from_utf8(&data[..line_end]).map_err(|_| invalid("bad chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_content_length_and_chunked_bodies() {
        let r = parse(
            b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (201, b"{}".as_slice()));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let r = parse(chunked, false).unwrap().unwrap();
        assert_eq!(r.body, b"abcde");
        assert!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", false)
                .unwrap()
                .is_none()
        );
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", true).is_err());
    }
}
