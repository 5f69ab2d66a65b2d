//! The text of every mail. A mail that carries a code starts its text with the code, so the first
//! run of digits in it is the code (contract "Mail").

use crate::domain::Email;

/// One plain-text message to one recipient.
pub struct Message {
    /// Recipient (normalized).
    pub to: Email,
    /// Subject line.
    pub subject: String,
    /// Body. For a verification mail the code is the first run of digits (contract "Mail").
    pub text: String,
}

/// The notice after a password change (contract: mailed after the commit).
pub fn password_changed_message(to: &Email) -> Message {
    Message {
        to: to.clone(),
        subject: "Your beefirst password was changed".into(),
        text: "The password of your beefirst account was just changed, and every other session \
               was signed out. If this was not you, someone knows your password: contact \
               support at once."
            .into(),
    }
}

/// The confirmation after an account was deleted.
pub fn account_deleted_message(to: &Email) -> Message {
    Message {
        to: to.clone(),
        subject: "Your beefirst account was deleted".into(),
        text: "Your beefirst account and all its sessions were deleted. This address can be \
               registered again at any time."
            .into(),
    }
}

/// The notice after an administrator deleted an account.
pub fn account_deleted_by_admin_message(to: &Email) -> Message {
    Message {
        to: to.clone(),
        subject: "Your beefirst account was deleted".into(),
        text: "An administrator deleted your beefirst account and all its sessions. This address \
               can be registered again at any time."
            .into(),
    }
}

/// The verification mail for a fresh code. The code is the first digits in the text; a hardened
/// code comes with the reason it is longer.
pub fn verification_message(to: &Email, code: &str, ttl_seconds: u32, hardened: bool) -> Message {
    let why_long = if hardened {
        " It is longer than usual because wrong codes were entered for this address many times \
         today; if that was not you, someone may be trying to claim it."
    } else {
        ""
    };
    Message {
        to: to.clone(),
        subject: "Your beefirst verification code".into(),
        text: format!(
            "Your beefirst code is {code}. It expires in {ttl_seconds} seconds.{why_long} \
             If you did not register, ignore this mail."
        ),
    }
}

/// The password-reset code (`POST /password/forgot`), queued in the outbox.
pub fn reset_code_message(to: &Email, code: &str, ttl_seconds: u32) -> Message {
    Message {
        to: to.clone(),
        subject: "Your beefirst password reset code".into(),
        text: format!(
            "Your beefirst password reset code is {code}. It expires in {}. If you did not ask \
             to reset your password, ignore this mail: your password stays as it is.",
            duration(ttl_seconds)
        ),
    }
}

/// The notice after a password reset: every session was signed out.
pub fn password_reset_message(to: &Email) -> Message {
    Message {
        to: to.clone(),
        subject: "Your beefirst password was reset".into(),
        text: "The password of your beefirst account was just reset with a code mailed to this \
               address, and every session was signed out. If this was not you, someone can read \
               your mail: secure your mailbox, then reset your password again."
            .into(),
    }
}

/// The code that proves the new address of a change of email (`POST /me/email`).
pub fn email_change_code_message(to: &Email, code: &str, ttl_seconds: u32) -> Message {
    Message {
        to: to.clone(),
        subject: "Confirm your new beefirst email".into(),
        text: format!(
            "Your beefirst code is {code}. Enter it to make this address the email of your \
             account. It expires in {}. If you did not ask for this, ignore this mail.",
            duration(ttl_seconds)
        ),
    }
}

/// The notice to the current address that a change to `new` was asked for.
pub fn email_change_requested_message(to: &Email, new: &Email) -> Message {
    Message {
        to: to.clone(),
        subject: "A change of your beefirst email was requested".into(),
        text: format!(
            "Someone signed in to your beefirst account asked to change its email to {}. It \
             takes effect only once a code mailed there is entered. If this was not you, change \
             your password now: that cancels the change and signs out every other session.",
            new.as_str()
        ),
    }
}

/// The notice to the old address after the change took effect.
pub fn email_changed_message(to: &Email, new: &str) -> Message {
    Message {
        to: to.clone(),
        subject: "Your beefirst email was changed".into(),
        text: format!(
            "The email of your beefirst account was changed to {new}. This address is no longer \
             linked to it. If this was not you, contact support at once."
        ),
    }
}

