//! Passkeys: added from the account with the password, then signing in usernameless with no
//! password; a complete second factor; every check of the ceremony (origin, RP ID, UV flag,
//! challenge, single use, counter, user handle) refused with one body; list, rename, delete.

pub(crate) mod authenticator;

use crate::admin::admin;
use crate::support::helpers::*;
use crate::totp::with_totp;
use authenticator::Authenticator;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const PW: &str = "correct horse";

fn post(app: &TestApp, path: &str, token: &str, body: Value) -> RawResponse {
    app.with_token("POST", path, token, Some(&body.to_string()))
}

/// `POST /me/passkeys/options`: the ceremony and the creation options.
fn registration_options(app: &TestApp, token: &str) -> (String, Value) {
    let answer = post(app, "/me/passkeys/options", token, json!({ "password": PW }));
    assert_eq!(answer.status, 200, "{}", body_text(&answer));
    let body = json(&answer);
    (body["ceremony"].as_str().unwrap().to_owned(), body["publicKey"].clone())
}

/// Adds `key` to the account of `token`; the answer.
fn add(app: &TestApp, token: &str, key: &mut Authenticator, name: Option<&str>) -> RawResponse {
    let (ceremony, options) = registration_options(app, token);
    let credential = key.create(&options);
    let mut body = json!({ "ceremony": ceremony, "credential": credential });
    if let Some(name) = name {
        body["name"] = name.into();
    }
    post(app, "/me/passkeys", token, body)
}

/// An active account with one passkey; its access token and the passkey.
fn with_passkey(app: &TestApp, email: &str) -> (String, Authenticator) {
    app.active_account(email, PW);
    let token = app.login_ok(email, PW);
    let mut key = Authenticator::new();
    let added = add(app, &token, &mut key, Some("Laptop"));
    assert_eq!(added.status, 201, "{}", body_text(&added));
    (token, key)
}

/// `POST /login/passkey/options`: the ceremony and the request options.
fn sign_in_options(app: &TestApp) -> (String, Value) {
    let answer = app.post_json("/login/passkey/options", "{}");
    assert_eq!(answer.status, 200, "{}", body_text(&answer));
    let body = json(&answer);
    (body["ceremony"].as_str().unwrap().to_owned(), body["publicKey"].clone())
}

fn sign_in_with(app: &TestApp, ceremony: &str, credential: &Value) -> RawResponse {
    let body = json!({ "ceremony": ceremony, "credential": credential });
    app.post_json("/login/passkey", &body.to_string())
}

/// A whole usernameless sign-in with `key`.
fn sign_in(app: &TestApp, key: &mut Authenticator) -> RawResponse {
    let (ceremony, options) = sign_in_options(app);
    sign_in_with(app, &ceremony, &key.get(&options))
}

