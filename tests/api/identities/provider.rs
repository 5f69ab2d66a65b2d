//! A small OpenID Connect provider for the tests, on loopback: discovery, JWKS, the token
//! endpoint (PKCE S256 checked, codes single-use, client secret checked) and ID tokens signed
//! ES256 with a `p256` key. The browser's visit to its authorization page is
//! [`FakeProvider::consent`]: it reads the URL the service sent the browser to, checks what a
//! provider checks, and answers with the callback URL it would redirect to. What the next ID
//! token says can be set wrong on purpose (`Behaviour`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub const CLIENT_ID: &str = "beefirst-test";
pub const CLIENT_SECRET: &str = "test-secret-of-the-client";

/// What the next sign-in's ID token says, and how the provider answers.
#[derive(Clone, Debug)]
pub struct Behaviour {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// The person refuses at the provider: `error=access_denied`.
    pub deny: bool,
    /// A `nonce` other than the one the service sent.
    pub wrong_nonce: bool,
    /// An `aud` other than the client.
    pub audience: Option<String>,
    /// `exp` an hour ago.
    pub expired: bool,
    /// Signed with a key the provider does not publish.
    pub bad_signature: bool,
    /// An `iss` other than the provider.
    pub issuer: Option<String>,
    /// No `exp` at all.
    pub omit_exp: bool,
    /// No `kid` in the header.
    pub no_kid: bool,
    /// `alg: HS256`, keyed with the client secret (the classic confusion attack).
    pub hs256: bool,
}

impl Behaviour {
    pub fn person(subject: &str, email: &str) -> Behaviour {
        Behaviour {
            subject: subject.into(),
            email: Some(email.into()),
            email_verified: true,
            deny: false,
            wrong_nonce: false,
            audience: None,
            expired: false,
            bad_signature: false,
            issuer: None,
            omit_exp: false,
            no_kid: false,
            hs256: false,
        }
    }
}

struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
    behaviour: Behaviour,
}

struct Keys {
    kid: String,
    key: SigningKey,
}

struct Shared {
    grants: HashMap<String, Grant>,
    keys: Keys,
    jwks_fetches: usize,
    /// Who signs in when a browser opens the authorization page (`None`: it answers 404).
    browser_person: Option<Behaviour>,
}

pub struct FakeProvider {
    server: Arc<tiny_http::Server>,
    shared: Arc<Mutex<Shared>>,
    pub issuer: String,
}

fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn keys() -> Keys {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).unwrap();
    Keys { kid: random_hex(4), key: SigningKey::from_slice(&seed).unwrap() }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

