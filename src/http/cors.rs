//! Cross-origin requests from browsers (CORS, the Fetch standard): for an origin listed in
//! `CORS_ALLOWED_ORIGINS`, answers carry `Access-Control-Allow-Origin` with that origin and
//! `Vary: Origin`; an `OPTIONS` preflight of a known path answers 204 with the path's methods,
//! the headers a client may send (`Authorization`, `Content-Type`, `X-Request-Id`) and how long a
//! browser may cache that. No cookies and no credentials mode: tokens travel in `Authorization`.
//! An origin not listed gets no CORS headers, so the browser withholds the answer from its page.

use super::request::header;
use tiny_http::Request;

/// How long a browser may cache a preflight answer, seconds.
pub const MAX_AGE_SECONDS: u32 = 600;

/// Headers a page may read from an answer besides the CORS-safelisted ones.
const EXPOSED: &str = "Retry-After, X-Request-Id, WWW-Authenticate";

/// The CORS headers for `request`'s answer; `preflight_methods` is `Some(allow)` for an `OPTIONS`
/// preflight of a known path. Empty when CORS is off or the origin is not listed.
pub fn headers(
    request: &Request,
    allowed: &[String],
    preflight_methods: Option<&str>,
) -> Vec<(&'static str, String)> {
    if allowed.is_empty() {
        return Vec::new();
    }
    let mut out = vec![("Vary", "Origin".to_owned())];
    let Some(origin) = header(request, "Origin").filter(|o| allowed.iter().any(|a| a == o)) else {
        return out;
    };
    out.push(("Access-Control-Allow-Origin", origin.to_owned()));
    match preflight_methods {
        Some(methods) => {
            out.push(("Access-Control-Allow-Methods", methods.to_owned()));
            out.push((
                "Access-Control-Allow-Headers",
                "Authorization, Content-Type, X-Request-Id".into(),
            ));
            out.push(("Access-Control-Max-Age", MAX_AGE_SECONDS.to_string()));
        }
        None => out.push(("Access-Control-Expose-Headers", EXPOSED.into())),
    }
    out
}

/// Parses `CORS_ALLOWED_ORIGINS`: comma-separated exact origins, `scheme://host[:port]` with
/// scheme `http` or `https` and nothing after the authority. `None` for anything else.
pub fn parse_origins(value: &str) -> Option<Vec<String>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            let rest =
                origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"))?;
            let shaped = !rest.is_empty()
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
            // Browsers leave the scheme's default port out of an Origin: so does the list.
            let origin = origin.to_ascii_lowercase();
            let origin = match origin.strip_suffix(":443").filter(|o| o.starts_with("https://")) {
                Some(bare) => bare.to_owned(),
                None => match origin.strip_suffix(":80").filter(|o| o.starts_with("http://")) {
                    Some(bare) => bare.to_owned(),
                    None => origin,
                },
            };
            shaped.then_some(origin)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_origins;

    #[test]
    fn origins_are_exact_schemes_and_authorities() {
        assert_eq!(
            parse_origins("https://app.example.com, http://localhost:5173").unwrap(),
            ["https://app.example.com", "http://localhost:5173"]
        );
        assert_eq!(parse_origins("").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_origins("https://A.example:443,http://b.example:80").unwrap(),
            ["https://a.example", "http://b.example"]
        );
        assert_eq!(parse_origins("https://a.example:8443").unwrap(), ["https://a.example:8443"]);
        for bad in [
            "*",
            "app.example.com",
            "https://app.example.com/",
            "https://a.com/path",
            "ftp://a.com",
            "https://",
        ] {
            assert!(parse_origins(bad).is_none(), "{bad}");
        }
    }
}
