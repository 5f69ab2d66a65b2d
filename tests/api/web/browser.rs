//! The web client in a real browser (headless Chromium through WebDriver): the whole life of an
//! account clicked through, with no console error and no Content-Security-Policy violation, and
//! the page served from another origin talking to the API through CORS.

use crate::support::helpers::*;
use crate::support::webdriver::Browser;
use crate::totp::{code_at, step_now};

const PW: &str = "correct horse";

/// The newest mail to `email` whose text contains `marker`, waited for.
fn mail_with(app: &TestApp, email: &str, marker: &str, seen_before: usize) -> String {
    eventually(marker, || {
        app.mail_texts_to(email).iter().skip(seen_before).any(|t| t.contains(marker))
    });
    let texts = app.mail_texts_to(email);
    texts.iter().skip(seen_before).rev().find(|t| t.contains(marker)).unwrap().clone()
}

fn visible(view: &str) -> String {
    format!("!document.querySelector('#view-{view}').hidden")
}

fn status_says(text: &str) -> String {
    format!(
        "document.querySelector('#status').textContent.includes({})",
        serde_json::to_string(text).unwrap()
    )
}

#[test]
fn the_whole_life_of_an_account_clicked_through() {
    let Some(browser) = Browser::start() else { return };
    let app = TestApp::spawn();
    let email = "ann@example.com";
    browser.goto(&format!("http://{}/", app.process.addr));
    browser.wait_for(&visible("signin"));
    browser.screenshot("01-sign-in");

    // Register, a wrong code first (its error appears next to the field), then the mailed one.
    browser.click("[data-go=register]");
    browser.fill("#register-email", email);
    browser.fill("#register-password", PW);
    browser.click("#form-register button[type=submit]");
    browser.wait_for(&visible("activate"));
    assert!(browser.text("#countdown").contains("expires in"), "a countdown of the window");
    let code = app.last_code_for(email);
    browser.fill("#activate-code", &other_code(&code));
    browser.click("#form-activate button[type=submit]");
    browser.wait_for("document.querySelector('#activate-code-error')");
    assert_eq!(browser.value("#activate-code"), other_code(&code), "what was typed stays");
    browser.screenshot("02-wrong-code");
    browser.fill("#activate-code", &code);
    browser.click("#form-activate button[type=submit]");
    browser.wait_for(&status_says("active"));

    // Sign in, name, turn on TOTP with the secret the page shows.
    assert_eq!(browser.value("#signin-email"), email);
    browser.fill("#signin-password", PW);
    browser.click("#form-signin button[type=submit]");
    browser.wait_for(&visible("account"));
    browser.fill("#name", "Ann");
    browser.click("#form-name button[type=submit]");
    browser.wait_for("document.querySelector('#form-name .form-ok').textContent.includes('saved')");
    browser.click("[data-tab=security]");
    browser.fill("#totp-password", PW);
    browser.click("#form-totp button[type=submit]");
    let secret = browser.text("#totp-secret");
    browser.wait_for("document.querySelector('#totp-qr svg')");
    let step = step_now();
    browser.fill("#totp-code", &code_at(&secret, step));
    browser.click("#form-totp-confirm button[type=submit]");
    browser.wait_for("document.querySelectorAll('#recovery-codes li').length === 10");
    let recovery = browser.text("#recovery-codes li");
    browser.screenshot("03-account-with-recovery-codes");

    // Sign out, then in again through the TOTP step.
    browser.click("#signout");
    browser.wait_for(&visible("signin"));
    browser.fill("#signin-email", email);
    browser.fill("#signin-password", PW);
    browser.click("#form-signin button[type=submit]");
    browser.wait_for(&visible("mfa"));
    browser.screenshot("04-second-factor");
    browser.fill("#mfa-code", &code_at(&secret, step + 1));
    browser.click("#form-mfa button[type=submit]");
    browser.wait_for(&visible("account"));
    browser.click("[data-tab=profile]");
    assert!(browser.text("#profile-email").contains(email));

    // Forgot the password: reset by mailed code; TOTP stays on, so a recovery code signs in.
    browser.click("#signout");
    browser.wait_for(&visible("signin"));
    browser.click("[data-go=forgot]");
    browser.fill("#forgot-email", email);
    let mails = app.mail_texts_to(email).len();
    browser.click("#form-forgot button[type=submit]");
    let reset = first_digits(&mail_with(&app, email, "password reset code", mails));
    browser.fill("#reset-code", &reset);
    browser.fill("#reset-password", "battery staple");
    browser.click("#form-reset button[type=submit]");
    browser.wait_for(&status_says("Sign in with the new one"));
    browser.fill("#signin-password", "battery staple");
    browser.click("#form-signin button[type=submit]");
    browser.wait_for(&visible("mfa"));
    browser.fill("#mfa-code", &recovery);
    browser.click("#form-mfa button[type=submit]");
    browser.wait_for(&visible("account"));

    // Delete the account: not without ticking the box, then for good.
    browser.click("[data-tab=profile]");
    browser.fill("#delete-password", "battery staple");
    browser.click("#form-delete button[type=submit]");
    browser.wait_for(
        "document.querySelector('#form-delete .form-error').textContent.includes('Tick')",
    );
    browser.click("#delete-sure");
    browser.click("#form-delete button[type=submit]");
    browser.wait_for(&status_says("deleted"));
    assert!(
        app.sql()
            .query_opt("SELECT 1 FROM accounts WHERE email = $1", &[&email])
            .unwrap()
            .is_none()
    );

    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors or CSP violations: {errors:#?}");
}

/// Serves the web client's files from another origin (a port of its own), with a policy that
/// lets its page call `api`.
fn other_origin(api: &str) -> (String, std::sync::Arc<tiny_http::Server>) {
    let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let origin = format!("http://127.0.0.1:{}", server.server_addr().to_ip().unwrap().port());
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src {api}"
    );
    let serving = std::sync::Arc::clone(&server);
    std::thread::spawn(move || {
        while let Ok(request) = serving.recv() {
            let (body, kind) = match request.url().split('?').next().unwrap_or("") {
                "/app.js" => (include_str!("../../../src/web/client/app.js"), "text/javascript"),
                "/app.css" => (include_str!("../../../src/web/client/app.css"), "text/css"),
                "/icon.svg" => (include_str!("../../../src/web/client/icon.svg"), "image/svg+xml"),
                _ => (include_str!("../../../src/web/client/index.html"), "text/html"),
            };
            let response = tiny_http::Response::from_string(body)
                .with_header(tiny_http::Header::from_bytes("Content-Type", kind).unwrap())
                .with_header(
                    tiny_http::Header::from_bytes("Content-Security-Policy", policy.as_str())
                        .unwrap(),
                );
            let _ = request.respond(response);
        }
    });
    (origin, server)
}

