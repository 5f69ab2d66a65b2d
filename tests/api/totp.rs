//! The second factor: enrolment, two-step login with TOTP or a recovery code, replay and skew,
//! attempt limits, turning it off. Codes are computed here from the returned secret, as an
//! authenticator app would (RFC 6238 with HMAC-SHA1, independent of the service's code).

use crate::support::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PW: &str = "correct horse";

/// RFC 4648 base32 without padding, as an authenticator app reads the secret.
pub(crate) fn base32_decode(text: &str) -> Vec<u8> {
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0);
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {text}"),
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// The current 30-second step, by this machine's clock.
pub(crate) fn step_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 / 30
}

/// Waits until at least `margin` seconds of the current step remain, so a test's codes cannot
/// straddle a step boundary.
fn settle(margin: u64) {
    let into = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() % 30;
    if 30 - into < margin {
        std::thread::sleep(Duration::from_secs(30 - into));
    }
}

/// The 6-digit code of `secret` (base32) for `step`.
pub(crate) fn code_at(secret: &str, step: i64) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(&base32_decode(secret)).unwrap();
    mac.update(&(step as u64).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes(digest[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", value % 1_000_000)
}

fn post(app: &TestApp, path: &str, token: &str, body: Value) -> RawResponse {
    app.with_token("POST", path, token, Some(&body.to_string()))
}

/// Starts an enrolment and returns the secret.
fn enroll(app: &TestApp, token: &str) -> String {
    let answer = post(app, "/me/totp", token, json!({ "password": PW }));
    assert_eq!(answer.status, 200, "{}", body_text(&answer));
    json(&answer)["secret"].as_str().unwrap().to_owned()
}

/// An active account with TOTP on, confirmed with the code of the current step: (secret,
/// recovery codes, access token).
pub(crate) fn with_totp(app: &TestApp, email: &str) -> (String, Vec<String>, String) {
    app.active_account(email, PW);
    let token = app.login_ok(email, PW);
    let secret = enroll(app, &token);
    let answer =
        post(app, "/me/totp/confirm", &token, json!({"code": code_at(&secret, step_now())}));
    assert_eq!(answer.status, 200, "{}", body_text(&answer));
    let codes: Vec<String> =
        serde_json::from_value(json(&answer)["recovery_codes"].clone()).unwrap();
    (secret, codes, token)
}

/// `POST /login` for an account with TOTP on: the mfa_token.
fn password_step(app: &TestApp, email: &str) -> String {
    let answer = json(&app.login(email, PW));
    assert_eq!(answer["mfa_required"], true, "{answer}");
    assert!(answer.get("access_token").is_none());
    answer["mfa_token"].as_str().unwrap().to_owned()
}

pub(crate) fn mfa(app: &TestApp, mfa_token: &str, code: &str) -> RawResponse {
    app.post_json("/login/mfa", &json!({"mfa_token": mfa_token, "code": code}).to_string())
}

fn claims(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[test]
fn enrolment_then_a_two_step_login_with_the_app_s_code() {
    settle(5);
    let app = TestApp::spawn();
    app.active_account("ann@example.com", PW);
    let token = app.login_ok("ann@example.com", PW);
    assert_error(
        &post(&app, "/me/totp", &token, json!({"password": "wrong one"})),
        403,
        "wrong_password",
    );
    let replaced = enroll(&app, &token);
    let answer = json(&post(&app, "/me/totp", &token, json!({ "password": PW })));
    let secret = answer["secret"].as_str().unwrap().to_owned();
    assert_eq!(base32_decode(&secret).len(), 20);
    assert_eq!(
        answer["otpauth_uri"],
        format!(
            "otpauth://totp/beefirst:ann%40example.com?secret={secret}&issuer=beefirst\
             &algorithm=SHA1&digits=6&period=30"
        )
    );
    let now = step_now();
    let confirm = |code: String| post(&app, "/me/totp/confirm", &token, json!({ "code": code }));
    assert_error(&confirm(code_at(&replaced, now)), 422, "wrong_code");
    assert_error(&confirm("12345".into()), 400, "invalid_code_format");
    let other = app.login_ok("ann@example.com", PW);
    assert_eq!(app.with_token("POST", "/logout", &other, None).status, 204);
    let revoked = post(&app, "/me/totp/confirm", &other, json!({"code": code_at(&secret, now)}));
    assert_error(&revoked, 401, "invalid_token");
    let confirmed = confirm(code_at(&secret, now));
    assert_eq!(confirmed.status, 200, "{}", body_text(&confirmed));
    let codes: Vec<String> =
        serde_json::from_value(json(&confirmed)["recovery_codes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'), "{codes:?}");
    assert!(app.nth_mail_to("ann@example.com", 2).contains("authenticator app"));
    assert_error(
        &post(&app, "/me/totp", &token, json!({ "password": PW })),
        409,
        "totp_already_enabled",
    );

    let answer = json(&app.login("ann@example.com", PW));
    assert_eq!(answer["expires_in"], 300);
    let mfa_token = answer["mfa_token"].as_str().unwrap();
    assert_error(&mfa(&app, mfa_token, &code_at(&secret, now)), 401, "invalid_code"); // replay
    let pair = mfa(&app, mfa_token, &code_at(&secret, now + 1));
    assert_eq!(pair.status, 200, "{}", body_text(&pair));
    let access = json(&pair)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&access)["amr"], json!(["pwd", "otp"]));
    let again = mfa(&app, mfa_token, &code_at(&secret, now + 1));
    assert_error(&again, 401, "invalid_code"); // the mfa_token was used up
    assert_eq!(app.with_token("GET", "/me", &access, None).status, 200);
}

#[test]
fn one_step_of_clock_skew_is_accepted_and_no_code_twice_or_older() {
    settle(5);
    let app = TestApp::spawn();
    app.active_account("bea@example.com", PW);
    let token = app.login_ok("bea@example.com", PW);
    let secret = enroll(&app, &token);
    let now = step_now();
    let confirm =
        |step: i64| post(&app, "/me/totp/confirm", &token, json!({"code": code_at(&secret, step)}));
    assert_error(&confirm(now - 2), 422, "wrong_code");
    assert_error(&confirm(now + 2), 422, "wrong_code");
    assert_eq!(confirm(now - 1).status, 200, "the previous step is accepted");
    let login = |step: i64| {
        mfa(&app, &password_step(&app, "bea@example.com"), &code_at(&secret, step)).status
    };
    assert_eq!(login(now + 2), 401, "two steps ahead");
    assert_eq!(login(now - 1), 401, "used at the confirmation");
    assert_eq!(login(now), 200);
    assert_eq!(login(now), 401, "the same code again");
    assert_eq!(login(now + 1), 200, "the next step is accepted");
    assert_eq!(login(now), 401, "older than the newest accepted");
}

#[test]
fn a_recovery_code_works_once_even_when_two_logins_race_with_it() {
    let app = Arc::new(TestApp::spawn());
    let (_, codes, _) = with_totp(&app, "cal@example.com");
    for used in &codes[..3] {
        let tokens =
            [password_step(&app, "cal@example.com"), password_step(&app, "cal@example.com")];
        let code = used.clone();
        let shared = Arc::clone(&app);
        let statuses = in_parallel(2, move |i| mfa(&shared, &tokens[i], &code).status);
        assert_eq!((count(&statuses, 200), count(&statuses, 401)), (1, 1), "{statuses:?}");
        let again = mfa(&app, &password_step(&app, "cal@example.com"), used);
        assert_error(&again, 401, "invalid_code");
    }
    let typed = format!("  {}  ", codes[3].replace('-', "").to_uppercase());
    let pair = mfa(&app, &password_step(&app, "cal@example.com"), &typed);
    let access = json(&pair)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&access)["amr"], json!(["pwd", "otp"]));
    let me = json(&app.with_token("GET", "/me", &access, None));
    assert_eq!(me["recovery_codes_left"], 6, "the profile counts what is left");
    eventually("a notice per recovery code used", || {
        let texts = app.mail_texts_to("cal@example.com");
        texts.iter().filter(|t| t.contains("of them are left")).count() == 4
    });
    let texts = app.mail_texts_to("cal@example.com");
    assert!(texts.iter().any(|t| t.contains("6 of them are left")), "{texts:#?}");
}

#[test]
fn an_mfa_token_dies_after_five_wrong_codes_or_its_ttl_and_wrong_codes_count_as_failed_logins() {
    settle(5);
    let app = TestApp::with().env("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "7").start();
    let (secret, _, _) = with_totp(&app, "dan@example.com");
    let now = step_now();
    let mfa_token = password_step(&app, "dan@example.com");
    for _ in 0..5 {
        assert_error(&mfa(&app, &mfa_token, "000000"), 401, "invalid_code");
    }
    assert_error(&mfa(&app, &mfa_token, &code_at(&secret, now + 1)), 401, "invalid_code");
    eventually("the owner is warned", || {
        app.mail_texts_to("dan@example.com")
            .iter()
            .any(|t| t.contains("entered wrong two-factor codes"))
    });
    let mfa_token = password_step(&app, "dan@example.com");
    app.sql().execute("UPDATE mfa_challenges SET expires_at = now()", &[]).unwrap();
    assert_error(&mfa(&app, &mfa_token, &code_at(&secret, now + 1)), 401, "invalid_code");
    assert_error(&mfa(&app, &mfa_token, "not a code"), 400, "invalid_code_format");
    assert_error(&mfa(&app, "not-a-token", "123456"), 401, "invalid_code");
    assert_error(&app.post_json("/login/mfa", r#"{"code":"123456"}"#), 400, "invalid_request");
    let mfa_token = password_step(&app, "dan@example.com");
    assert_error(&mfa(&app, &mfa_token, "000000"), 401, "invalid_code");
    assert_error(&mfa(&app, &mfa_token, "000000"), 401, "invalid_code");
    // 7 wrong codes so far: the login-failure limit holds even the right code back.
    assert_error(&mfa(&app, &mfa_token, &code_at(&secret, now + 1)), 429, "rate_limited");
    assert_error(&app.login("dan@example.com", PW), 429, "rate_limited");
}

#[test]
fn turning_it_off_needs_the_password_and_a_code() {
    settle(5);
    let app = TestApp::spawn();
    let (secret, codes, token) = with_totp(&app, "eli@example.com");
    let off = |password: &str, code: &str| {
        let body = json!({"password": password, "code": code}).to_string();
        app.with_token("DELETE", "/me/totp", &token, Some(&body))
    };
    assert_error(&off("wrong one", &code_at(&secret, step_now() + 1)), 403, "wrong_password");
    assert_error(&off(PW, "000000"), 422, "wrong_code");
    assert_error(&off(PW, "1234"), 400, "invalid_code_format");
    assert_eq!(off(PW, &codes[0]).status, 204);
    assert_error(&off(PW, &codes[1]), 409, "totp_not_enabled");
    app.login_ok("eli@example.com", PW);
    eventually("the notice", || {
        app.mail_texts_to("eli@example.com").iter().any(|t| t.contains("turned off"))
    });
    let rows: i64 = app.sql().query_one("SELECT count(*) FROM recovery_codes", &[]).unwrap().get(0);
    assert_eq!(rows, 0);
}

#[test]
fn a_password_reset_leaves_the_second_factor_on() {
    let app = TestApp::spawn();
    with_totp(&app, "fay@example.com");
    assert_eq!(app.post_json("/password/forgot", r#"{"email":"fay@example.com"}"#).status, 202);
    eventually("the reset code", || {
        app.mail_texts_to("fay@example.com").iter().any(|t| t.contains("password reset code"))
    });
    let texts = app.mail_texts_to("fay@example.com");
    let code = first_digits(texts.iter().find(|t| t.contains("password reset code")).unwrap());
    let body = json!({"email": "fay@example.com", "code": code, "new_password": "a new password"});
    assert_eq!(app.post_json("/password/reset", &body.to_string()).status, 204);
    let answer = json(&app.login("fay@example.com", "a new password"));
    assert_eq!(answer["mfa_required"], true, "{answer}");
}

#[test]
fn the_secret_is_sealed_and_recovery_codes_hashed_at_rest_and_never_logged() {
    let app = TestApp::spawn();
    let (secret, codes, _) = with_totp(&app, "gus@example.com");
    let raw = base32_decode(&secret);
    let mut db = app.sql();
    let sealed: Vec<u8> =
        db.query_one("SELECT secret_sealed FROM totp_factors", &[]).unwrap().get(0);
    assert!(
        !sealed.windows(raw.len()).any(|w| w == raw.as_slice()),
        "the secret is not in the row"
    );
    assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_bytes()));
    let dump: String = db
        .query_one(
            "SELECT string_agg(t::text, ' ') FROM (SELECT row_to_json(r)::text AS t FROM recovery_codes r
              UNION ALL SELECT row_to_json(f)::text FROM totp_factors f) x",
            &[],
        )
        .unwrap()
        .get(0);
    app.process.wait_logged();
    let logs = app.process.stdout().join("\n");
    for code in &codes {
        let compact = code.replace('-', "");
        assert!(!dump.contains(&compact) && !logs.contains(&compact), "{code} stored or logged");
    }
    assert!(!logs.contains(&secret), "the secret was logged");
    assert!(logs.contains("totp_key_is_the_development_default"), "the default key is flagged");
}

#[test]
fn parallel_logins_with_one_code_accept_it_once() {
    // The test holds the account row while four logins present the same code; were the code's
    // step not recorded under that lock, more than one would be accepted.
    settle(8);
    let app = Arc::new(TestApp::with().env("RATE_LIMIT_IP_PER_MINUTE", "0").start());
    let (secret, _, _) = with_totp(&app, "hal@example.com");
    let code = code_at(&secret, step_now() + 1);
    let tokens: Vec<String> = (0..4).map(|_| password_step(&app, "hal@example.com")).collect();
    let mut holder = app.sql();
    let mut hold = holder.transaction().unwrap();
    hold.execute("SELECT 1 FROM accounts WHERE email = 'hal@example.com' FOR UPDATE", &[]).unwrap();
    let logins: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (app, code) = (Arc::clone(&app), code.clone());
            std::thread::spawn(move || mfa(&app, &token, &code).status)
        })
        .collect();
    eventually("all four wait", || app.waiting_for_locks() == 4);
    hold.commit().unwrap();
    let statuses: Vec<u16> = logins.into_iter().map(|l| l.join().unwrap()).collect();
    assert_eq!((count(&statuses, 200), count(&statuses, 401)), (1, 3), "{statuses:?}");
}

#[test]
fn an_mfa_token_dies_with_a_password_change_or_the_factor() {
    settle(5);
    let app = TestApp::spawn();
    let (secret, _, token) = with_totp(&app, "ida@example.com");
    let pending = password_step(&app, "ida@example.com");
    let change = json!({"current_password": PW, "new_password": "another password"});
    assert_eq!(post(&app, "/me/password", &token, change).status, 204);
    assert_error(&mfa(&app, &pending, &code_at(&secret, step_now() + 1)), 401, "invalid_code");
    let answer = json(&app.login("ida@example.com", "another password"));
    let pending = answer["mfa_token"].as_str().unwrap().to_owned();
    let off = json!({"password": "another password", "code": code_at(&secret, step_now() + 1)});
    assert_eq!(app.with_token("DELETE", "/me/totp", &token, Some(&off.to_string())).status, 204);
    assert_error(&mfa(&app, &pending, "123456"), 401, "invalid_code");
    app.login_ok("ida@example.com", "another password");
}

#[test]
fn five_wrong_codes_cancel_an_enrolment() {
    settle(5);
    let app = TestApp::spawn();
    app.active_account("jon@example.com", PW);
    let token = app.login_ok("jon@example.com", PW);
    let secret = enroll(&app, &token);
    let confirm = |code: &str| post(&app, "/me/totp/confirm", &token, json!({ "code": code }));
    for _ in 0..4 {
        assert_error(&confirm("000000"), 422, "wrong_code");
    }
    assert_error(&confirm("000000"), 410, "attempts_exhausted");
    assert_error(&confirm(&code_at(&secret, step_now())), 409, "no_pending_totp");
    let fresh = enroll(&app, &token);
    assert_eq!(confirm(&code_at(&fresh, step_now())).status, 200);
}

#[test]
fn parallel_wrong_codes_on_one_mfa_token_never_starve_the_pool() {
    // 8 requests on one account (3 pooled connections) hold connections while they wait for its
    // lock; the one
    // holding the lock must not need a second connection, or everything stalls into 503s.
    let app = Arc::new(
        TestApp::with().env("RATE_LIMIT_IP_PER_MINUTE", "0").env("DB_POOL_SIZE", "3").start(),
    );
    with_totp(&app, "kai@example.com");
    let token = password_step(&app, "kai@example.com");
    let shared = Arc::clone(&app);
    let statuses = in_parallel(8, move |_| mfa(&shared, &token, "000000").status);
    assert_eq!(count(&statuses, 503), 0, "{statuses:?}");
    assert!(statuses.iter().all(|s| [401, 429].contains(s)), "{statuses:?}");
}

#[test]
fn turning_it_on_ends_every_other_session_at_once() {
    settle(5);
    let app = TestApp::spawn();
    app.active_account("ivy@example.com", PW);
    let other = json(&app.login("ivy@example.com", PW));
    let (other_access, other_refresh) =
        (other["access_token"].as_str().unwrap(), other["refresh_token"].as_str().unwrap());
    let token = app.login_ok("ivy@example.com", PW);
    let secret = enroll(&app, &token);
    let confirmed =
        post(&app, "/me/totp/confirm", &token, json!({"code": code_at(&secret, step_now())}));
    assert_eq!(confirmed.status, 200, "{}", body_text(&confirmed));
    assert_error(&app.with_token("GET", "/me", other_access, None), 401, "invalid_token");
    let refreshed =
        app.post_json("/token/refresh", &json!({ "refresh_token": other_refresh }).to_string());
    assert_error(&refreshed, 401, "invalid_token");
    assert_eq!(app.with_token("GET", "/me", &token, None).status, 200, "the confirming one stays");
    let details: String = app
        .sql()
        .query_one("SELECT details::text FROM audit_events WHERE action = 'totp_enabled'", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        serde_json::from_str::<Value>(&details).unwrap(),
        json!({"other_sessions_revoked": 1})
    );
}

#[test]
fn a_login_whose_password_check_overlaps_the_confirmation_never_gets_a_password_only_session() {
    // The test holds the factor row: the confirmation locks the account, then waits for the
    // factor. A login checks the password meanwhile (its snapshot says "no second factor") and
    // waits for the account row. Released, the confirmation commits first; the login must then
    // see the second factor, not slip a password-only session in after the revocation.
    settle(8);
    let app = Arc::new(TestApp::with().env("RATE_LIMIT_IP_PER_MINUTE", "0").start());
    app.active_account("jay@example.com", PW);
    let token = app.login_ok("jay@example.com", PW);
    let secret = enroll(&app, &token);
    let mut holder = app.sql();
    let mut hold = holder.transaction().unwrap();
    hold.execute("SELECT 1 FROM totp_factors FOR UPDATE", &[]).unwrap();
    let (a, code) = (Arc::clone(&app), code_at(&secret, step_now()));
    let confirm = std::thread::spawn(move || {
        post(&a, "/me/totp/confirm", &token, json!({ "code": code })).status
    });
    eventually("the confirmation waits for the factor", || app.waiting_for_locks() == 1);
    let b = Arc::clone(&app);
    let login = std::thread::spawn(move || b.login("jay@example.com", PW));
    eventually("the login waits for the account", || app.waiting_for_locks() == 2);
    hold.commit().unwrap();
    assert_eq!(confirm.join().unwrap(), 200);
    let login = json(&login.join().unwrap());
    assert_eq!(login["mfa_required"], true, "a password-only login slipped through: {login}");
    let password_only: i64 = app
        .sql()
        .query_one("SELECT count(*) FROM sessions WHERE amr = '{pwd}'", &[])
        .unwrap()
        .get(0);
    assert_eq!(password_only, 1, "only the session that confirmed");
}

#[test]
fn three_wrong_codes_within_an_hour_across_tokens_warn_the_owner_once() {
    settle(5);
    let app = TestApp::spawn();
    let (secret, _, _) = with_totp(&app, "kim@example.com");
    let warnings = |app: &TestApp| {
        app.mail_texts_to("kim@example.com")
            .iter()
            .filter(|t| t.contains("entered wrong two-factor codes"))
            .count()
    };
    // Two wrong codes on a token that then expires, one on a fresh token: three in the hour.
    let expiring = password_step(&app, "kim@example.com");
    assert_error(&mfa(&app, &expiring, "000000"), 401, "invalid_code");
    assert_error(&mfa(&app, &expiring, "000000"), 401, "invalid_code");
    app.sql().execute("UPDATE mfa_challenges SET expires_at = now()", &[]).unwrap();
    let fresh = password_step(&app, "kim@example.com");
    app.wait_outbox_drained();
    assert_eq!(warnings(&app), 0, "two wrong codes warn nobody");
    assert_error(&mfa(&app, &fresh, "000000"), 401, "invalid_code");
    eventually("the warning", || warnings(&app) == 1);
    // More wrong codes within the hour, each on a token of its own: no second warning.
    for _ in 0..3 {
        let token = password_step(&app, "kim@example.com");
        assert_error(&mfa(&app, &token, "000000"), 401, "invalid_code");
    }
    let token = password_step(&app, "kim@example.com");
    assert_eq!(mfa(&app, &token, &code_at(&secret, step_now() + 1)).status, 200);
    app.wait_outbox_drained();
    assert_eq!(warnings(&app), 1, "at most one warning an hour");
    // An hour later the count starts again.
    app.sql().execute("UPDATE audit_events SET at = at - interval '61 minutes'", &[]).unwrap();
    for _ in 0..3 {
        let token = password_step(&app, "kim@example.com");
        assert_error(&mfa(&app, &token, "000000"), 401, "invalid_code");
    }
    eventually("the next hour's warning", || warnings(&app) == 2);
}

#[test]
fn signing_out_or_replaying_a_token_while_the_factor_is_confirmed_never_deadlocks() {
    // The confirmation holds the account (the test holds the factor row it waits for) and then
    // deletes the other sessions. A logout and a refresh-token replay of those sessions arrive
    // meanwhile: locking their session row before the account, they would deadlock with it (503).
    settle(8);
    let app = Arc::new(
        TestApp::with()
            .env("RATE_LIMIT_IP_PER_MINUTE", "0")
            .env("REFRESH_REUSE_GRACE_SECONDS", "0")
            .start(),
    );
    app.active_account("kai@example.com", PW);
    let leaving = app.login_ok("kai@example.com", PW);
    let replayed = json(&app.login("kai@example.com", PW));
    let spent = json!({ "refresh_token": replayed["refresh_token"] }).to_string();
    assert_eq!(app.post_json("/token/refresh", &spent).status, 200);
    let token = app.login_ok("kai@example.com", PW);
    let secret = enroll(&app, &token);
    let mut holder = app.sql();
    let mut hold = holder.transaction().unwrap();
    hold.execute("SELECT 1 FROM totp_factors FOR UPDATE", &[]).unwrap();
    let (a, code) = (Arc::clone(&app), code_at(&secret, step_now()));
    let confirm = std::thread::spawn(move || {
        post(&a, "/me/totp/confirm", &token, json!({ "code": code })).status
    });
    eventually("the confirmation waits for the factor", || app.waiting_for_locks() == 1);
    let (b, c) = (Arc::clone(&app), Arc::clone(&app));
    let logout = std::thread::spawn(move || b.with_token("POST", "/logout", &leaving, None).status);
    let replay = std::thread::spawn(move || c.post_json("/token/refresh", &spent).status);
    eventually("both wait for the account", || app.waiting_for_locks() == 3);
    hold.commit().unwrap();
    assert_eq!(confirm.join().unwrap(), 200);
    assert_eq!(logout.join().unwrap(), 401, "its session was ended by the confirmation");
    assert_eq!(replay.join().unwrap(), 401, "its session was ended by the confirmation");
}