fn claims(response: &RawResponse) -> Value {
    let token = json(response)["access_token"].as_str().unwrap().to_owned();
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn actions(app: &TestApp, email: &str) -> Vec<String> {
    let rows = app
        .sql()
        .query(
            "SELECT e.action FROM audit_events e JOIN accounts a ON a.id = e.account_id
              WHERE a.email = $1 ORDER BY e.id",
            &[&email],
        )
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// The one body of every failed passkey sign-in.
fn refused(response: &RawResponse) -> Value {
    assert_error(response, 401, "invalid_credential");
    json(response)
}

#[test]
fn a_passkey_added_with_the_password_signs_in_with_no_username_and_no_password() {
    let app = TestApp::spawn();
    app.active_account("ann@example.com", PW);
    let token = app.login_ok("ann@example.com", PW);
    let me = json(&app.with_token("GET", "/me", &token, None));
    assert!(me["recovery_codes_left"].is_null(), "no second factor, no recovery codes: {me}");
    let (ceremony, options) = registration_options(&app, &token);
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
    assert!(options["pubKeyCredParams"].as_array().unwrap().iter().any(|p| p["alg"] == -7));
    assert!(options["excludeCredentials"].as_array().is_none_or(|a| a.is_empty()));
    let mut key = Authenticator::new();
    let credential = key.create(&options);
    let body = json!({ "ceremony": ceremony, "credential": credential, "name": " Laptop " });
    let added = post(&app, "/me/passkeys", &token, body);
    assert_eq!(added.status, 201, "{}", body_text(&added));
    let passkey = json(&added);
    assert_eq!(
        (passkey["name"].as_str(), passkey["last_used_at"].is_null()),
        (Some("Laptop"), true)
    );
    assert!(app.nth_mail_to("ann@example.com", 2).contains("passkey named \"Laptop\""));

    let (ceremony, options) = sign_in_options(&app);
    assert_eq!(options["rpId"], "localhost");
    assert_eq!(options["userVerification"], "required");
    assert!(options["allowCredentials"].as_array().is_none_or(|a| a.is_empty()));
    let signed_in = sign_in_with(&app, &ceremony, &key.get(&options));
    assert_eq!(signed_in.status, 200, "{}", body_text(&signed_in));
    assert_eq!(claims(&signed_in)["amr"], json!(["hwk", "user"]));
    assert_eq!(claims(&signed_in)["email"], "ann@example.com");
    let access = json(&signed_in)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.with_token("GET", "/me", &access, None).status, 200);
    let listed = json(&app.with_token("GET", "/me/passkeys", &access, None));
    assert_eq!(listed["passkeys"].as_array().unwrap().len(), 1);
    assert!(listed["passkeys"][0]["last_used_at"].is_string(), "{listed}");
    assert!(listed["passkeys"][0].get("credential").is_none(), "no key material is shown");
    let trail = actions(&app, "ann@example.com");
    assert!(
        trail.ends_with(&["passkey_added".into(), "login_succeeded".into(), "passkey_used".into()]),
        "{trail:?}"
    );

    // A second options call lists the passkey to exclude, under the same user handle.
    let (_, again) = registration_options(&app, &token);
    assert_eq!(again["user"]["id"], options_user_id(&key));
    let excluded = again["excludeCredentials"][0]["id"].as_str().unwrap();
    assert_eq!(URL_SAFE_NO_PAD.decode(excluded).unwrap(), key.credential_id);
}

fn options_user_id(key: &Authenticator) -> String {
    URL_SAFE_NO_PAD.encode(&key.user_handle)
}

#[test]
fn a_passkey_is_a_complete_second_factor() {
    let app = TestApp::spawn();
    let (_, _, token) = with_totp(&app, "ann@example.com");
    assert_eq!(json(&app.login("ann@example.com", PW))["mfa_required"], true);
    let mut key = Authenticator::new();
    assert_eq!(add(&app, &token, &mut key, None).status, 201);
    let signed_in = sign_in(&app, &mut key);
    assert_eq!(signed_in.status, 200, "{}", body_text(&signed_in));
    assert!(json(&signed_in)["access_token"].is_string(), "no mfa_token step");
    assert_eq!(claims(&signed_in)["amr"], json!(["hwk", "user"]));
}

#[test]
fn a_ceremony_from_another_origin_or_for_another_relying_party_is_refused() {
    let app = TestApp::spawn();
    app.active_account("ann@example.com", PW);
    let token = app.login_ok("ann@example.com", PW);
    let mut phished = Authenticator::new();
    phished.origin = "https://evil.example".into();
    assert_error(&add(&app, &token, &mut phished, None), 400, "invalid_credential");
    let mut other_rp = Authenticator::new();
    other_rp.rp_id = "example.com".into();
    assert_error(&add(&app, &token, &mut other_rp, None), 400, "invalid_credential");

    let (_, mut key) = with_passkey(&app, "bob@example.com");
    key.origin = "https://evil.example".into();
    let one = refused(&sign_in(&app, &mut key));
    key.origin = "http://localhost:8080".into();
    key.rp_id = "example.com".into();
    assert_eq!(refused(&sign_in(&app, &mut key)), one, "one body");
    key.rp_id = "localhost".into();
    assert_eq!(sign_in(&app, &mut key).status, 200, "the same key from the right place");
}

#[test]
fn without_user_verification_a_passkey_is_neither_added_nor_accepted() {
    let app = TestApp::spawn();
    app.active_account("ann@example.com", PW);
    let token = app.login_ok("ann@example.com", PW);
    let mut presence_only = Authenticator::new();
    presence_only.user_verified = false;
    assert_error(&add(&app, &token, &mut presence_only, None), 400, "invalid_credential");
    let (_, mut key) = with_passkey(&app, "bob@example.com");
    let before = actions(&app, "bob@example.com");
    key.user_verified = false;
    refused(&sign_in(&app, &mut key));
    // Credential IDs are not secret: a failure that proves nothing about its sender is not
    // written into the owner's trail (anyone could fill it).
    assert_eq!(actions(&app, "bob@example.com"), before);
}

#[test]
fn a_ceremony_answers_once_and_only_within_its_time() {
    let app = TestApp::spawn();
    let (token, mut key) = with_passkey(&app, "ann@example.com");
    key.counting = false; // so that only the ceremony can refuse a replay, not the counter
    let (ceremony, options) = sign_in_options(&app);
    let assertion = key.get(&options);
    assert_eq!(sign_in_with(&app, &ceremony, &assertion).status, 200);
    refused(&sign_in_with(&app, &ceremony, &assertion)); // replayed as is
    refused(&sign_in_with(&app, &ceremony, &key.get(&options))); // a fresh signature, same ceremony
    let (other, _) = sign_in_options(&app);
    refused(&sign_in_with(&app, &other, &key.get(&options))); // another ceremony's challenge
    refused(&sign_in_with(&app, "not-a-ceremony", &key.get(&options)));

    let (late, options) = sign_in_options(&app);
    app.sql()
        .execute("UPDATE webauthn_ceremonies SET expires_at = now() - interval '1 second'", &[])
        .unwrap();
    refused(&sign_in_with(&app, &late, &key.get(&options)));

    // A registration ceremony belongs to its account and is spent by a failure too.
    let (ceremony, options) = registration_options(&app, &token);
    let mut second = Authenticator::new();
    let mut wrong = second.create(&options);
    wrong["response"]["clientDataJSON"] = "e30".into(); // {}
    let body = json!({ "ceremony": ceremony, "credential": wrong });
    assert_error(&post(&app, "/me/passkeys", &token, body), 400, "invalid_credential");
    let body = json!({ "ceremony": ceremony, "credential": second.create(&options) });
    assert_error(&post(&app, "/me/passkeys", &token, body), 400, "invalid_credential");
    app.active_account("bob@example.com", PW);
    let bob = app.login_ok("bob@example.com", PW);
    let (ceremony, options) = registration_options(&app, &token);
    let body = json!({ "ceremony": ceremony, "credential": Authenticator::new().create(&options) });
    assert_error(&post(&app, "/me/passkeys", &bob, body), 400, "invalid_credential");
    let count: i64 = app.sql().query_one("SELECT count(*) FROM passkeys", &[]).unwrap().get(0);
    assert_eq!(count, 1);
}

#[test]
fn a_counter_that_goes_back_refuses_the_sign_in_and_is_recorded() {
    let app = TestApp::spawn();
    let (_, mut key) = with_passkey(&app, "ann@example.com");
    key.counter = 4;
    assert_eq!(sign_in(&app, &mut key).status, 200); // counter 5 stored
    key.counter = 2; // a copy of the key that signed less often
    refused(&sign_in(&app, &mut key));
    assert!(actions(&app, "ann@example.com").ends_with(&["passkey_counter_regressed".into()]));
    key.counter = 4; // the same counter as stored is no increase either
    refused(&sign_in(&app, &mut key));
    assert_eq!(sign_in(&app, &mut key).status, 200, "6 > 5: the genuine key goes on");

    // A passkey that never counts (synced passkeys report 0) is not a regression.
    let (_, mut synced) = with_passkey(&app, "bob@example.com");
    synced.counting = false;
    assert_eq!(sign_in(&app, &mut synced).status, 200);
    assert_eq!(sign_in(&app, &mut synced).status, 200);
}

#[test]
fn a_passkey_of_one_account_opens_no_other() {
    let app = TestApp::spawn();
    let (_, mut ann_key) = with_passkey(&app, "ann@example.com");
    let (bob, bob_key) = with_passkey(&app, "bob@example.com");
    // Bob cannot register Ann's credential as his.
    let (ceremony, options) = registration_options(&app, &bob);
    let mut copy = Authenticator::new();
    copy.credential_id = ann_key.credential_id.clone();
    let body = json!({ "ceremony": ceremony, "credential": copy.create(&options) });
    assert_error(&post(&app, "/me/passkeys", &bob, body), 400, "invalid_credential");
    // Ann's credential presented with Bob's user handle.
    let ann_handle = std::mem::replace(&mut ann_key.user_handle, bob_key.user_handle.clone());
    refused(&sign_in(&app, &mut ann_key));
    ann_key.user_handle = ann_handle;
    let signed_in = sign_in(&app, &mut ann_key);
    assert_eq!(claims(&signed_in)["email"], "ann@example.com");
    // Bob's passkeys are not Ann's to rename or remove.
    let ann = json(&signed_in)["access_token"].as_str().unwrap().to_owned();
    let bobs =
        json(&app.with_token("GET", "/me/passkeys", &bob, None))["passkeys"][0]["id"].clone();
    let path = format!("/me/passkeys/{bobs}");
    assert_error(&app.with_token("DELETE", &path, &ann, None), 404, "not_found");
    let rename = json!({ "name": "mine" }).to_string();
    assert_error(&app.with_token("PATCH", &path, &ann, Some(&rename)), 404, "not_found");
}

#[test]
fn passkeys_are_renamed_and_removed_and_a_removed_one_signs_in_no_more() {
    let app = TestApp::spawn();
    let (token, mut key) = with_passkey(&app, "ann@example.com");
    let id =
        json(&app.with_token("GET", "/me/passkeys", &token, None))["passkeys"][0]["id"].clone();
    let path = format!("/me/passkeys/{id}");
    let renamed = app.with_token("PATCH", &path, &token, Some(r#"{"name":"YubiKey 5"}"#));
    assert_eq!(json(&renamed)["name"], "YubiKey 5");
    for bad in [json!(""), json!("x".repeat(65)), json!("tab\there"), json!("zero\u{200B}width")] {
        let body = json!({ "name": bad }).to_string();
        assert_error(&app.with_token("PATCH", &path, &token, Some(&body)), 400, "invalid_name");
    }
    assert_eq!(app.with_token("DELETE", &path, &token, None).status, 204);
    assert!(app.nth_mail_to("ann@example.com", 3).contains("\"YubiKey 5\" can no longer"));
    assert_error(&app.with_token("DELETE", &path, &token, None), 404, "not_found");
    refused(&sign_in(&app, &mut key));
    assert!(actions(&app, "ann@example.com").contains(&"passkey_removed".to_string()));
    let listed = json(&app.with_token("GET", "/me/passkeys", &token, None));
    assert_eq!(listed, json!({ "passkeys": [] }));
}

#[test]
fn adding_a_passkey_asks_for_the_password_and_a_disabled_account_signs_in_with_none() {
    let app = TestApp::spawn();
    let root = admin(&app, "root@example.com");
    let (token, mut key) = with_passkey(&app, "ann@example.com");
    let wrong = post(&app, "/me/passkeys/options", &token, json!({ "password": "wrong horse" }));
    assert_error(&wrong, 403, "wrong_password");
    assert_error(
        &post(&app, "/me/passkeys/options", "nope", json!({ "password": PW })),
        401,
        "invalid_token",
    );
    let id: i64 = app
        .sql()
        .query_one("SELECT id FROM accounts WHERE email = 'ann@example.com'", &[])
        .unwrap()
        .get(0);
    let disabled = post(&app, &format!("/admin/users/{id}/disable"), &root, json!({}));
    assert_eq!(disabled.status, 204, "{}", body_text(&disabled));
    assert_error(&sign_in(&app, &mut key), 403, "account_disabled");
}

#[test]
fn an_account_holds_at_most_twenty_passkeys_each_with_a_long_enough_credential_id() {
    let app = TestApp::spawn();
    let (token, _) = with_passkey(&app, "ann@example.com");
    let mut short = Authenticator::new();
    short.credential_id.truncate(8);
    assert_error(&add(&app, &token, &mut short, None), 400, "invalid_credential");
    app.sql()
        .execute(
            "INSERT INTO passkeys (account_id, credential_id, user_handle, name, credential)
             SELECT account_id, int8send(g) || int8send(g), user_handle, 'copy ' || g, credential
               FROM passkeys, generate_series(1, 19) g",
            &[],
        )
        .unwrap();
    let full = post(&app, "/me/passkeys/options", &token, json!({ "password": PW }));
    assert_error(&full, 409, "too_many_passkeys");
}

#[test]
fn parallel_registrations_share_one_user_handle_and_a_deletion_racing_one_is_never_a_500() {
    let app = std::sync::Arc::new(TestApp::spawn());
    app.active_account("ann@example.com", PW);
    let token = app.login_ok("ann@example.com", PW);
    let handles: Vec<String> = std::thread::scope(|s| {
        let calls: Vec<_> =
            (0..4).map(|_| s.spawn(|| registration_options(&app, &token).1)).collect();
        calls
            .into_iter()
            .map(|c| c.join().unwrap()["user"]["id"].as_str().unwrap().to_owned())
            .collect()
    });
    assert!(handles.iter().all(|h| *h == handles[0]), "{handles:?}");
    for round in 0..6 {
        let email = format!("gone{round}@example.com");
        app.active_account(&email, PW);
        let token = app.login_ok(&email, PW);
        let statuses = std::thread::scope(|s| {
            let options = s.spawn(|| {
                post(&app, "/me/passkeys/options", &token, json!({ "password": PW })).status
            });
            let deletion = s.spawn(|| {
                app.with_token(
                    "DELETE",
                    "/me",
                    &token,
                    Some(&json!({ "password": PW }).to_string()),
                )
                .status
            });
            [options.join().unwrap(), deletion.join().unwrap()]
        });
        assert!(
            [200, 401].contains(&statuses[0]) && statuses[1] == 204,
            "round {round}: {statuses:?}"
        );
    }
}
