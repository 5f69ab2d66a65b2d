//! What other systems are told about an account: the nine `user.*` event types that webhooks
//! carry (contract v3, "Webhooks"), and one event as a flow publishes it through the unit of work.

use serde_json::Value;

/// A webhook event's type, sent as the body's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserEventType {
    /// An account came to exist: a claim activated, or an account made from a provider's identity.
    Created,
    /// The profile changed (display name), or a provider identity was linked or unlinked.
    Updated,
    /// The sign-in address changed (`data.previous_email`).
    EmailChanged,
    /// The password was changed or reset (no secret is sent).
    PasswordChanged,
    /// A second factor or a passkey was added or removed (`data.change`).
    MfaChanged,
    /// An administrator changed the role (`data.role`).
    RoleChanged,
    /// An administrator disabled the account.
    Disabled,
    /// An administrator enabled it again.
    Enabled,
    /// The account was deleted, by its owner or an administrator.
    Deleted,
}

impl UserEventType {
    /// Every type, in the contract's order (`WEBHOOK_EVENTS` defaults to all).
    pub const ALL: [UserEventType; 9] = [
        UserEventType::Created,
        UserEventType::Updated,
        UserEventType::EmailChanged,
        UserEventType::PasswordChanged,
        UserEventType::MfaChanged,
        UserEventType::RoleChanged,
        UserEventType::Disabled,
        UserEventType::Enabled,
        UserEventType::Deleted,
    ];

    /// The name on the wire: `user.created`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            UserEventType::Created => "user.created",
            UserEventType::Updated => "user.updated",
            UserEventType::EmailChanged => "user.email_changed",
            UserEventType::PasswordChanged => "user.password_changed",
            UserEventType::MfaChanged => "user.mfa_changed",
            UserEventType::RoleChanged => "user.role_changed",
            UserEventType::Disabled => "user.disabled",
            UserEventType::Enabled => "user.enabled",
            UserEventType::Deleted => "user.deleted",
        }
    }

    /// The type called `name`, if any.
    pub fn parse(name: &str) -> Option<UserEventType> {
        UserEventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// One event about account `id`, published by a flow through the unit of work and written in
/// its transaction. The webhook body's `data` is `{"id", "email"}` and then `extra`'s fields.
#[derive(Debug, Clone)]
pub struct UserEvent {
    /// What happened.
    pub kind: UserEventType,
    /// The account's id.
    pub id: i64,
    /// Its address at the time (for `user.deleted`, the address it had).
    pub email: String,
    /// More fields of `data` (a JSON object, never a secret), or `None`.
    pub extra: Option<Value>,
}

impl UserEvent {
    /// An event with `data` `{"id", "email"}`.
    pub fn new(kind: UserEventType, id: i64, email: &str) -> UserEvent {
        UserEvent { kind, id, email: email.to_owned(), extra: None }
    }

    /// This event with more fields in `data` (`extra` must be a JSON object).
    pub fn with(mut self, extra: Value) -> UserEvent {
        self.extra = Some(extra);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::UserEventType;

    #[test]
    fn every_type_parses_back_from_its_name() {
        for kind in UserEventType::ALL {
            assert_eq!(UserEventType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(UserEventType::parse("user.exploded"), None);
        assert_eq!(UserEventType::parse("created"), None);
    }
}
