//! Never locked out: whoever knows only an email can spend its password budget, and the owner
//! still signs in with a code mailed to them (`POST /login/code`, `POST /login/code/verify`).

use crate::admin::admin;
use crate::support::helpers::*;
use crate::totp::{code_at, mfa, step_now, with_totp};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::sync::Arc;

const PW: &str = "correct horse";

fn ask(app: &TestApp, email: &str) -> RawResponse {
    app.post_json("/login/code", &json!({ "email": email }).to_string())
}

fn verify(app: &TestApp, email: &str, code: &str) -> RawResponse {
    app.post_json("/login/code/verify", &json!({"email": email, "code": code}).to_string())
}

/// Asks for a sign-in code for an account that has had `mails_before` mails; returns the code.
fn mailed_code(app: &TestApp, email: &str, mails_before: usize) -> String {
    assert_eq!(ask(app, email).status, 202);
    let mail = app.nth_mail_to(email, mails_before + 1);
    assert!(mail.contains("sign-in code"), "{mail}");
    let code = first_digits(&mail);
    assert_eq!(code.len(), 8, "RESET_CODE_DIGITS");
    code
}

fn amr(response: &RawResponse) -> Value {
    let token = json(response)["access_token"].as_str().unwrap().to_owned();
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()["amr"]
        .clone()
}

/// Spends `email`'s password budget with wrong passwords.
fn spend_password_budget(app: &TestApp, email: &str, limit: usize) {
    for _ in 0..limit {
        assert_error(&app.login(email, "wrong horse"), 401, "invalid_credentials");
    }
}

#[test]
fn the_owner_signs_in_with_a_mailed_code_while_a_stranger_has_spent_the_password_budget() {
    let app = TestApp::with().env("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "3").start();
    app.active_account("ann@example.com", PW);
    spend_password_budget(&app, "ann@example.com", 3);
    spend_password_budget(&app, "nobody@example.com", 3);
    let limited = app.login("ann@example.com", PW);
    assert_error(&limited, 429, "rate_limited");
    assert_eq!(json(&limited)["alternatives"], json!(["email_code"]));
    let stranger = app.login("nobody@example.com", PW);
    assert_eq!(json(&stranger), json(&limited), "429 tells nothing about which emails exist");

    let code = mailed_code(&app, "ann@example.com", 1);
    let signed_in = verify(&app, " Ann@Example.com", &code);
    assert_eq!(signed_in.status, 200, "{}", body_text(&signed_in));
    assert_eq!(amr(&signed_in), json!(["email"]));
    let access = json(&signed_in)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.with_token("GET", "/me", &access, None).status, 200);
    assert_error(&verify(&app, "ann@example.com", &code), 401, "invalid_code");
    assert_error(&app.login("ann@example.com", PW), 429, "rate_limited");

    app.process.wait_logged();
    assert!(!app.process.stdout().join("\n").contains(&code), "the code was logged");
}

