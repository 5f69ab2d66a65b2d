//! `GET /verify` (and `HEAD`): its answer and handler.

use super::flow;
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::domain::Role;
use crate::error::Error;
use crate::features::sessions::tokens::bearer;

/// `GET /verify[?role=admin]` (Bearer) → 204 with `X-User-Id`, `X-User-Email`, `X-User-Role`,
/// `X-Session-Id`; 401 `invalid_token`; 403 `forbidden` for another role; 400 for an unknown
/// role.
pub fn verify(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let role = match request.query_param("role")? {
        None => None,
        Some(name) => Some(Role::parse(&name).ok_or_else(|| {
            Error::InvalidRequest("Query parameter `role` must be `user` or `admin`.".into())
        })?),
    };
    let verified = flow::verify(state, &bearer(request, state)?, role)?;
    Ok(Reply::no_content().with_headers(vec![
        ("X-User-Id", verified.session.account_id.to_string()),
        ("X-User-Email", verified.profile.email.as_str().to_owned()),
        ("X-User-Role", verified.profile.role.as_str().to_owned()),
        ("X-Session-Id", verified.session.id.to_string()),
        ("Cache-Control", "no-store".to_owned()),
    ]))
}
