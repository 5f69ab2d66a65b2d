//! Who asked: the client IP and request id that every audit event records. The web layer builds
//! one per request and hands it, with the request, to the handler; flows pass it on to the unit
//! of work explicitly. Outside a request (the background worker, the `admin` subcommand) it is
//! [`Context::system`], or the context stored with a queued request.

/// Where a request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The client IP as the service sees it (see `TRUST_X_FORWARDED_FOR`).
    pub client_ip: Option<String>,
    /// The request's `X-Request-Id`.
    pub request_id: Option<String>,
}

impl Context {
    /// No request: the background worker, the `admin` subcommand.
    pub fn system() -> Context {
        Context::default()
    }
}
