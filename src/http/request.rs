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

/// The numeric id that ends the request's path (`/me/sessions/42` → 42). Errors: 404 for
/// anything else (the route matched only the shape of the path).
pub fn path_id(request: &Request) -> Result<i64, Error> {
    let path = request.url().split('?').next().unwrap_or("");
    let last = path.rsplit('/').next().unwrap_or("");
    let digits = !last.is_empty() && last.len() <= 18 && last.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| last.parse().ok()).flatten().ok_or(Error::NotFound)
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
