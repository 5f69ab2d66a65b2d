//! The tests' HTTP/1.1 client: one request per connection, the whole response (status, headers,
//! body, de-chunked) read under one deadline. Interim `1xx` answers are skipped; responses are
//! capped at 4 MiB. (The service's own client, `beefirst::client`, reads only the status.)

use std::io;
use std::net::ToSocketAddrs;
use std::time::Duration;

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
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
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
    beefirst::client::exchange(addr, request, timeout, |buffer, eof| {
        if buffer.len() > MAX_RESPONSE_BYTES {
            return Err(invalid("response too large"));
        }
        parse(buffer, eof)
    })
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_owned())
}

/// Status, headers (names lowercased) and the bytes after the head of one answer.
type Head<'a> = (u16, Vec<(String, String)>, &'a [u8]);

/// The first final (non-`1xx`, e.g. after a `100 Continue`) answer's [`Head`] in `buffer`;
/// `None` while its head is incomplete.
fn final_head(mut buffer: &[u8]) -> io::Result<Option<Head<'_>>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let head_len = match response.parse(buffer).map_err(|e| invalid(&e.to_string()))? {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => return Ok(None),
        };
        let status = response.code.unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            buffer = &buffer[head_len..];
            continue;
        }
        let headers = response
            .headers
            .iter()
            .map(|h| {
                let value = String::from_utf8_lossy(h.value).into_owned();
                (h.name.to_ascii_lowercase(), value)
            })
            .collect();
        return Ok(Some((status, headers, &buffer[head_len..])));
    }
}

/// A complete response from `buffer`, `None` if more bytes are needed (`eof`: no more will come).
fn parse(buffer: &[u8], eof: bool) -> io::Result<Option<RawResponse>> {
    let Some((status, headers, rest)) = final_head(buffer)? else {
        return Ok(None);
    };
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim());
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        match dechunk(rest)? {
            Some(body) => body,
            None if eof => return Err(invalid("truncated chunked body")),
            None => return Ok(None),
        }
    } else if let Some(length) = find("content-length") {
        let length: usize = length.parse().map_err(|_| invalid("bad content-length"))?;
        if rest.len() < length {
            return if eof { Err(invalid("truncated body")) } else { Ok(None) };
        }
        rest[..length].to_vec()
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if eof {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(RawResponse { status, headers, body }))
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
        let with_crlf = size
            .checked_add(2)
            .filter(|n| *n <= MAX_RESPONSE_BYTES)
            .ok_or_else(|| invalid("chunk too large"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if data.len() < with_crlf {
            return Ok(None);
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn reads_content_length_and_chunked_bodies() {
        let r =
            parse(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}", false).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (201, b"{}".as_slice()));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let r = parse(chunked, false).unwrap().unwrap();
        assert_eq!(r.body, b"abcde");
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", false).unwrap().is_none());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", true).is_err());
    }

    #[test]
    fn interim_answers_are_skipped() {
        let answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n\
                       HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}";
        let r = parse(answer, false).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (202, b"{}".as_slice()));
        assert!(parse(b"HTTP/1.1 100 Continue\r\n\r\n", false).unwrap().is_none());
    }

    #[test]
    fn absurd_chunk_sizes_are_errors_not_panics() {
        for size in ["ffffffffffffffff", "fffffffffffffffe", "7fffffffffffffff", "1000000"] {
            let answer =
                format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nab");
            assert!(parse(answer.as_bytes(), false).is_err(), "{size}");
        }
    }
}
