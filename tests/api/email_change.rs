//! Change of email: the new address proves itself with a mailed code, the old one is told and
//! freed, and the database's UNIQUE constraint decides a race with a registration.

use crate::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::sync::Arc;

const PW: &str = "correct horse";

fn request_change(app: &TestApp, token: &str, new_email: &str, password: &str) -> RawResponse {
    let body = json!({"new_email": new_email, "password": password}).to_string();
    app.with_token("POST", "/me/email", token, Some(&body))
}

fn confirm(app: &TestApp, token: &str, code: &str) -> RawResponse {
    let body = json!({ "code": code }).to_string();
    app.with_token("POST", "/me/email/confirm", token, Some(&body))
}

fn claims(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// An active account with a live session: (access token, refresh token).
fn signed_in(app: &TestApp, email: &str) -> (String, String) {
    app.active_account(email, PW);
    let body = json(&app.login(email, PW));
    (body["access_token"].as_str().unwrap().into(), body["refresh_token"].as_str().unwrap().into())
}

#[test]
fn a_confirmed_change_moves_the_account_and_frees_the_old_address() {
    let app = TestApp::spawn();
    let (access, refresh) = signed_in(&app, "old@example.com");
    let answer = request_change(&app, &access, " New@Example.com", PW);
    assert_eq!(answer.status, 202, "{}", body_text(&answer));
    assert_eq!(
        json(&answer),
        json!({"email": "old@example.com", "pending_email": "new@example.com", "expires_in": 900})
    );
    let code = first_digits(&app.nth_mail_to("new@example.com", 1));
    assert_eq!(code.len(), 8);
    assert!(app.nth_mail_to("old@example.com", 2).contains("new@example.com"), "told at once");

    let profile = confirm(&app, &access, &code);
    assert_eq!(profile.status, 200, "{}", body_text(&profile));
    assert_eq!(json(&profile)["email"], "new@example.com");
    let notice = app.nth_mail_to("old@example.com", 3);
    assert!(notice.contains("changed to new@example.com"), "{notice}");

    let me = app.with_token("GET", "/me", &access, None);
    assert_eq!(json(&me)["email"], "new@example.com", "the session lives on");
    let pair = app.post_json("/token/refresh", &json!({ "refresh_token": refresh }).to_string());
    let next_access = json(&pair)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&next_access)["email"], "new@example.com");
    assert_error(&app.login("old@example.com", PW), 401, "invalid_credentials");
    app.login_ok("new@example.com", PW);
    assert_eq!(app.register("old@example.com", PW).status, 201, "the old address is free");
    assert_error(&confirm(&app, &access, &code), 409, "no_pending_change");
}