#[test]
fn asking_answers_alike_for_every_email_and_only_an_active_enabled_account_gets_a_code() {
    let app = TestApp::spawn();
    app.active_account("ann@example.com", PW);
    app.register_ok("pen@example.com", PW);
    let token = admin(&app, "root@example.com");
    app.active_account("dis@example.com", PW);
    let id: i64 = app
        .sql()
        .query_one("SELECT id FROM accounts WHERE email = 'dis@example.com'", &[])
        .unwrap()
        .get(0);
    let disabled = app.with_token("POST", &format!("/admin/users/{id}/disable"), &token, None);
    assert_eq!(disabled.status, 204);

    let answers: Vec<RawResponse> =
        ["ann@example.com", "pen@example.com", "dis@example.com", "who@example.com"]
            .iter()
            .map(|email| ask(&app, email))
            .collect();
    let names = |answer: &RawResponse| {
        let mut names: Vec<String> = answer.headers.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        names
    };
    for answer in &answers {
        assert_eq!((answer.status, json(answer)), (202, json!({"status": "accepted"})));
        assert_eq!(names(answer), names(&answers[0]));
    }
    eventually("the active account's code", || app.mail_texts_to("ann@example.com").len() == 2);
    eventually("every request taken", || {
        let left: i64 =
            app.sql().query_one("SELECT count(*) FROM code_requests", &[]).unwrap().get(0);
        left == 0
    });
    assert_eq!(app.mail_texts_to("pen@example.com").len(), 1, "only its verification code");
    assert_eq!(app.mail_texts_to("dis@example.com").len(), 1, "only its verification code");
    assert!(app.mail_texts_to("who@example.com").is_empty());

    assert_error(&ask(&app, "not an email"), 400, "invalid_email");
    assert_error(&verify(&app, "ann@example.com", "123"), 400, "invalid_code_format");
    assert_error(&app.post_json("/login/code/verify", "{}"), 400, "invalid_request");
    let unknown = verify(&app, "who@example.com", "12345678");
    assert_error(&unknown, 401, "invalid_code");
    assert_eq!(unknown.header("WWW-Authenticate"), Some(r#"Bearer realm="beefirst""#));
}

#[test]
fn a_code_dies_after_its_last_wrong_try_and_wrong_codes_never_touch_the_password_budget() {
    let app = TestApp::with()
        .env("MAX_RESET_ATTEMPTS", "3")
        .env("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "2")
        .start();
    app.active_account("ann@example.com", PW);
    let code = mailed_code(&app, "ann@example.com", 1);
    for _ in 0..3 {
        assert_error(&verify(&app, "ann@example.com", &other_code(&code)), 401, "invalid_code");
    }
    assert_error(&verify(&app, "ann@example.com", &code), 401, "invalid_code");
    app.login_ok("ann@example.com", PW);

    let code = mailed_code(&app, "ann@example.com", 2);
    let fresh = mailed_code(&app, "ann@example.com", 3);
    assert_error(&verify(&app, "ann@example.com", &code), 401, "invalid_code");
    assert_eq!(verify(&app, "ann@example.com", &fresh).status, 200, "a newer code replaces it");

    let code = mailed_code(&app, "ann@example.com", 4);
    app.sql()
        .execute("UPDATE mailed_codes SET expires_at = now() WHERE purpose = 'sign_in'", &[])
        .unwrap();
    assert_error(&verify(&app, "ann@example.com", &code), 401, "invalid_code");
    let events: Vec<String> = app
        .sql()
        .query(
            "SELECT details->>'code_killed' FROM audit_events
              WHERE action = 'login_failed' AND details->>'factor' = 'email_code' ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(events, ["false", "false", "true", "false"], "each wrong code is in the trail");
}

#[test]
fn with_a_second_factor_on_the_code_is_only_the_first_step() {
    let app = TestApp::with().env("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "2").start();
    let (secret, _, _) = with_totp(&app, "two@example.com");
    spend_password_budget(&app, "two@example.com", 2);
    assert_error(&app.login("two@example.com", PW), 429, "rate_limited");
    let mails = app.mail_texts_to("two@example.com").len();
    let code = mailed_code(&app, "two@example.com", mails);
    let first = json(&verify(&app, "two@example.com", &code));
    assert_eq!(first["mfa_required"], true, "{first}");
    assert!(first.get("access_token").is_none());
    let mfa_token = first["mfa_token"].as_str().unwrap();
    let signed_in = mfa(&app, mfa_token, &code_at(&secret, step_now() + 1));
    assert_eq!(signed_in.status, 200, "the password budget does not block this path");
    assert_eq!(amr(&signed_in), json!(["email", "otp"]));
}

#[test]
fn the_right_code_of_an_account_disabled_after_it_was_mailed_is_403() {
    let app = TestApp::spawn();
    let token = admin(&app, "root@example.com");
    app.active_account("dis@example.com", PW);
    let code = mailed_code(&app, "dis@example.com", 1);
    let id: i64 = app
        .sql()
        .query_one("SELECT id FROM accounts WHERE email = 'dis@example.com'", &[])
        .unwrap()
        .get(0);
    let disabled = app.with_token("POST", &format!("/admin/users/{id}/disable"), &token, None);
    assert_eq!(disabled.status, 204);
    assert_error(&verify(&app, "dis@example.com", &other_code(&code)), 401, "invalid_code");
    assert_error(&verify(&app, "dis@example.com", &code), 403, "account_disabled");
    assert_error(&verify(&app, "dis@example.com", &code), 401, "invalid_code");
}

/// Holds the account row while `n` verifications of `email` with `codes(i)` start, then releases
/// it; returns their statuses. Each waits for the row and must then read what the one before it
/// wrote.
fn verifications_held_on_the_account(
    app: &Arc<TestApp>,
    email: &'static str,
    n: usize,
    codes: impl Fn(usize) -> String,
) -> Vec<u16> {
    let mut holder = app.sql();
    let mut hold = holder.transaction().unwrap();
    hold.execute("SELECT 1 FROM accounts WHERE email = $1 FOR UPDATE", &[&email]).unwrap();
    let requests: Vec<_> = (0..n)
        .map(|i| {
            let (app, code) = (Arc::clone(app), codes(i));
            std::thread::spawn(move || verify(&app, email, &code).status)
        })
        .collect();
    eventually("every verification waits for the account", || app.waiting_for_locks() == n as i64);
    hold.commit().unwrap();
    requests.into_iter().map(|r| r.join().unwrap()).collect()
}

#[test]
fn parallel_guesses_never_get_more_tries_than_the_limit_and_a_code_signs_in_once() {
    let app = Arc::new(TestApp::with().env("RATE_LIMIT_IP_PER_MINUTE", "0").start());
    app.active_account("par@example.com", PW);
    let code = mailed_code(&app, "par@example.com", 1);
    let wrong = other_code(&code);
    let statuses = verifications_held_on_the_account(&app, "par@example.com", 8, |_| wrong.clone());
    assert_eq!(count(&statuses, 401), 8);
    let tries: i32 = app
        .sql()
        .query_opt("SELECT wrong_attempts FROM mailed_codes WHERE purpose = 'sign_in'", &[])
        .unwrap()
        .map_or(-1, |r| r.get(0));
    assert_eq!(tries, -1, "the 5th wrong try deleted the code; no try went uncounted");
    assert_error(&verify(&app, "par@example.com", &code), 401, "invalid_code");

    let code = mailed_code(&app, "par@example.com", 2);
    let statuses = verifications_held_on_the_account(&app, "par@example.com", 4, |_| code.clone());
    assert_eq!((count(&statuses, 200), count(&statuses, 401)), (1, 3), "{statuses:?}");
}
