//! Signing in with another provider (OpenID Connect) against a provider on loopback
//! (`provider.rs`): a new account from a verified email, the returning identity, `link_required`
//! instead of a takeover, a link the owner asks for, unlinking, every check of the round trip
//! (state, nonce, audience, expiry, PKCE, redirect), and accounts without a password.

mod certified;
mod presets;
pub(crate) mod provider;

use crate::passkeys::authenticator::Authenticator;
use crate::support::helpers::*;
use crate::totp::with_totp;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use provider::{Behaviour, CLIENT_ID, CLIENT_SECRET, FakeProvider};
use serde_json::{Value, json};
use sha2::Digest;

const PW: &str = "correct horse";

/// The service with the provider `corp`, its URL `http://localhost:PORT`.
fn app_with(provider: &FakeProvider, extra: &[(&str, &str)]) -> (TestApp, String) {
    let port = free_port();
    let app = app_with_issuer(port, &provider.issuer, CLIENT_ID, CLIENT_SECRET, extra);
    (app, format!("http://localhost:{port}"))
}

/// The service on `port` (`PUBLIC_URL` `http://localhost:PORT`) with the provider `corp` at
/// `issuer`.
fn app_with_issuer(
    port: u16,
    issuer: &str,
    client_id: &str,
    client_secret: &str,
    extra: &[(&str, &str)],
) -> TestApp {
    let mut spawn = TestApp::with()
        .env("BIND_ADDR", &format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", &format!("http://localhost:{port}"))
        .env("IDENTITY_PROVIDERS", "corp")
        .env("IDP_CORP_CLIENT_ID", client_id)
        .env("IDP_CORP_CLIENT_SECRET", client_secret)
        .env("IDP_CORP_ISSUER", issuer);
    for (name, value) in extra {
        spawn = spawn.env(name, value);
    }
    spawn.start()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn get(app: &TestApp, path: &str) -> RawResponse {
    app.process.send("GET", path, &[], None)
}

#[track_caller]
fn location(response: &RawResponse) -> String {
    assert_eq!(response.status, 302, "{}", body_text(response));
    response.header("Location").unwrap().to_owned()
}

/// `GET /idp/{name}/authorize`: the URL the browser is sent to.
fn to_provider_of(app: &TestApp, name: &str) -> String {
    location(&get(app, &format!("/idp/{name}/authorize")))
}

/// `GET /idp/corp/authorize`: the URL the browser is sent to.
fn to_provider(app: &TestApp, redirect_to: Option<&str>) -> String {
    let path = match redirect_to {
        Some(r) => format!("/idp/corp/authorize?redirect_to={}", encode(r)),
        None => "/idp/corp/authorize".into(),
    };
    location(&get(app, &path))
}

/// The browser back from the provider at the service's callback: where it is sent next.
fn back(app: &TestApp, url: &str, callback: &str) -> RawResponse {
    get(app, callback.strip_prefix(url).expect("the callback is the service's"))
}

/// A whole sign-in round trip as `behaviour` says: the final redirect's fragment, split.
fn round_trip(
    app: &TestApp,
    url: &str,
    provider: &FakeProvider,
    behaviour: Behaviour,
) -> (String, String) {
    let callback = provider.consent(&to_provider(app, None), behaviour);
    fragment(&location(&back(app, url, &callback)))
}

fn fragment(location: &str) -> (String, String) {
    let (_, fragment) = location.split_once('#').expect("a fragment");
    let (key, value) = fragment.split_once('=').unwrap();
    (key.to_owned(), value.to_owned())
}

/// Confirms the link whose callback redirect is `sent_back` (`#link_code=`) with `token`.
pub(crate) fn confirm(app: &TestApp, token: &str, sent_back: &str) -> RawResponse {
    let (key, code) = fragment(sent_back);
    assert_eq!(key, "link_code", "{sent_back}");
    let body = json!({ "link_code": code }).to_string();
    app.with_token("POST", "/me/identities/confirm", token, Some(&body))
}

fn exchange(app: &TestApp, code: &str) -> RawResponse {
    app.post_json("/idp/exchange", &json!({ "login_code": code }).to_string())
}

/// A sign-in with `behaviour` all the way to the access token.
fn signed_in(app: &TestApp, url: &str, provider: &FakeProvider, behaviour: Behaviour) -> String {
    let (key, code) = round_trip(app, url, provider, behaviour);
    assert_eq!(key, "login_code", "{code}");
    let answer = exchange(app, &code);
    assert_eq!(answer.status, 200, "{}", body_text(&answer));
    json(&answer)["access_token"].as_str().unwrap().to_owned()
}

fn claims(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap())
        .unwrap()
}

#[test]
fn a_verified_email_makes_an_account_without_a_password_and_the_identity_signs_in_again() {
    let provider = FakeProvider::start();
    let (app, url) = app_with(&provider, &[]);
    let ann = Behaviour::person("ann-at-corp", "Ann@Example.com");
    let callback = provider.consent(&to_provider(&app, None), ann.clone());
    let sent_back = location(&back(&app, &url, &callback));
    assert!(sent_back.starts_with(&format!("{url}/#login_code=")), "{sent_back}");
    let (_, code) = fragment(&sent_back);
    let answer = exchange(&app, &code);
    assert_eq!(answer.status, 200, "{}", body_text(&answer));
    let token = json(&answer)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&token)["amr"], json!(["fed"]));
    assert_eq!(claims(&token)["email"], "ann@example.com");
    assert_error(&exchange(&app, &code), 401, "invalid_code"); // a login code works once
    let listed = json(&app.with_token("GET", "/me/identities", &token, None));
    assert_eq!(listed["identities"][0]["provider"], "corp");
    let again = signed_in(&app, &url, &provider, ann);
    assert_eq!(
        claims(&again)["sub"],
        claims(&token)["sub"],
        "the returning identity, the same account"
    );
    let accounts: i64 = app.sql().query_one("SELECT count(*) FROM accounts", &[]).unwrap().get(0);
    assert_eq!(accounts, 1);

    // No password: none opens it, one is set only by the reset flow; a recent sign-in stands in.
    assert_eq!(json(&app.with_token("GET", "/me", &token, None))["password_set"], false);
    assert_error(&app.login("ann@example.com", "any password at all"), 401, "invalid_credentials");
    let change = json!({"current_password": "", "new_password": "battery staple"}).to_string();
    assert_error(
        &app.with_token("POST", "/me/password", &token, Some(&change)),
        409,
        "password_not_set",
    );
    assert_eq!(app.with_token("POST", "/me/totp", &token, Some("{}")).status, 200);
    app.sql()
        .execute("UPDATE sessions SET created_at = now() - interval '6 minutes'", &[])
        .unwrap();
    let stale = app.with_token("POST", "/me/totp", &token, Some("{}"));
    assert_error(&stale, 401, "reauthentication_required");

    // The reset flow (mailbox proof) sets a password; then it signs in too.
    assert_eq!(app.post_json("/password/forgot", r#"{"email":"ann@example.com"}"#).status, 202);
    let code = first_digits(&app.nth_mail_to("ann@example.com", 1));
    let reset = json!({"email": "ann@example.com", "code": code, "new_password": "battery staple"});
    assert_eq!(app.post_json("/password/reset", &reset.to_string()).status, 204);
    let token = app.login_ok("ann@example.com", "battery staple");
    assert_eq!(json(&app.with_token("GET", "/me", &token, None))["password_set"], true);
}

#[test]
fn an_email_that_has_an_account_is_never_linked_automatically() {
    let provider = FakeProvider::start();
    let (app, url) = app_with(&provider, &[]);
    app.active_account("ann@example.com", PW);
    let (key, value) =
        round_trip(&app, &url, &provider, Behaviour::person("mallory", "ann@example.com"));
    assert_eq!((key.as_str(), value.as_str()), ("error", "link_required"));
    let identities: i64 =
        app.sql().query_one("SELECT count(*) FROM identities", &[]).unwrap().get(0);
    assert_eq!(identities, 0, "nothing linked");

    // The owner signs in with the password and links it; then it signs in to that account.
    let token = app.login_ok("ann@example.com", PW);
    let body = json!({ "redirect_to": format!("{url}/") }).to_string();
    let started = app.with_token("POST", "/me/identities/corp", &token, Some(&body));
    assert_eq!(started.status, 200, "{}", body_text(&started));
    let authorize_url = json(&started)["authorize_url"].as_str().unwrap().to_owned();
    let callback =
        provider.consent(&authorize_url, Behaviour::person("ann-at-corp", "ann@corp.example"));
    let confirmed = confirm(&app, &token, &location(&back(&app, &url, &callback)));
    assert_eq!(json(&confirmed), json!({ "provider": "corp" }));
    assert!(app.nth_mail_to("ann@example.com", 2).contains("Signing in with corp now opens"));
    let by_corp =
        signed_in(&app, &url, &provider, Behaviour::person("ann-at-corp", "ann@corp.example"));
    assert_eq!(claims(&by_corp)["email"], "ann@example.com");
    // The same identity cannot be linked to another account.
    app.active_account("bob@example.com", PW);
    let bob = app.login_ok("bob@example.com", PW);
    let started = app.with_token("POST", "/me/identities/corp", &bob, Some(&body));
    let authorize_url = json(&started)["authorize_url"].as_str().unwrap().to_owned();
    let callback =
        provider.consent(&authorize_url, Behaviour::person("ann-at-corp", "ann@corp.example"));
    assert_eq!(fragment(&location(&back(&app, &url, &callback))).1, "already_linked");
}

#[test]
fn the_last_way_to_sign_in_is_kept_and_a_passkey_or_identity_can_go_while_the_other_stays() {
    let provider = FakeProvider::start();
    let (app, url) = app_with(&provider, &[]);
    let token = signed_in(&app, &url, &provider, Behaviour::person("cy", "cy@example.com"));
    let id =
        json(&app.with_token("GET", "/me/identities", &token, None))["identities"][0]["id"].clone();
    let path = format!("/me/identities/{id}");
    assert_error(&app.with_token("DELETE", &path, &token, None), 409, "last_sign_in_method");

    // A passkey added on the strength of the recent sign-in (no password to give).
    let options = json(&app.with_token("POST", "/me/passkeys/options", &token, Some("{}")));
    let mut key = Authenticator::new();
    key.origin = url.clone();
    let body =
        json!({ "ceremony": options["ceremony"], "credential": key.create(&options["publicKey"]) });
    let added = app.with_token("POST", "/me/passkeys", &token, Some(&body.to_string()));
    assert_eq!(added.status, 201, "{}", body_text(&added));
    assert_eq!(app.with_token("DELETE", &path, &token, None).status, 204, "the passkey remains");
    let passkey = format!("/me/passkeys/{}", json(&added)["id"]);
    assert_error(&app.with_token("DELETE", &passkey, &token, None), 409, "last_sign_in_method");
}

#[test]
fn every_check_of_the_round_trip_refuses_what_it_should() {
    let provider = FakeProvider::start();
    let (app, url) = app_with(
        &provider,
        &[("REDIRECT_ALLOWED_URLS", "http://app.example/done,http://app.example/spa/")],
    );
    let ann = || Behaviour::person("ann", "ann@example.com");
    // redirect_to: exact, or under a prefix ending in /; nothing else (no open redirect).
    for bad in [
        "https://evil.example/",
        "http://app.example/done/more",
        "http://app.example/spa",
        "http://app.example.evil/spa/x",
        "javascript:alert(1)",
    ] {
        let answer = get(&app, &format!("/idp/corp/authorize?redirect_to={}", encode(bad)));
        assert_error(&answer, 400, "invalid_redirect");
    }
    let fine = to_provider(&app, Some("http://app.example/spa/after"));
    let callback = provider.consent(&fine, ann());
    assert!(
        location(&back(&app, &url, &callback))
            .starts_with("http://app.example/spa/after#login_code=")
    );
    assert_error(&get(&app, "/idp/nobody/authorize"), 404, "not_found");

    // state: unknown, replayed, absent.
    let callback = provider.consent(&to_provider(&app, Some("http://app.example/done")), ann());
    assert_eq!(back(&app, &url, &callback).status, 302);
    assert_error(&back(&app, &url, &callback), 400, "invalid_state");
    assert_error(&get(&app, "/idp/corp/callback?code=x&state=made-up"), 400, "invalid_state");

    // The provider's answers that must not sign anyone in.
    let refused = |behaviour: Behaviour| {
        let callback =
            provider.consent(&to_provider(&app, Some("http://app.example/done")), behaviour);
        fragment(&location(&back(&app, &url, &callback)))
    };
    let error = |value: &str| ("error".to_owned(), value.to_owned());
    // Each provider_error for the reason the test means (the service's log line says which).
    let why = || last_failure(&app);
    assert_eq!(refused(Behaviour { deny: true, ..ann() }), error("access_denied"));
    assert_eq!(refused(Behaviour { wrong_nonce: true, ..ann() }), error("provider_error"));
    eventually("the log to say nonce", || why().contains("nonce"));
    assert_eq!(
        refused(Behaviour { audience: Some("another-client".into()), ..ann() }),
        error("provider_error")
    );
    eventually("the log to say InvalidAudience", || why().contains("InvalidAudience"));
    assert_eq!(refused(Behaviour { expired: true, ..ann() }), error("provider_error"));
    eventually("the log to say ExpiredSignature", || why().contains("ExpiredSignature"));
    assert_eq!(
        refused(Behaviour { email_verified: false, subject: "new".into(), ..ann() }),
        error("email_not_verified")
    );
    assert_eq!(
        refused(Behaviour { email: None, subject: "new".into(), ..ann() }),
        error("email_not_verified")
    );
    // A code exchanged without the PKCE verifier the service holds is refused by the provider:
    // the callback with a code from another sign-in's grant.
    let first = provider.consent(&to_provider(&app, Some("http://app.example/done")), ann());
    let second = provider.consent(&to_provider(&app, Some("http://app.example/done")), ann());
    let code_of_first = first.split("code=").nth(1).unwrap().split('&').next().unwrap();
    let swapped = second.replacen(
        second.split("code=").nth(1).unwrap().split('&').next().unwrap(),
        code_of_first,
        1,
    );
    assert_eq!(fragment(&location(&back(&app, &url, &swapped))), error("provider_error"));
    eventually("the log to say token endpoint answered 400", || {
        why().contains("token endpoint answered 400")
    });
}

#[test]
fn totp_still_applies_a_disabled_account_is_refused_and_a_rotated_key_is_fetched_once() {
    let provider = FakeProvider::start();
    let (app, url) = app_with(&provider, &[]);
    let (_, _, tia) = with_totp(&app, "tia@example.com"); // the confirming session stays live
    let owner = app.login("tia@example.com", PW);
    assert_eq!(json(&owner)["mfa_required"], true);
    let body = json!({}).to_string();
    let started = json(&app.with_token("POST", "/me/identities/corp", &tia, Some(&body)));
    let callback = provider
        .consent(started["authorize_url"].as_str().unwrap(), Behaviour::person("tia", "tia@corp"));
    assert_eq!(confirm(&app, &tia, &location(&back(&app, &url, &callback))).status, 200);
    let (_, code) = round_trip(&app, &url, &provider, Behaviour::person("tia", "tia@corp"));
    let answer = json(&exchange(&app, &code));
    assert_eq!(answer["mfa_required"], true, "{answer}");

    let fetched = provider.jwks_fetches();
    provider.rotate_keys();
    let fresh = signed_in(&app, &url, &provider, Behaviour::person("zed", "zed@example.com"));
    assert!(!fresh.is_empty());
    assert_eq!(provider.jwks_fetches(), fetched + 1, "one re-fetch for the new key");

    let root = crate::admin::admin(&app, "root@example.com");
    let id: i64 = app
        .sql()
        .query_one("SELECT id FROM accounts WHERE email = 'zed@example.com'", &[])
        .unwrap()
        .get(0);
    let disabled = app.with_token("POST", &format!("/admin/users/{id}/disable"), &root, Some("{}"));
    assert_eq!(disabled.status, 204);
    let (key, value) =
        round_trip(&app, &url, &provider, Behaviour::person("zed", "zed@example.com"));
    assert_eq!((key.as_str(), value.as_str()), ("error", "account_disabled"));
}

#[test]
fn starting_sign_ins_counts_against_the_client_ip_like_a_post() {
    let provider = FakeProvider::start();
    let (app, _) = app_with(&provider, &[("RATE_LIMIT_IP_PER_MINUTE", "3")]);
    for _ in 0..3 {
        assert_eq!(get(&app, "/idp/corp/authorize").status, 302);
    }
    assert_error(&get(&app, "/idp/corp/authorize"), 429, "rate_limited");
    let states: i64 = app.sql().query_one("SELECT count(*) FROM idp_states", &[]).unwrap().get(0);
    assert_eq!(states, 3, "each one a row, so they are limited");
}

#[test]
fn a_link_finishes_only_in_the_session_that_asked_and_a_login_code_only_with_its_verifier() {
    let provider = FakeProvider::start();
    let (app, url) = app_with(&provider, &[]);
    app.active_account("mallory@example.com", PW);
    app.active_account("vic@example.com", PW);
    let mallory = app.login_ok("mallory@example.com", PW);
    let vic = app.login_ok("vic@example.com", PW);
    // Mallory's link URL, opened by Vic (his provider session consents): the link code it brings
    // back links nothing in Vic's session, and nothing once Mallory's session is gone.
    let started = json(&app.with_token("POST", "/me/identities/corp", &mallory, Some("{}")));
    let victim = Behaviour::person("vic-at-corp", "vic@corp.example");
    let callback = provider.consent(started["authorize_url"].as_str().unwrap(), victim.clone());
    let sent_back = location(&back(&app, &url, &callback));
    assert_error(&confirm(&app, &vic, &sent_back), 401, "invalid_code");
    let started = json(&app.with_token("POST", "/me/identities/corp", &mallory, Some("{}")));
    let callback = provider.consent(started["authorize_url"].as_str().unwrap(), victim);
    let sent_back = location(&back(&app, &url, &callback));
    assert_eq!(app.with_token("POST", "/logout", &mallory, None).status, 204);
    assert_error(&confirm(&app, &mallory, &sent_back), 401, "invalid_token");
    let identities: i64 =
        app.sql().query_one("SELECT count(*) FROM identities", &[]).unwrap().get(0);
    assert_eq!(identities, 0);

    // A frontend's own PKCE pair: its login code opens nothing without the verifier (a callback
    // URL of the attacker's own sign-in, planted in a victim's browser, signs the victim in to
    // nothing).
    let verifier = "a-verifier-of-the-frontend-that-is-long-enough-0123";
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let bound = |app: &TestApp| {
        let path = format!("/idp/corp/authorize?code_challenge={challenge}");
        let callback = provider
            .consent(&location(&get(app, &path)), Behaviour::person("zoe", "zoe@example.com"));
        fragment(&location(&back(app, &url, &callback))).1
    };
    let code = bound(&app);
    assert_error(&exchange(&app, &code), 401, "invalid_code");
    let code = bound(&app);
    let wrong = json!({ "login_code": code, "code_verifier": "another-verifier-entirely-0123456789-abcdefg" });
    assert_error(&app.post_json("/idp/exchange", &wrong.to_string()), 401, "invalid_code");
    let code = bound(&app);
    let right = json!({ "login_code": code, "code_verifier": verifier });
    assert_eq!(app.post_json("/idp/exchange", &right.to_string()).status, 200);
    // An unbound sign-in's code (no challenge: the attacker's own) is refused to a frontend that
    // sends its verifier, as every binding frontend does.
    let callback = provider.consent(
        &location(&get(&app, "/idp/corp/authorize")),
        Behaviour::person("zoe", "zoe@example.com"),
    );
    let unbound = fragment(&location(&back(&app, &url, &callback))).1;
    let planted = json!({ "login_code": unbound, "code_verifier": verifier });
    assert_error(&app.post_json("/idp/exchange", &planted.to_string()), 401, "invalid_code");
    assert_error(&get(&app, "/idp/corp/authorize?code_challenge=short"), 400, "invalid_request");
}

#[test]
fn a_forged_or_misissued_id_token_signs_nobody_in() {
    let provider = FakeProvider::start();
    let (app, url) = app_with(&provider, &[]);
    let ann = || Behaviour::person("ann", "ann@example.com");
    let why = || last_failure(&app);
    for (behaviour, reason) in [
        (Behaviour { bad_signature: true, ..ann() }, "InvalidSignature"),
        (Behaviour { issuer: Some("https://elsewhere.example".into()), ..ann() }, "InvalidIssuer"),
        (Behaviour { omit_exp: true, ..ann() }, "exp"),
        (Behaviour { hs256: true, ..ann() }, "HS256"),
    ] {
        let (key, value) = round_trip(&app, &url, &provider, behaviour);
        assert_eq!((key.as_str(), value.as_str()), ("error", "provider_error"));
        eventually(&format!("the log to say {reason}"), || why().contains(reason));
    }
    // A provider with one key may leave `kid` out.
    let (key, _) = round_trip(&app, &url, &provider, Behaviour { no_kid: true, ..ann() });
    assert_eq!(key, "login_code");
    let accounts: i64 = app.sql().query_one("SELECT count(*) FROM accounts", &[]).unwrap().get(0);
    assert_eq!(accounts, 1, "only the last sign-in made an account");
}

#[test]
fn a_state_works_only_at_its_own_provider_and_a_pending_claim_gives_way_to_a_verified_email() {
    let provider = FakeProvider::start();
    let port = free_port();
    let url = format!("http://localhost:{port}");
    let app = app_with_issuer(
        port,
        &provider.issuer,
        CLIENT_ID,
        CLIENT_SECRET,
        &[
            ("IDENTITY_PROVIDERS", "corp,other"),
            ("IDP_OTHER_CLIENT_ID", CLIENT_ID),
            ("IDP_OTHER_CLIENT_SECRET", CLIENT_SECRET),
            ("IDP_OTHER_ISSUER", &provider.issuer),
        ],
    );
    let callback =
        provider.consent(&to_provider(&app, None), Behaviour::person("x", "x@example.com"));
    let elsewhere = callback.replace("/idp/corp/callback", "/idp/other/callback");
    assert_error(&back(&app, &url, &elsewhere), 400, "invalid_state");

    // Someone claimed the address without activating it: the provider proved the mailbox.
    assert_eq!(app.register("pam@example.com", "squatter password").status, 201);
    let (key, code) =
        round_trip(&app, &url, &provider, Behaviour::person("pam", "pam@example.com"));
    assert_eq!(key, "login_code", "{code}");
    assert_eq!(exchange(&app, &code).status, 200);
    let squatter =
        app.activate("pam@example.com", "squatter password", &app.last_code_for("pam@example.com"));
    assert_error(&squatter, 401, "invalid_credentials");
}

/// The service's last `provider_sign_in_failed` log line (it says why), or "".
fn last_failure(app: &TestApp) -> String {
    let lines = app.process.stdout();
    lines.iter().rev().find(|l| l.contains("provider_sign_in_failed")).cloned().unwrap_or_default()
}
