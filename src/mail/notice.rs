//! Every mail the service sends, as one typed value: what it is, to whom, and what it carries. A
//! feature records a [`Notice`]; [`Notice::message`] renders its text (`messages.rs`). Codes the
//! contract requires delivered before the answer (registration) are sent at once through the
//! mailer; every other notice is queued by the unit of work and delivered by the outbox.

use super::messages::{self as text, Message};
use crate::domain::Email;

/// One mail to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The recipient.
    pub to: Email,
    /// What it says.
    pub kind: NoticeKind,
}

/// What a mail says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeKind {
    /// The verification code of a claim (registration, resend); `hardened` says why it is long.
    VerificationCode { code: String, ttl_seconds: u32, hardened: bool },
    /// A password-reset code.
    ResetCode { code: String, ttl_seconds: u32 },
    /// A sign-in code.
    SignInCode { code: String, ttl_seconds: u32 },
    /// The code that proves a new address.
    EmailChangeCode { code: String, ttl_seconds: u32 },
    /// The password was changed; other sessions were signed out.
    PasswordChanged,
    /// The password was reset with a mailed code; every session was signed out.
    PasswordReset,
    /// The owner deleted the account.
    AccountDeleted,
    /// An administrator deleted the account.
    AccountDeletedByAdmin,
    /// A change of address to `new` was asked for (to the current address).
    EmailChangeRequested { new: Email },
    /// The address changed to `new` (to the old address).
    EmailChanged { new: Email },
    /// The second factor was turned on.
    TotpEnabled,
    /// The second factor was turned off.
    TotpDisabled,
    /// Wrong second-factor codes were tried.
    SecondFactorWarning,
    /// A recovery code was used to do `used_to`; `left` remain.
    RecoveryCodeUsed { used_to: &'static str, left: i64 },
    /// A passkey called `name` was added.
    PasskeyAdded { name: String },
    /// The passkey called `name` was removed.
    PasskeyRemoved { name: String },
    /// An identity of `provider` was linked: it signs in to the account now.
    IdentityLinked { provider: String },
}

/// When a notice is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued, then tried once right after the commit and before the answer (contract:
    /// password-change and deletion notices are mailed before the response); retried by the
    /// outbox if that try fails.
    BeforeAnswer,
    /// Queued for the background worker.
    Queued,
}

impl Notice {
    /// A notice of `kind` to `to`.
    pub fn new(to: &Email, kind: NoticeKind) -> Notice {
        Notice { to: to.clone(), kind }
    }

    /// Its name in the outbox and in logs.
    pub fn name(&self) -> &'static str {
        match &self.kind {
            NoticeKind::VerificationCode { .. } => "verification",
            NoticeKind::ResetCode { .. } => "password_reset_code",
            NoticeKind::SignInCode { .. } => "sign_in_code",
            NoticeKind::EmailChangeCode { .. } => "email_change_code",
            NoticeKind::PasswordChanged => "password_changed",
            NoticeKind::PasswordReset => "password_reset",
            NoticeKind::AccountDeleted | NoticeKind::AccountDeletedByAdmin => "account_deleted",
            NoticeKind::EmailChangeRequested { .. } => "email_change_requested",
            NoticeKind::EmailChanged { .. } => "email_changed",
            NoticeKind::TotpEnabled => "totp_enabled",
            NoticeKind::TotpDisabled => "totp_disabled",
            NoticeKind::SecondFactorWarning => "mfa_failures",
            NoticeKind::RecoveryCodeUsed { .. } => "recovery_code_used",
            NoticeKind::PasskeyAdded { .. } => "passkey_added",
            NoticeKind::PasskeyRemoved { .. } => "passkey_removed",
            NoticeKind::IdentityLinked { .. } => "identity_linked",
        }
    }

    /// For a mail that carries a code: seconds until it is useless (a queued one is never sent
    /// after that).
    pub fn expires_in(&self) -> Option<u32> {
        match &self.kind {
            NoticeKind::VerificationCode { ttl_seconds, .. }
            | NoticeKind::ResetCode { ttl_seconds, .. }
            | NoticeKind::SignInCode { ttl_seconds, .. }
            | NoticeKind::EmailChangeCode { ttl_seconds, .. } => Some(*ttl_seconds),
            _ => None,
        }
    }

    /// See [`Delivery`].
    pub fn delivery(&self) -> Delivery {
        match self.kind {
            NoticeKind::PasswordChanged | NoticeKind::AccountDeleted => Delivery::BeforeAnswer,
            _ => Delivery::Queued,
        }
    }

    /// The mail: subject and text.
    pub fn message(&self) -> Message {
        let to = &self.to;
        match &self.kind {
            NoticeKind::VerificationCode { code, ttl_seconds, hardened } => {
                text::verification_message(to, code, *ttl_seconds, *hardened)
            }
            NoticeKind::ResetCode { code, ttl_seconds } => {
                text::reset_code_message(to, code, *ttl_seconds)
            }
            NoticeKind::SignInCode { code, ttl_seconds } => {
                text::sign_in_code_message(to, code, *ttl_seconds)
            }
            NoticeKind::EmailChangeCode { code, ttl_seconds } => {
                text::email_change_code_message(to, code, *ttl_seconds)
            }
            NoticeKind::PasswordChanged => text::password_changed_message(to),
            NoticeKind::PasswordReset => text::password_reset_message(to),
            NoticeKind::AccountDeleted => text::account_deleted_message(to),
            NoticeKind::AccountDeletedByAdmin => text::account_deleted_by_admin_message(to),
            NoticeKind::EmailChangeRequested { new } => {
                text::email_change_requested_message(to, new)
            }
            NoticeKind::EmailChanged { new } => text::email_changed_message(to, new.as_str()),
            NoticeKind::TotpEnabled => text::totp_enabled_message(to),
            NoticeKind::TotpDisabled => text::totp_disabled_message(to),
            NoticeKind::SecondFactorWarning => text::mfa_failures_message(to),
            NoticeKind::RecoveryCodeUsed { used_to, left } => {
                text::recovery_code_used_message(to, used_to, *left)
            }
            NoticeKind::PasskeyAdded { name } => text::passkey_added_message(to, name),
            NoticeKind::PasskeyRemoved { name } => text::passkey_removed_message(to, name),
            NoticeKind::IdentityLinked { provider } => text::identity_linked_message(to, provider),
        }
    }
}
