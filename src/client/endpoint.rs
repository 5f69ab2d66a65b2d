//! An outbound `http://` endpoint (`MAIL_API_URL`), parsed once at start-up.

use std::io;
use std::time::Duration;

/// A plain-HTTP endpoint `http://host[:port]/path`. TLS is out of scope: the mail API is expected
/// on a private network (docker-compose) or behind a local relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpEndpoint {
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// TCP port; 80 when the URL has none.
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl HttpEndpoint {
    /// Parses `http://host[:port][/path]`.
    ///
    /// Errors: a sentence saying what is wrong (other scheme, empty host, bad port, user info).
    pub fn parse(url: &str) -> Result<HttpEndpoint, String> {
        let rest = url.strip_prefix("http://").ok_or("only http:// URLs are supported")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err("user info in the URL is not supported".into());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') && !port.contains(']') => {
                (host, port.parse().map_err(|_| format!("bad port {port:?}"))?)
            }
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err("empty host or invalid characters".into());
        }
        Ok(HttpEndpoint { host: host.to_owned(), port, path: path.to_owned() })
    }

    /// `POST`s a JSON body with `Connection: close` and returns the final status code (the body of
    /// the answer is not read); the whole exchange is bounded by `timeout`.
    pub fn post_json(&self, body: &str, timeout: Duration) -> io::Result<u16> {
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.path,
            self.host,
            self.port,
            body.len()
        );
        super::status((self.host.as_str(), self.port), request.as_bytes(), timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_path() {
        let e = HttpEndpoint::parse("http://mailpit:8025/api/v1/send").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.path.as_str()), ("mailpit", 8025, "/api/v1/send"));
        let e = HttpEndpoint::parse("http://127.0.0.1").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.path.as_str()), ("127.0.0.1", 80, "/"));
        let e = HttpEndpoint::parse("http://[::1]:9000/x").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9000));
    }

    #[test]
    fn rejects_what_it_cannot_speak() {
        for bad in [
            "https://a/b",
            "ftp://a",
            "http://",
            "http://:80/",
            "http://a:x/",
            "http://u@a/",
            "http://a/b c",
        ] {
            assert!(HttpEndpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