#[test]
fn a_page_on_another_origin_works_only_when_its_origin_is_allowed() {
    let Some(browser) = Browser::start() else { return };
    for allowed in [true, false] {
        let (origin, server) = other_origin("http://127.0.0.1:*");
        let listed = if allowed { origin.clone() } else { "https://elsewhere.example".into() };
        let app = TestApp::with().env("CORS_ALLOWED_ORIGINS", &listed).start();
        browser.goto(&format!("{origin}/?api=http://{}", app.process.addr));
        browser.wait_for(&visible("signin"));
        browser.click("[data-go=register]");
        browser.fill("#register-email", "cors@example.com");
        browser.fill("#register-password", PW);
        browser.click("#form-register button[type=submit]");
        if allowed {
            browser.wait_for(&visible("activate"));
            assert_eq!(app.mails_sent(), 1);
        } else {
            browser.wait_for("document.querySelector('#form-register .form-error').textContent.includes('cannot be reached')");
            let refused = "the preflight was refused, so the browser never sent the registration";
            assert_eq!(app.mails_sent(), 0, "{refused}");
        }
        let _ = browser.console_errors(); // a refused CORS answer is logged by the browser: expected
        server.unblock();
    }
}

#[test]
fn an_admin_page_a_silent_refresh_and_a_retry_after_countdown() {
    let Some(browser) = Browser::start() else { return };
    let app = TestApp::with()
        .env("ACCESS_TOKEN_TTL_SECONDS", "30")
        .env("RATE_LIMIT_IP_PER_MINUTE", "12")
        .start();
    crate::admin::admin(&app, "root@example.com");
    app.active_account("usr@example.com", PW);
    browser.goto(&format!("http://{}/", app.process.addr));
    browser.fill("#signin-email", "root@example.com");
    browser.fill("#signin-password", PW);
    browser.click("#form-signin button[type=submit]");
    browser.wait_for(&visible("account"));
    let first =
        browser.script("return sessionStorage.getItem('beefirst.refresh');", serde_json::json!([]));

    browser.click("#nav-admin");
    browser.wait_for("[...document.querySelectorAll('#users td')].some(td => td.textContent === 'usr@example.com')");
    browser.screenshot("05-administration");
    browser.click("#users tbody tr:last-child button");
    browser.wait_for(&status_says("Done: disable usr@example.com"));
    browser.wait_for(
        "[...document.querySelectorAll('#users td')].some(td => td.textContent === 'disabled')",
    );

    // The access token lives 30 s; the client refreshes 5 s after sign-in at the latest.
    let rotated = format!(
        "sessionStorage.getItem('beefirst.refresh') && sessionStorage.getItem('beefirst.refresh') !== {}",
        first
    );
    browser.wait_for(&rotated);

    // Past the per-IP limit the button counts Retry-After down instead of failing silently.
    browser.click("#signout");
    browser.wait_for(&visible("signin"));
    for _ in 0..6 {
        browser.fill("#signin-password", "wrong password");
        browser.click("#form-signin button[type=submit]");
        browser.wait_for("!document.querySelector('#form-signin button[type=submit]').disabled || document.querySelector('#form-signin button[type=submit]').textContent.startsWith('Try again')");
        if browser.text("#form-signin button[type=submit]").starts_with("Try again") {
            break;
        }
    }
    assert!(browser.text("#form-signin button[type=submit]").starts_with("Try again in"));
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors or CSP violations: {errors:#?}");
}

#[test]
fn the_next_person_at_the_computer_sees_nothing_of_the_last_and_a_spent_resend_blocks_nothing() {
    let Some(browser) = Browser::start() else { return };
    let app = TestApp::with().env("MAX_RESENDS", "0").start();
    app.active_account("amy@example.com", PW);
    app.active_account("bob@example.com", PW);
    browser.goto(&format!("http://{}/", app.process.addr));
    browser.fill("#signin-email", "amy@example.com");
    browser.fill("#signin-password", PW);
    browser.click("#form-signin button[type=submit]");
    browser.wait_for(&visible("account"));
    browser.click("[data-tab=security]");
    browser.fill("#totp-password", PW);
    browser.click("#form-totp button[type=submit]");
    let secret = browser.text("#totp-secret");
    browser.fill("#totp-code", &code_at(&secret, step_now()));
    browser.click("#form-totp-confirm button[type=submit]");
    browser.wait_for("document.querySelectorAll('#recovery-codes li').length === 10");
    browser.fill("#password-current", "typed, never sent");
    browser.click("#signout");
    browser.wait_for(&visible("signin"));
    browser.fill("#signin-email", "bob@example.com");
    browser.fill("#signin-password", PW);
    browser.click("#form-signin button[type=submit]");
    browser.wait_for(&visible("account"));
    browser.wait_for("document.querySelector('#profile-email').textContent === 'bob@example.com'");
    let leftovers = browser.script(
        "return [document.querySelectorAll('#recovery-codes li').length, document.querySelector('#totp-secret').textContent, \
         document.querySelector('#totp-qr').children.length, document.querySelector('#password-current').value, \
         document.querySelector('#totp-codes').hidden];",
        serde_json::json!([]),
    );
    assert_eq!(
        leftovers,
        serde_json::json!([0, "", 0, "", true]),
        "what the last person left in the page"
    );

    // No resend left: the error shows, and the code already mailed can still be entered.
    browser.click("#signout");
    browser.wait_for(&visible("signin"));
    browser.click("[data-go=register]");
    browser.fill("#register-email", "cy@example.com");
    browser.fill("#register-password", PW);
    browser.click("#form-register button[type=submit]");
    browser.wait_for(&visible("activate"));
    browser.click("#resend");
    browser.wait_for("document.querySelector('#form-activate .form-error').textContent !== ''");
    browser.fill("#activate-code", &app.last_code_for("cy@example.com"));
    browser.click("#form-activate button[type=submit]");
    browser.wait_for(&status_says("active"));
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors or CSP violations: {errors:#?}");
}

#[test]
fn an_owner_kept_out_by_the_password_limit_signs_in_with_a_mailed_code() {
    let Some(browser) = Browser::start() else { return };
    let app = TestApp::with().env("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "2").start();
    let email = "kim@example.com";
    app.active_account(email, PW);
    browser.goto(&format!("http://{}/", app.process.addr));
    browser.wait_for(&visible("signin"));
    browser.fill("#signin-email", email);
    for _ in 0..2 {
        browser.fill("#signin-password", "wrong password");
        browser.click("#form-signin button[type=submit]");
        browser.wait_for("document.querySelector('#signin-password-error')");
    }
    // Even the right password gets 429 now; the notice offers the way in the limit never blocks.
    browser.fill("#signin-password", PW);
    browser.click("#form-signin button[type=submit]");
    browser.wait_for("document.querySelector('#form-signin .form-error button')");
    browser.screenshot("06-sign-in-code-offered");
    let mails = app.mail_texts_to(email).len();
    browser.click("#form-signin .form-error button");
    browser.wait_for(&visible("code"));
    browser.wait_for("!document.querySelector('#form-code-verify').hidden");
    let code = first_digits(&mail_with(&app, email, "sign-in code", mails));
    browser.fill("#code-code", &code);
    browser.click("#form-code-verify button[type=submit]");
    browser.wait_for(&visible("account"));
    assert!(browser.text("#profile-email").contains(email));

    // Signed out, the sign-in page offers the code too, with the email carried over.
    browser.click("#signout");
    browser.wait_for(&visible("signin"));
    browser.fill("#signin-email", email);
    browser.click("[data-go=code]");
    browser.wait_for(&visible("code"));
    assert_eq!(browser.value("#code-email"), email);
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors or CSP violations: {errors:#?}");
}