#[test]
fn a_change_needs_the_password_a_new_free_address_and_a_token() {
    let app = TestApp::with().env("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "2").start();
    let (access, _) = signed_in(&app, "pat@example.com");
    app.active_account("taken@example.com", PW);
    app.register_ok("claimed@example.com", PW);
    assert_error(
        &request_change(&app, &access, "x@example.com", "wrong password"),
        403,
        "wrong_password",
    );
    assert_error(&request_change(&app, &access, "PAT@example.com", PW), 400, "same_email");
    assert_error(&request_change(&app, &access, "no-at-sign", PW), 400, "invalid_email");
    assert_error(&request_change(&app, &access, "taken@example.com", PW), 409, "email_taken");
    assert_error(&request_change(&app, &access, "claimed@example.com", PW), 409, "email_taken");
    assert_error(&request_change(&app, "not-a-token", "x@example.com", PW), 401, "invalid_token");
    let missing =
        app.with_token("POST", "/me/email", &access, Some(r#"{"new_email":"x@example.com"}"#));
    assert_error(&missing, 400, "invalid_request");
    // The wrong password above counted as a failed login: the second one reaches the limit.
    assert_error(
        &request_change(&app, &access, "x@example.com", "wrong again"),
        403,
        "wrong_password",
    );
    assert_error(&request_change(&app, &access, "x@example.com", PW), 429, "rate_limited");
    assert_eq!(app.mail_texts_to("x@example.com").len(), 0);
}

#[test]
fn wrong_expired_and_used_up_codes_are_told_apart() {
    let app = TestApp::with().env("MAX_RESET_ATTEMPTS", "2").start();
    let (access, _) = signed_in(&app, "quy@example.com");
    assert_error(&confirm(&app, &access, "12345678"), 409, "no_pending_change");
    assert_error(&confirm(&app, &access, "1234"), 400, "invalid_code_format");
    assert_error(&confirm(&app, "bad-token", "12345678"), 401, "invalid_token");

    assert_eq!(request_change(&app, &access, "quy2@example.com", PW).status, 202);
    let code = first_digits(&app.nth_mail_to("quy2@example.com", 1));
    let wrong = confirm(&app, &access, &other_code(&code));
    assert_error(&wrong, 422, "wrong_code");
    assert_eq!(json(&wrong)["attempts_remaining"], 1);
    assert_error(&confirm(&app, &access, &other_code(&code)), 410, "attempts_exhausted");
    assert_error(&confirm(&app, &access, &code), 409, "no_pending_change");

    assert_eq!(request_change(&app, &access, "quy3@example.com", PW).status, 202);
    let code = first_digits(&app.nth_mail_to("quy3@example.com", 1));
    app.sql().execute("UPDATE email_changes SET expires_at = now()", &[]).unwrap();
    assert_error(&confirm(&app, &access, &code), 410, "code_expired");
    assert_eq!(json(&app.with_token("GET", "/me", &access, None))["email"], "quy@example.com");
}

#[test]
fn an_address_registered_meanwhile_makes_the_confirmation_409_and_cancels_it() {
    let app = TestApp::spawn();
    let (access, _) = signed_in(&app, "ray@example.com");
    assert_eq!(request_change(&app, &access, "wanted@example.com", PW).status, 202);
    let code = first_digits(&app.nth_mail_to("wanted@example.com", 1));
    app.register_ok("wanted@example.com", "someone else's password");
    assert_error(&confirm(&app, &access, &code), 409, "email_taken");
    assert_error(&confirm(&app, &access, &code), 409, "no_pending_change");
    // An expired claim does not hold an address: it is released as a registration would.
    assert_eq!(request_change(&app, &access, "lapsed@example.com", PW).status, 202);
    let code = first_digits(&app.nth_mail_to("lapsed@example.com", 1));
    app.register_ok("lapsed@example.com", "someone else's password");
    app.expire_in("lapsed@example.com", -1.0);
    assert_eq!(confirm(&app, &access, &code).status, 200);
}

#[test]
fn a_registration_racing_the_confirmation_of_one_address_one_wins() {
    let app = Arc::new(TestApp::with().env("RATE_LIMIT_IP_PER_MINUTE", "0").start());
    let (access, _) = signed_in(&app, "sam@example.com");
    let mut winners = [0, 0];
    for round in 0..8u64 {
        let target = format!("race{round}@example.com");
        assert_eq!(request_change(&app, &access, &target, PW).status, 202);
        let code = first_digits(&app.nth_mail_to(&target, 1));
        let statuses = in_parallel(2, {
            let (app, access, target) = (Arc::clone(&app), access.clone(), target.clone());
            move |i| match i {
                0 => {
                    // Staggered so that each side wins some rounds.
                    std::thread::sleep(std::time::Duration::from_millis(round * 2));
                    confirm(&app, &access, &code).status
                }
                _ => app.register(&target, "another password").status,
            }
        });
        let rows: i64 = app
            .sql()
            .query_one("SELECT count(*) FROM accounts WHERE email = $1", &[&target])
            .unwrap()
            .get(0);
        assert_eq!(rows, 1, "round {round}: {statuses:?}");
        match (statuses[0], statuses[1]) {
            (200, 409) => winners[0] += 1,
            (409, 201) => winners[1] += 1,
            other => panic!("round {round}: exactly one must win, got {other:?}"),
        }
        if statuses[0] == 200 {
            let back = format!("sam{round}@example.com");
            assert_eq!(request_change(&app, &access, &back, PW).status, 202);
            let code = first_digits(&app.nth_mail_to(&back, 1));
            assert_eq!(confirm(&app, &access, &code).status, 200);
        }
    }
    println!("confirmation won {} rounds, registration {}", winners[0], winners[1]);
}

#[test]
fn a_reset_or_a_password_change_cancels_a_pending_change() {
    let app = TestApp::spawn();
    let (access, _) = signed_in(&app, "tia@example.com");
    assert_eq!(request_change(&app, &access, "tia2@example.com", PW).status, 202);
    let code = first_digits(&app.nth_mail_to("tia2@example.com", 1));
    let change = json!({"current_password": PW, "new_password": "a new password"}).to_string();
    assert_eq!(app.with_token("POST", "/me/password", &access, Some(&change)).status, 204);
    assert_error(&confirm(&app, &access, &code), 409, "no_pending_change");

    assert_eq!(request_change(&app, &access, "tia3@example.com", "a new password").status, 202);
    let code = first_digits(&app.nth_mail_to("tia3@example.com", 1));
    let forgot = app.post_json("/password/forgot", r#"{"email":"tia@example.com"}"#);
    assert_eq!(forgot.status, 202);
    eventually("the reset code", || {
        app.mail_texts_to("tia@example.com").iter().any(|t| t.contains("password reset code"))
    });
    let texts = app.mail_texts_to("tia@example.com");
    let reset_code =
        first_digits(texts.iter().find(|t| t.contains("password reset code")).unwrap());
    let body =
        json!({"email": "tia@example.com", "code": reset_code, "new_password": "reset password"});
    assert_eq!(app.post_json("/password/reset", &body.to_string()).status, 204);
    let fresh = app.login_ok("tia@example.com", "reset password");
    assert_error(&confirm(&app, &fresh, &code), 409, "no_pending_change");
}
