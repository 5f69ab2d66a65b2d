//! Reading requests: headers, the body (bounded) and JSON fields.

use crate::error::Error;
use serde_json::{Map, Value};
use std::io::Read;
use tiny_http::Request;

/// Largest accepted request body (contract: bodies over 8 KiB get 413).
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// The value of the first header called `name` (case-insensitive).
pub fn header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// Reads the body, refusing before reading anything when the declared length is over
/// [`MAX_BODY_BYTES`] (413) or a `Transfer-Encoding` is used (411; tiny_http treats every
/// transfer coding as chunked and would mis-frame the body).
pub fn read_body(request: &mut Request) -> Result<Vec<u8>, Error> {
    if header(request, "Transfer-Encoding").is_some() {
        return Err(Error::LengthRequired);
    }
    if request.body_length().is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(Error::PayloadTooLarge);
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|_| Error::InvalidJson)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge);
    }
    Ok(body)
}

/// The numeric id in the request's path (`/me/sessions/42` → 42, `/admin/users/7/disable` → 7;
/// routes have at most one). Errors: 404 for anything else (the route matched only the shape of
/// the path), including ids beyond 18 digits.
pub fn path_id(request: &Request) -> Result<i64, Error> {
    let path = request.url().split('?').next().unwrap_or("");
    let segment = path.split('/').find(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    segment.filter(|s| s.len() <= 18).and_then(|s| s.parse().ok()).ok_or(Error::NotFound)
}

/// The value of query parameter `name`, percent-decoded (`+` stays `+`: an email's plus sign
/// need not be escaped); the first if repeated; `None` if absent or empty. Errors: 400
/// `invalid_request` if it does not decode to UTF-8.
pub fn query_param(request: &Request, name: &str) -> Result<Option<String>, Error> {
    let query = request.url().split_once('?').map_or("", |(_, q)| q);
    let Some(raw) = query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    }) else {
        return Ok(None);
    };
    let decoded =
        percent_decode(raw).filter(|v| !v.chars().any(char::is_control)).ok_or_else(|| {
            Error::InvalidRequest(format!(
                "Query parameter `{name}` must be percent-encoded UTF-8 without control characters."
            ))
        })?;
    Ok(Some(decoded).filter(|v| !v.is_empty()))
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Query parameter `name` as a whole number in `range`, or `default` when absent. Errors: 400
/// `invalid_request` naming the parameter and the range.
pub fn number_param(
    request: &Request,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
    default: Option<i64>,
) -> Result<Option<i64>, Error> {
    match query_param(request, name)? {
        None => Ok(default),
        Some(value) => {
            value.parse().ok().filter(|n| range.contains(n)).map(Some).ok_or_else(|| {
                Error::InvalidRequest(format!(
                    "Query parameter `{name}` must be a whole number from {} to {}.",
                    range.start(),
                    range.end()
                ))
            })
        }
    }
}

/// Parses `body` as a JSON object (whatever the Content-Type); anything else is 400 `invalid_json`.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, Error> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::InvalidJson),
    }
}

/// A required string field; missing or another JSON type is 400 `invalid_request` naming it.
pub fn string_field(object: &Map<String, Value>, name: &str) -> Result<String, Error> {
    match object.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Error::InvalidRequest(format!("Field `{name}` must be a string."))),
        None => Err(Error::InvalidRequest(format!("Field `{name}` is required."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_plus_and_refuses_broken_escapes() {
        assert_eq!(percent_decode("a%40b+c%C3%A9").as_deref(), Some("a@b+cé"));
        for bad in ["%", "%4", "%zz", "%ff"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_json_objects_are_bodies() {
        for bad in [&b""[..], b"null", b"[]", b"\"x\"", b"{", b"{\"a\":1}}", b"\xff"] {
            assert_eq!(json_object(bad), Err(Error::InvalidJson), "{bad:?}");
        }
        assert!(json_object(b" {\"a\": 1} ").is_ok());
    }

    #[test]
    fn fields_must_be_present_strings() {
        let object = json_object(br#"{"email": 5, "password": "x"}"#).unwrap();
        assert_eq!(string_field(&object, "password").unwrap(), "x");
        let Err(Error::InvalidRequest(wrong_type)) = string_field(&object, "email") else {
            panic!()
        };
        assert!(wrong_type.contains("email"));
        let Err(Error::InvalidRequest(missing)) = string_field(&object, "code") else { panic!() };
        assert!(missing.contains("code"));
    }
}
