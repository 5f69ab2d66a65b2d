//! Reading tiny_http requests: headers, the body within its limits, and the neutral
//! [`ApiRequest`] the handlers get.

use super::response::{Failure, Refusal};
use crate::api::ApiRequest;
use crate::context::Context;
use crate::error::Error;
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
/// Every route but a GET reads its body here, before its handler runs, so these framing rules
/// hold for every endpoint alike (one that ignores its body included). A body that cannot be
/// read to its end is 400 `invalid_json`, never taken for an empty one.
pub fn read_body(request: &mut Request) -> Result<Vec<u8>, Failure> {
    if header(request, "Transfer-Encoding").is_some() {
        return Err(Failure::Refused(Refusal::LengthRequired));
    }
    if request.body_length().is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(Failure::Refused(Refusal::PayloadTooLarge));
    }
    let mut body = Vec::new();
    let mut reader = request.as_reader().take(MAX_BODY_BYTES as u64 + 1);
    reader.read_to_end(&mut body).map_err(|_| Failure::Failed(Error::InvalidJson))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(Failure::Refused(Refusal::PayloadTooLarge));
    }
    Ok(body)
}

/// The request's neutral form for a handler: path, query, body and the headers the features
/// read, with who asked.
pub fn api_request(request: &Request, body: Vec<u8>, context: Context) -> ApiRequest {
    let (path, query) = request.url().split_once('?').unwrap_or((request.url(), ""));
    let owned = |name: &str| header(request, name).map(str::to_owned);
    ApiRequest {
        path: path.to_owned(),
        query: query.to_owned(),
        body,
        authorization: owned("Authorization"),
        user_agent: owned("User-Agent"),
        accept: owned("Accept"),
        context,
    }
}
