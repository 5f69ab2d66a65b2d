//! The HTTP-neutral shape of a request and of its answer: what a feature's handlers read and
//! return. The web layer (`src/web/`) builds an [`ApiRequest`] from the tiny_http request (the
//! body already read within its limits) and writes the [`Reply`] back; nothing here knows
//! tiny_http, so the features never import the web layer.

pub mod auth;
mod body;
mod query;

use crate::context::Context;
use serde_json::Value;

/// One request as a handler sees it.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    /// The path without the query string.
    pub path: String,
    /// The query string (after `?`), possibly empty.
    pub query: String,
    /// The body as sent (at most 8 KiB; empty for methods without one).
    pub body: Vec<u8>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The `Accept` header.
    pub accept: Option<String>,
    /// Who asked: client IP and request id, recorded with every audit event.
    pub context: Context,
}

impl ApiRequest {
    /// The client's `User-Agent` as kept with a session: printable ASCII only, at most 256
    /// characters; `None` otherwise.
    pub fn device(&self) -> Option<String> {
        let agent = self.user_agent.as_deref()?.trim();
        let printable = !agent.is_empty() && agent.bytes().all(|b| (b' '..=b'~').contains(&b));
        printable.then(|| agent.chars().take(256).collect())
    }
}

/// An answer before it is written: status, body and extra headers.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Body,
    /// Extra headers; values are constants or validated, never raw request text.
    pub headers: Vec<(&'static str, String)>,
}

/// An answer's body.
#[derive(Debug)]
pub enum Body {
    /// Serialized on write, with `Content-Type: application/json`.
    Json(Value),
    /// Static JSON text (the OpenAPI document).
    Static(&'static str),
    /// No body (204).
    Empty,
    /// Prometheus text exposition (`GET /metrics`).
    Prometheus(String),
    /// A file of the web client, with its content type.
    Asset {
        /// `Content-Type`.
        content_type: &'static str,
        /// The file.
        bytes: &'static [u8],
    },
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, value: Value) -> Reply {
        Reply { status, body: Body::Json(value), headers: Vec::new() }
    }

    /// A JSON answer from a typed one. Its keys come out in alphabetical order, like every JSON
    /// answer of the service (objects are sorted maps).
    pub fn of(status: u16, value: &impl serde::Serialize) -> Reply {
        Reply::json(status, serde_json::to_value(value).unwrap_or(Value::Null))
    }

    /// 204 No Content: no body, no `Content-Type`.
    pub fn no_content() -> Reply {
        Reply { status: 204, body: Body::Empty, headers: Vec::new() }
    }

    /// The answer with one more header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }

    /// The answer with more headers.
    pub fn with_headers(mut self, headers: Vec<(&'static str, String)>) -> Reply {
        self.headers.extend(headers);
        self
    }
}
