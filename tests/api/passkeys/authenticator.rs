//! A software authenticator for the tests: what a browser and a platform authenticator together
//! hand to the relying party, built byte by byte (WebAuthn Level 3 §6.1 authenticator data, §6.5
//! attestation object with format `none`, §5.8.1 client data), with an ES256 key from the `p256`
//! crate. Every field the server must check can be set wrong on purpose: origin, RP ID, the UV
//! flag, the signature counter, the user handle.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One discoverable credential on one authenticator.
pub struct Authenticator {
    key: SigningKey,
    /// The credential ID it reports.
    pub credential_id: Vec<u8>,
    /// The user handle it stored at registration, returned at sign-in.
    pub user_handle: Vec<u8>,
    /// The signature counter; [`Authenticator::get`] increments it first (0 stays 0 when
    /// `counting` is off, as synced passkeys do).
    pub counter: u32,
    /// Whether it increments the counter.
    pub counting: bool,
    /// The origin the "browser" reports in the client data.
    pub origin: String,
    /// The RP ID whose hash starts the authenticator data.
    pub rp_id: String,
    /// Whether it reports user verification (the UV flag).
    pub user_verified: bool,
}

impl Authenticator {
    /// A fresh credential for the service's defaults (`http://localhost:8080`, RP ID `localhost`).
    pub fn new() -> Authenticator {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        let mut credential_id = vec![0u8; 16];
        getrandom::fill(&mut credential_id).unwrap();
        Authenticator {
            key: SigningKey::from_slice(&seed).unwrap(),
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
            counting: true,
            origin: "http://localhost:8080".into(),
            rp_id: "localhost".into(),
            user_verified: true,
        }
    }

    /// `navigator.credentials.create()` then `toJSON()`: a `RegistrationResponseJSON` for the
    /// creation options `public_key`.
    pub fn create(&mut self, public_key: &Value) -> Value {
        self.user_handle = B64.decode(public_key["user"]["id"].as_str().unwrap()).unwrap();
        let client_data = self.client_data("webauthn.create", public_key);
        let point = self.key.verifying_key().to_sec1_bytes(); // 0x04 || x || y
        let cose_key = map(&[
            (int(1), int(2)),  // kty: EC2
            (int(3), int(-7)), // alg: ES256
            (int(-1), int(1)), // crv: P-256
            (int(-2), bytes(&point[1..33])),
            (int(-3), bytes(&point[33..65])),
        ]);
        let mut auth_data = self.auth_data(0x40); // AT: attested credential data follows
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: none
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose_key);
        let attestation = map(&[
            (text("fmt"), text("none")),
            (text("attStmt"), map(&[])),
            (text("authData"), bytes(&auth_data)),
        ]);
        self.credential(json!({
            "clientDataJSON": B64.encode(&client_data),
            "attestationObject": B64.encode(&attestation),
            "transports": ["internal"],
        }))
    }

    /// `navigator.credentials.get()` then `toJSON()`: an `AuthenticationResponseJSON` for the
    /// request options `public_key`.
    pub fn get(&mut self, public_key: &Value) -> Value {
        if self.counting {
            self.counter += 1;
        }
        let client_data = self.client_data("webauthn.get", public_key);
        let auth_data = self.auth_data(0);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        self.credential(json!({
            "clientDataJSON": B64.encode(&client_data),
            "authenticatorData": B64.encode(&auth_data),
            "signature": B64.encode(signature.to_der().as_bytes()),
            "userHandle": B64.encode(&self.user_handle),
        }))
    }

    /// The `PublicKeyCredential` around an authenticator's `response`, as `toJSON()` gives it.
    fn credential(&self, response: Value) -> Value {
        json!({
            "id": B64.encode(&self.credential_id),
            "rawId": B64.encode(&self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": response,
        })
    }

    fn client_data(&self, kind: &str, public_key: &Value) -> Vec<u8> {
        let challenge = public_key["challenge"].as_str().unwrap();
        let data = json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false});
        data.to_string().into_bytes()
    }

    /// rpIdHash, flags (UP always, UV if verified, plus `extra`), signature counter.
    fn auth_data(&self, extra: u8) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(0x01 | if self.user_verified { 0x04 } else { 0 } | extra);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data
    }
}

/// A CBOR head: major type and argument (RFC 8949 §3).
fn head(major: u8, n: u64) -> Vec<u8> {
    let m = major << 5;
    match n {
        0..=23 => vec![m | n as u8],
        24..=0xff => vec![m | 24, n as u8],
        0x100..=0xffff => [vec![m | 25], (n as u16).to_be_bytes().to_vec()].concat(),
        _ => [vec![m | 26], (n as u32).to_be_bytes().to_vec()].concat(),
    }
}

fn int(v: i64) -> Vec<u8> {
    if v >= 0 { head(0, v as u64) } else { head(1, (-1 - v) as u64) }
}

fn bytes(b: &[u8]) -> Vec<u8> {
    [head(2, b.len() as u64), b.to_vec()].concat()
}

fn text(s: &str) -> Vec<u8> {
    [head(3, s.len() as u64), s.as_bytes().to_vec()].concat()
}

fn map(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = head(5, pairs.len() as u64);
    for (k, v) in pairs {
        out.extend_from_slice(k);
        out.extend_from_slice(v);
    }
    out
}
