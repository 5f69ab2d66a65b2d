//! The web client (`GET /`, `/app.js`, `/app.css`, `/icon.svg`): files built into the binary, served
//! under a strict Content-Security-Policy: scripts and styles only from this origin, no inline
//! script or style, no frames, nothing else fetched.

use crate::api::{ApiRequest, Body, Reply};
use crate::app::AppState;
use crate::error::Error;

const INDEX: &str = include_str!("client/index.html");
const SCRIPT: &str = include_str!("client/app.js");
const STYLE: &str = include_str!("client/app.css");
const ICON: &str = include_str!("client/icon.svg");

/// The policy every file of the client is served with.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; \
    frame-ancestors 'none'";

fn asset(content_type: &'static str, text: &'static str) -> Reply {
    Reply {
        status: 200,
        body: Body::Asset { content_type, bytes: text.as_bytes() },
        headers: vec![
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY.into()),
            ("X-Content-Type-Options", "nosniff".into()),
            ("Referrer-Policy", "no-referrer".into()),
            ("Cache-Control", "no-cache".into()),
        ],
    }
}

/// `GET /` → the web client for a browser (an `Accept` that names `text/html`), else the JSON
/// pointer to the API's description (curl, scripts).
pub fn index(request: &ApiRequest, _: &AppState) -> Result<Reply, Error> {
    let reply = if request.accept.as_deref().is_some_and(|accept| accept.contains("text/html")) {
        asset("text/html; charset=utf-8", INDEX)
    } else {
        super::pages::start_here()
    };
    Ok(reply.with_header("Vary", "Accept".into()))
}

/// `GET /app.js` → the client's script (an ES module).
pub fn script(_: &ApiRequest, _: &AppState) -> Result<Reply, Error> {
    Ok(asset("text/javascript; charset=utf-8", SCRIPT))
}

/// `GET /icon.svg` → the client's icon.
pub fn icon(_: &ApiRequest, _: &AppState) -> Result<Reply, Error> {
    Ok(asset("image/svg+xml", ICON))
}

/// `GET /app.css` → the client's style sheet.
pub fn style(_: &ApiRequest, _: &AppState) -> Result<Reply, Error> {
    Ok(asset("text/css; charset=utf-8", STYLE))
}
