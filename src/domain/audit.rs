//! What the audit trail records: one [`AuditAction`] per security event (contract v2, "Roles,
//! administration and the audit trail"). Written only through the unit of work (`crate::uow`).

/// A security event's kind, stored as [`AuditAction::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// A claim was made (`POST /register`).
    Registered,
    /// A claim became an account.
    Activated,
    /// A session was created (details: its id and `amr`).
    LoginSucceeded,
    /// A failed sign-in step of an existing account: a wrong password, a wrong second-factor or
    /// sign-in code (details say which).
    LoginFailed,
    /// A wrong password given to confirm a change under `/me`.
    WrongPassword,
    /// `POST /logout`.
    Logout,
    /// A spent refresh token presented after the grace period: its session was revoked.
    RefreshTokenReused,
    /// `POST /me/password`.
    PasswordChanged,
    /// A reset code was made and queued for mailing.
    PasswordResetRequested,
    /// `POST /password/reset` succeeded.
    PasswordReset,
    /// A sign-in code was made and queued for mailing.
    SignInCodeRequested,
    /// `POST /me/email` (details: the new address).
    EmailChangeRequested,
    /// `POST /me/email/confirm` (details: old and new address).
    EmailChanged,
    /// The second factor was confirmed (details: other sessions revoked).
    TotpEnabled,
    /// The second factor was turned off.
    TotpDisabled,
    /// A recovery code was spent (details: how many are left).
    RecoveryCodeUsed,
    /// Sessions were revoked by their owner or an administrator.
    SessionsRevoked,
    /// An account was deleted (details: its id; the subject's other events go with it).
    AccountDeleted,
    /// An administrator (or the `admin` subcommand) changed a role.
    RoleChanged,
    /// An administrator disabled an account.
    AccountDisabled,
    /// An administrator enabled an account again.
    AccountEnabled,
    /// The owner was mailed that wrong second-factor codes were tried (at most one an hour).
    SecondFactorWarningMailed,
    /// A passkey was registered (details: its id and name).
    PasskeyAdded,
    /// A passkey was deleted (details: its id and name).
    PasskeyRemoved,
    /// A passkey signed in (details: its id and the session's).
    PasskeyUsed,
    /// A passkey's signature counter did not increase: the key may have been copied, and the
    /// sign-in was refused (details: its id; WebAuthn Level 3 §6.1.1).
    PasskeyCounterRegressed,
    /// An account was made from a provider-verified email (details: the provider).
    CreatedWithProvider,
    /// A provider identity was linked (details: the provider).
    IdentityLinked,
    /// A provider identity was unlinked (details: the provider).
    IdentityUnlinked,
    /// The account was made by `beefirst import`.
    Imported,
}

impl AuditAction {
    /// The name stored in `audit_events.action` and shown by the event lists.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Registered => "registered",
            AuditAction::Activated => "activated",
            AuditAction::LoginSucceeded => "login_succeeded",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::WrongPassword => "wrong_password",
            AuditAction::Logout => "logout",
            AuditAction::RefreshTokenReused => "refresh_token_reused",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::PasswordResetRequested => "password_reset_requested",
            AuditAction::PasswordReset => "password_reset",
            AuditAction::SignInCodeRequested => "sign_in_code_requested",
            AuditAction::EmailChangeRequested => "email_change_requested",
            AuditAction::EmailChanged => "email_changed",
            AuditAction::TotpEnabled => "totp_enabled",
            AuditAction::TotpDisabled => "totp_disabled",
            AuditAction::RecoveryCodeUsed => "recovery_code_used",
            AuditAction::SessionsRevoked => "sessions_revoked",
            AuditAction::AccountDeleted => "account_deleted",
            AuditAction::RoleChanged => "role_changed",
            AuditAction::AccountDisabled => "account_disabled",
            AuditAction::AccountEnabled => "account_enabled",
            AuditAction::SecondFactorWarningMailed => "second_factor_warning_mailed",
            AuditAction::PasskeyAdded => "passkey_added",
            AuditAction::PasskeyRemoved => "passkey_removed",
            AuditAction::PasskeyUsed => "passkey_used",
            AuditAction::PasskeyCounterRegressed => "passkey_counter_regressed",
            AuditAction::CreatedWithProvider => "created_with_provider",
            AuditAction::IdentityLinked => "identity_linked",
            AuditAction::IdentityUnlinked => "identity_unlinked",
            AuditAction::Imported => "imported",
        }
    }
}
