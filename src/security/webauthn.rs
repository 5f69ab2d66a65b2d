//! Passkey ceremonies (WebAuthn Level 3) through `webauthn-rs`: the options a browser passes to
//! `navigator.credentials.create()` / `.get()`, and the verification of what the authenticator
//! answers: challenge, origin (`WEBAUTHN_ORIGINS`), rpIdHash (`WEBAUTHN_RP_ID`), the user-present
//! and user-verified flags, the signature, and the signature counter. Nothing here touches the
//! database: a ceremony's state goes out as JSON text for the caller to keep, single-use, in
//! PostgreSQL (so every instance can finish a ceremony another one started).
//!
//! Algorithms: ES256, ES384 and RS256 (what webauthn-rs verifies; EdDSA is not offered, as
//! webauthn-rs does not verify it yet, and every authenticator that offers EdDSA also offers
//! ES256). Attestation: `none` (we trust no vendor list; a passkey is a key pair, not a device).

use crate::config::PasskeySettings;
use crate::error::Error;
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

/// This service as a WebAuthn relying party. Built once at start.
pub struct RelyingParty {
    webauthn: Webauthn,
}

/// A ceremony started: the `publicKey` member of the options for the browser, and the state to
/// keep until the response comes back (JSON text).
pub struct Started {
    /// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`.
    pub public_key: Value,
    /// The ceremony's state (challenge, user handle, policy), kept server-side.
    pub state: String,
}

/// A passkey registration that verified.
pub struct NewPasskey {
    /// The credential ID the authenticator chose (unique per relying party).
    pub credential_id: Vec<u8>,
    /// The stored form (public key, algorithm, counter, flags), JSON text.
    pub stored: String,
}

/// An assertion (`AuthenticationResponseJSON`) parsed, not yet verified.
pub struct Assertion {
    credential: PublicKeyCredential,
}

/// Why a sign-in assertion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Anything wrong with it: challenge, origin, rpIdHash, flags, signature, user handle.
    Invalid,
    /// A signature counter that did not increase while it or the stored one is non-zero: the
    /// key may have been copied (WebAuthn Level 3 §7.2 step 22, §6.1.1).
    CounterRegressed,
}

impl RelyingParty {
    /// The relying party of `settings`. Errors: a relying party ID that does not cover an
    /// origin (the configuration already refused that) or a URL the library refuses.
    pub fn new(settings: &PasskeySettings) -> Result<RelyingParty, Error> {
        let refused = |e: WebauthnError| Error::internal(format!("webauthn configuration: {e}"));
        let (first, rest) =
            settings.origins.split_first().ok_or_else(|| refused(WebauthnError::Configuration))?;
        let mut builder = WebauthnBuilder::new(&settings.rp_id, first).map_err(refused)?;
        for origin in rest {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder.rp_name("beefirst").build().map_err(refused)?;
        Ok(RelyingParty { webauthn })
    }

    /// Creation options for a discoverable passkey with user verification for the account whose
    /// WebAuthn user handle is `user_handle`, excluding the credentials it already has.
    pub fn start_registration(
        &self,
        user_handle: [u8; 16],
        name: &str,
        display_name: &str,
        exclude: Vec<Vec<u8>>,
    ) -> Result<Started, Error> {
        let exclude = Some(exclude);
        let (options, state) = self
            .webauthn
            .start_passkey_registration(Uuid::from_bytes(user_handle), name, display_name, exclude)
            .map_err(|e| Error::internal(format!("webauthn options: {e}")))?;
        let mut public_key = to_json(&options)?["publicKey"].take();
        // Usernameless sign-in needs a discoverable credential: ask for one (webauthn-rs leaves it
        // "discouraged" for its username-first flow). The authenticator decides; nothing in the
        // response proves it, and a passkey that is not discoverable just never shows up at
        // sign-in.
        if let Some(selection) = public_key.get_mut("authenticatorSelection") {
            selection["residentKey"] = "required".into();
            selection["requireResidentKey"] = true.into();
        }
        Ok(Started { public_key, state: to_string(&state)? })
    }

    /// Verifies a registration response (`RegistrationResponseJSON`) against the kept `state`.
    /// `None` for anything wrong, malformed included.
    pub fn finish_registration(&self, response: &Value, state: &str) -> Option<NewPasskey> {
        let response: RegisterPublicKeyCredential =
            serde_json::from_value(response.clone()).ok()?;
        let state: PasskeyRegistration = serde_json::from_str(state).ok()?;
        let passkey = self.webauthn.finish_passkey_registration(&response, &state).ok()?;
        let credential_id = passkey.cred_id().to_vec();
        Some(NewPasskey { credential_id, stored: serde_json::to_string(&passkey).ok()? })
    }

    /// Request options for a usernameless sign-in: no allowed credentials, user verification
    /// required.
    pub fn start_sign_in(&self) -> Result<Started, Error> {
        let (options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| Error::internal(format!("webauthn options: {e}")))?;
        let public_key = to_json(&options)?["publicKey"].take();
        Ok(Started { public_key, state: to_string(&state)? })
    }

    /// Verifies `assertion` against the kept `state` and the `stored` passkey it names; the
    /// passkey's stored form with its counter and flags brought up to date on success.
    pub fn finish_sign_in(
        &self,
        assertion: &Assertion,
        state: &str,
        stored: &str,
    ) -> Result<String, Refusal> {
        let state: DiscoverableAuthentication =
            serde_json::from_str(state).map_err(|_| Refusal::Invalid)?;
        let mut passkey: Passkey = serde_json::from_str(stored).map_err(|_| Refusal::Invalid)?;
        let verified = self
            .webauthn
            .finish_discoverable_authentication_v2(&assertion.credential, state, &passkey)
            .map_err(|e| match e {
                WebauthnError::CredentialPossibleCompromise => Refusal::CounterRegressed,
                _ => Refusal::Invalid,
            })?;
        passkey.update_credential(&verified);
        serde_json::to_string(&passkey).map_err(|_| Refusal::Invalid)
    }
}

impl Assertion {
    /// Parses an `AuthenticationResponseJSON`; `None` when it is not one.
    pub fn parse(response: &Value) -> Option<Assertion> {
        serde_json::from_value(response.clone()).ok().map(|credential| Assertion { credential })
    }

    /// The credential ID the authenticator used.
    pub fn credential_id(&self) -> &[u8] {
        self.credential.get_credential_id()
    }

    /// The user handle the authenticator returned (a discoverable credential always returns
    /// one), if any.
    pub fn user_handle(&self) -> Option<&[u8]> {
        self.credential.get_user_unique_id()
    }
}

fn to_json(value: &impl serde::Serialize) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::internal_from("webauthn json", e))
}

fn to_string(value: &impl serde::Serialize) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::internal_from("webauthn state", e))
}
