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