impl FakeProvider {
    pub fn start() -> FakeProvider {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let issuer = format!("http://127.0.0.1:{}", server.server_addr().to_ip().unwrap().port());
        let shared = Arc::new(Mutex::new(Shared {
            grants: HashMap::new(),
            keys: keys(),
            jwks_fetches: 0,
            browser_person: None,
        }));
        let (serving, state, iss) = (Arc::clone(&server), Arc::clone(&shared), issuer.clone());
        std::thread::spawn(move || {
            while let Ok(mut request) = serving.recv() {
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let basic = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.as_str().to_owned());
                let (status, answer) = serve(&state, &iss, request.url(), &body, basic.as_deref());
                let mut response = tiny_http::Response::from_string(answer.to_string())
                    .with_status_code(status)
                    .with_header(
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap(),
                    );
                if let Some(to) = answer["location"].as_str().filter(|_| status == 302) {
                    response.add_header(tiny_http::Header::from_bytes("Location", to).unwrap());
                }
                let _ = request.respond(response);
            }
        });
        FakeProvider { server, shared, issuer }
    }

    /// The person at the provider's page: checks the authorization request the service sent the
    /// browser to, remembers the grant, and returns the callback URL (with `code` and `state`,
    /// or `error=access_denied`).
    pub fn consent(&self, authorize_url: &str, behaviour: Behaviour) -> String {
        assert!(
            authorize_url.starts_with(&format!("{}/authorize?", self.issuer)),
            "{authorize_url}"
        );
        FakeProvider::grant(&self.shared, authorize_url, behaviour)
    }

    /// Checks an authorization request, remembers its grant, and returns the callback URL.
    fn grant(shared: &Mutex<Shared>, authorize_url: &str, behaviour: Behaviour) -> String {
        let url = webauthn_rs::prelude::Url::parse(authorize_url).unwrap();
        assert_eq!(url.path(), "/authorize", "{authorize_url}");
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], CLIENT_ID);
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(q["scope"].split(' ').any(|s| s == "openid"));
        let redirect = &q["redirect_uri"];
        if behaviour.deny {
            return format!("{redirect}?error=access_denied&state={}", q["state"]);
        }
        let code = random_hex(16);
        let grant = Grant {
            nonce: q["nonce"].clone(),
            challenge: q["code_challenge"].clone(),
            redirect_uri: redirect.clone(),
            behaviour,
        };
        shared.lock().unwrap().grants.insert(code.clone(), grant);
        format!("{redirect}?code={code}&state={}", q["state"])
    }

    /// Lets a browser that opens the authorization page sign in as `person` at once (no page of
    /// its own: a 302 back to the service, as after a consent).
    pub fn let_browser_sign_in(&self, person: Behaviour) {
        self.shared.lock().unwrap().browser_person = Some(person);
    }

    /// A new signing key (a rotation): ID tokens from now on carry its `kid`.
    pub fn rotate_keys(&self) {
        self.shared.lock().unwrap().keys = keys();
    }

    /// How often the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.lock().unwrap().jwks_fetches
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn serve(
    shared: &Mutex<Shared>,
    issuer: &str,
    url: &str,
    body: &str,
    basic: Option<&str>,
) -> (u16, Value) {
    let path = url.split('?').next().unwrap_or("");
    let mut state = shared.lock().unwrap();
    match path {
        "/.well-known/openid-configuration" => (
            200,
            json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"),
                "jwks_uri": format!("{issuer}/jwks"),
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["ES256"],
            }),
        ),
        "/jwks" => {
            state.jwks_fetches += 1;
            let point = state.keys.key.verifying_key().to_sec1_bytes();
            (
                200,
                json!({"keys": [{
                    "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": state.keys.kid,
                    "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
                }]}),
            )
        }
        "/token" => token(&mut state, issuer, body, basic),
        "/authorize" => match state.browser_person.clone() {
            Some(person) => {
                drop(state);
                let grant = FakeProvider::grant(shared, &format!("{issuer}{url}"), person);
                (302, json!({ "location": grant }))
            }
            None => (404, json!({"error": "no browser sign-in expected"})),
        },
        _ => (404, json!({"error": "not_found"})),
    }
}

/// The client's credentials from `client_secret_basic` (what the service sends).
fn basic_client(header: Option<&str>) -> Option<(String, String)> {
    let encoded = header?.strip_prefix("Basic ")?;
    let pair =
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = pair.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

fn token(state: &mut Shared, issuer: &str, body: &str, basic: Option<&str>) -> (u16, Value) {
    let form: HashMap<String, String> =
        webauthn_rs::prelude::Url::parse(&format!("http://x/?{body}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
    let refuse = |why: &str| (400, json!({"error": "invalid_grant", "error_description": why}));
    if basic_client(basic) != Some((CLIENT_ID.into(), CLIENT_SECRET.into())) {
        return (401, json!({"error": "invalid_client"}));
    }
    let Some(grant) = form.get("code").and_then(|c| state.grants.remove(c)) else {
        return refuse("unknown or used code");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if B64.encode(Sha256::digest(verifier.as_bytes())) != grant.challenge {
        return refuse("PKCE verifier does not match");
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return refuse("redirect_uri differs");
    }
    let b = &grant.behaviour;
    let issued = if b.expired { now() - 7200 } else { now() };
    let mut claims = json!({
        "iss": b.issuer.clone().unwrap_or_else(|| issuer.to_owned()),
        "aud": b.audience.clone().unwrap_or_else(|| CLIENT_ID.into()),
        "sub": b.subject,
        "iat": issued,
        "exp": issued + 3600,
        "nonce": if b.wrong_nonce { "another-nonce".to_owned() } else { grant.nonce.clone() },
        "email": b.email,
        "email_verified": b.email_verified,
    });
    if b.omit_exp {
        claims.as_object_mut().unwrap().remove("exp");
    }
    let mut header = json!({"alg": if b.hs256 { "HS256" } else { "ES256" }, "typ": "JWT", "kid": state.keys.kid});
    if b.no_kid {
        header.as_object_mut().unwrap().remove("kid");
    }
    let signing_input =
        format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
    let signature = if b.hs256 {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<Sha256>::new_from_slice(CLIENT_SECRET.as_bytes()).unwrap();
        mac.update(signing_input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    } else {
        let key = if b.bad_signature { keys().key } else { state.keys.key.clone() };
        let signature: Signature = key.sign(signing_input.as_bytes());
        signature.to_bytes().to_vec()
    };
    let id_token = format!("{signing_input}.{}", B64.encode(signature));
    (
        200,
        json!({"access_token": random_hex(16), "token_type": "Bearer", "expires_in": 3600, "id_token": id_token}),
    )
}