/// The notice that a second factor was turned on.
pub fn totp_enabled_message(to: &Email) -> Message {
    Message {
        to: to.clone(),
        subject: "Two-factor authentication is on".into(),
        text: "Signing in to your beefirst account now takes a code from your authenticator app \
               after the password, and every other session was signed out. Keep your recovery \
               codes somewhere safe: each works once if you lose the phone. If this was not you, \
               reset your password at once."
            .into(),
    }
}

/// The notice that a second factor was turned off.
pub fn totp_disabled_message(to: &Email) -> Message {
    Message {
        to: to.clone(),
        subject: "Two-factor authentication is off".into(),
        text: "Two-factor authentication was turned off for your beefirst account: the password \
               alone signs in now. If this was not you, reset your password at once."
            .into(),
    }
}

/// The warning after wrong second-factor codes (contract v3: 3 within an hour, across every
/// mfa_token of the account, expired ones included; at most one warning an hour). Whoever typed
/// them had passed the first step: the password or a sign-in code mailed to this address.
pub fn mfa_failures_message(to: &Email) -> Message {
    Message {
        to: to.clone(),
        subject: "Someone knows your beefirst password".into(),
        text: "Someone got past the first step of signing in to your beefirst account (the \
               password, or a sign-in code mailed to this address), then entered wrong two-factor \
               codes several times within an hour. If this was not you, change your password now \
               and check that nobody else reads your mail: your second factor stopped them, but \
               it should not be the only thing left."
            .into(),
    }
}

/// The sign-in code (`POST /login/code`), queued in the outbox. The code is the first digits.
pub fn sign_in_code_message(to: &Email, code: &str, ttl_seconds: u32) -> Message {
    Message {
        to: to.clone(),
        subject: "Your beefirst sign-in code".into(),
        text: format!(
            "Your beefirst sign-in code is {code}. It expires in {}. If you did not ask to sign \
             in, ignore this mail: nobody can sign in with it unless they read this mailbox.",
            duration(ttl_seconds)
        ),
    }
}

/// The notice that a recovery code was used to sign in.
pub fn recovery_code_used_message(to: &Email, used_to: &str, left: i64) -> Message {
    Message {
        to: to.clone(),
        subject: "A recovery code was used".into(),
        text: format!(
            "Someone {used_to} with a recovery code; {left} of them are left. If this was not you, reset your password and turn two-factor \
             authentication off and on again for a new set of codes."
        ),
    }
}

/// `900` → "15 minutes", `90` → "90 seconds".
fn duration(seconds: u32) -> String {
    match seconds {
        60 => "1 minute".into(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

/// The notice that a passkey was added.
pub fn passkey_added_message(to: &Email, name: &str) -> Message {
    Message {
        to: to.clone(),
        subject: "A passkey was added to your account".into(),
        text: format!(
            "A passkey named \"{name}\" can now sign in to your beefirst account, without a \
             password. If this was not you, remove it from your account page at once and change \
             your password."
        ),
    }
}

/// The notice that a passkey was removed.
pub fn passkey_removed_message(to: &Email, name: &str) -> Message {
    Message {
        to: to.clone(),
        subject: "A passkey was removed from your account".into(),
        text: format!(
            "The passkey named \"{name}\" can no longer sign in to your beefirst account. If \
             this was not you, change your password at once."
        ),
    }
}

/// The notice that a provider identity was linked.
pub fn identity_linked_message(to: &Email, provider: &str) -> Message {
    Message {
        to: to.clone(),
        subject: format!("Your {provider} sign-in was linked to your account"),
        text: format!(
            "Signing in with {provider} now opens your beefirst account. If this was not you, \
             unlink it from your account page at once and change your password."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_first_and_durations_read_well() {
        let to = Email::parse("ann@example.com").unwrap();
        let text = reset_code_message(&to, "01234567", 900).text;
        let first: String = text
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(|c| c.is_ascii_digit())
            .collect();
        assert_eq!(first, "01234567");
        assert!(text.contains("15 minutes"), "{text}");
        assert!(email_change_code_message(&to, "7", 90).text.contains("90 seconds"));
        assert!(
            sign_in_code_message(&to, "76543210", 900)
                .text
                .starts_with("Your beefirst sign-in code is 76543210.")
        );
        assert_eq!(duration(60), "1 minute");
    }
}
