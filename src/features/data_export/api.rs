//! `GET /me/export`: its answer and handler.

use super::flow;
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::error::Error;
use crate::features::sessions::tokens::bearer;
use serde_json::json;

/// `GET /me/export` (Bearer) → 200 the caller's data as one JSON document, to save
/// (`Content-Disposition: attachment`).
pub fn export(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let data = flow::export(state, &bearer(request, state)?)?;
    let p = &data.profile;
    let document = json!({
        "profile": {
            "email": p.email.as_str(), "display_name": p.display_name, "role": p.role.as_str(),
            "created_at": p.created_at, "activated_at": p.activated_at,
            "totp_enabled": p.totp_enabled, "password_set": p.password_set,
        },
        "sessions": data.sessions.iter().map(|s| json!({
            "id": s.id, "created_at": s.created_at, "last_used_at": s.last_used_at,
            "expires_at": s.expires_at, "user_agent": s.user_agent,
        })).collect::<Vec<_>>(),
        "passkeys": data.passkeys.iter().map(|k| json!({
            "id": k.id, "name": k.name, "created_at": k.created_at, "last_used_at": k.last_used_at,
        })).collect::<Vec<_>>(),
        "identities": data.identities.iter().map(|i| json!({
            "id": i.id, "provider": i.provider, "email": i.email, "created_at": i.created_at,
        })).collect::<Vec<_>>(),
        "events": data.events.iter().map(|e| json!({
            "id": e.id.to_string(), "at": e.at, "action": e.action,
            "actor": e.actor_id.map(|id| id.to_string()), "client_ip": e.client_ip,
            "request_id": e.request_id, "details": e.details,
        })).collect::<Vec<_>>(),
    });
    Ok(Reply::json(200, document).with_headers(vec![
        ("Content-Disposition", "attachment; filename=\"beefirst-export.json\"".to_owned()),
        ("Cache-Control", "no-store".to_owned()),
    ]))
}
