//! The `github` and `facebook` presets (OAuth 2.0 and the providers' user APIs) against small
//! local stand-ins of their token and user endpoints (no real one is reachable from here): the
//! code exchanged with the client secret and the PKCE verifier, the user API asked with the
//! access token, GitHub's verified primary address accepted, Facebook's address never taken as
//! proof of the mailbox.

use super::{back, exchange, fragment, location, to_provider_of};
use crate::support::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const SECRET: &str = "preset-client-secret";

/// Who signs in at the stand-in: its user API's answers.
#[derive(Clone)]
struct Person {
    id: Value,
    /// GitHub's `/user/emails`, or Facebook's `email`.
    emails: Value,
}

/// A GitHub- or Facebook-shaped OAuth 2.0 server on loopback.
struct OAuthServer {
    server: Arc<tiny_http::Server>,
    url: String,
    grants: Arc<Mutex<HashMap<String, (String, Person)>>>,
}

impl OAuthServer {
    fn start() -> OAuthServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://127.0.0.1:{}", server.server_addr().to_ip().unwrap().port());
        let grants: Arc<Mutex<HashMap<String, (String, Person)>>> = Arc::default();
        let tokens: Arc<Mutex<HashMap<String, Person>>> = Arc::default();
        let (serving, granted) = (Arc::clone(&server), Arc::clone(&grants));
        std::thread::spawn(move || {
            while let Ok(mut request) = serving.recv() {
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let bearer = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .and_then(|h| h.value.as_str().strip_prefix("Bearer ").map(str::to_owned));
                let path = request.url().split('?').next().unwrap_or("").to_owned();
                let person = bearer.and_then(|t| tokens.lock().unwrap().get(&t).cloned());
                let (status, answer) = match (path.as_str(), person) {
                    ("/token", _) => token(&granted, &tokens, &body),
                    ("/user", Some(p)) => {
                        (200, json!({ "id": p.id, "login": "someone", "email": null }))
                    }
                    ("/user/emails", Some(p)) => (200, p.emails),
                    ("/me", Some(p)) => (200, json!({ "id": p.id, "email": p.emails })),
                    _ => (401, json!({ "message": "Bad credentials" })),
                };
                let response = tiny_http::Response::from_string(answer.to_string())
                    .with_status_code(status)
                    .with_header(
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap(),
                    );
                let _ = request.respond(response);
            }
        });
        OAuthServer { server, url, grants }
    }

    /// The person agrees at the authorization page: the callback URL.
    fn consent(&self, authorize_url: &str, person: Person) -> String {
        let url = webauthn_rs::prelude::Url::parse(authorize_url).unwrap();
        assert!(authorize_url.starts_with(&format!("{}/authorize?", self.url)), "{authorize_url}");
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        let code = format!("code-{}", self.grants.lock().unwrap().len());
        self.grants.lock().unwrap().insert(code.clone(), (q["code_challenge"].clone(), person));
        format!("{}?code={code}&state={}", q["redirect_uri"], q["state"])
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

type Grants = Mutex<HashMap<String, (String, Person)>>;

fn token(grants: &Grants, tokens: &Mutex<HashMap<String, Person>>, body: &str) -> (u16, Value) {
    let form: HashMap<String, String> =
        webauthn_rs::prelude::Url::parse(&format!("http://x/?{body}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
    if form.get("client_secret").map(String::as_str) != Some(SECRET) {
        return (200, json!({ "error": "incorrect_client_credentials" })); // GitHub answers 200
    }
    let Some((challenge, person)) = form.get("code").and_then(|c| grants.lock().unwrap().remove(c))
    else {
        return (200, json!({ "error": "bad_verification_code" }));
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if B64.encode(Sha256::digest(verifier.as_bytes())) != challenge {
        return (400, json!({ "error": "invalid_grant" }));
    }
    let access = format!("token-{}", tokens.lock().unwrap().len());
    tokens.lock().unwrap().insert(access.clone(), person);
    (200, json!({ "access_token": access, "token_type": "bearer" }))
}

/// The service with the `github` and `facebook` presets pointed at `server`.
fn app_with_presets(server: &OAuthServer) -> (TestApp, String) {
    let port = free_port();
    let url = format!("http://localhost:{port}");
    let mut spawn = TestApp::with()
        .env("BIND_ADDR", &format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", &url)
        .env("IDENTITY_PROVIDERS", "github,facebook");
    for name in ["GITHUB", "FACEBOOK"] {
        spawn = spawn
            .env(&format!("IDP_{name}_CLIENT_ID"), "preset-client")
            .env(&format!("IDP_{name}_CLIENT_SECRET"), SECRET)
            .env(&format!("IDP_{name}_AUTHORIZATION_URL"), &format!("{}/authorize", server.url))
            .env(&format!("IDP_{name}_TOKEN_URL"), &format!("{}/token", server.url));
    }
    let spawn = spawn
        .env("IDP_GITHUB_USER_URL", &format!("{}/user", server.url))
        .env("IDP_GITHUB_EMAILS_URL", &format!("{}/user/emails", server.url))
        .env("IDP_FACEBOOK_USER_URL", &format!("{}/me?fields=id,email", server.url));
    (spawn.start(), url)
}

fn outcome(
    app: &TestApp,
    url: &str,
    server: &OAuthServer,
    name: &str,
    person: Person,
) -> (String, String) {
    let callback = server.consent(&to_provider_of(app, name), person);
    fragment(&location(&back(app, url, &callback)))
}

#[test]
fn github_signs_in_with_its_verified_primary_address_only() {
    let server = OAuthServer::start();
    let (app, url) = app_with_presets(&server);
    let octo = Person {
        id: json!(583231),
        emails: json!([
            {"email": "other@example.com", "primary": false, "verified": true},
            {"email": "octo@example.com", "primary": true, "verified": true},
        ]),
    };
    let (key, code) = outcome(&app, &url, &server, "github", octo.clone());
    assert_eq!(key, "login_code", "{code}");
    let token = json(&exchange(&app, &code))["access_token"].as_str().unwrap().to_owned();
    let me = json(&app.with_token("GET", "/me", &token, None));
    assert_eq!(me["email"], "octo@example.com", "the primary address, not another verified one");
    let (_, code) = outcome(&app, &url, &server, "github", octo);
    assert_eq!(exchange(&app, &code).status, 200, "the same GitHub id signs in again");

    let unverified = Person {
        id: json!(99),
        emails: json!([{"email": "new@example.com", "primary": true, "verified": false}]),
    };
    assert_eq!(outcome(&app, &url, &server, "github", unverified).1, "email_not_verified");
}

#[test]
fn facebook_makes_no_account_by_itself_but_signs_in_once_the_owner_links_it() {
    let server = OAuthServer::start();
    let (app, url) = app_with_presets(&server);
    let fay = Person { id: json!("10172234"), emails: json!("fay@example.com") };
    assert_eq!(outcome(&app, &url, &server, "facebook", fay.clone()).1, "email_not_verified");
    app.active_account("fay@example.com", "correct horse");
    let token = app.login_ok("fay@example.com", "correct horse");
    let started = json(&app.with_token("POST", "/me/identities/facebook", &token, Some("{}")));
    let callback = server.consent(started["authorize_url"].as_str().unwrap(), fay.clone());
    assert_eq!(super::confirm(&app, &token, &location(&back(&app, &url, &callback))).status, 200);
    let (key, code) = outcome(&app, &url, &server, "facebook", fay);
    assert_eq!(key, "login_code");
    let signed_in = json(&exchange(&app, &code))["access_token"].as_str().unwrap().to_owned();
    assert_eq!(json(&app.with_token("GET", "/me", &signed_in, None))["email"], "fay@example.com");
}
