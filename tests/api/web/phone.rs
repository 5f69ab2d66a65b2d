//! The web client with a passkey and on a phone (390 × 844), in headless Chromium: a person adds
//! a passkey on the account page and signs in with it typing no password (WebDriver's virtual
//! authenticator stands in for the fingerprint reader); every part of the account fits a phone's
//! screen; devices have names; a phone can add its own TOTP key; passwords can be shown.

use crate::support::helpers::*;
use crate::support::webdriver::Browser;
use crate::totp::{code_at, step_now};

const PW: &str = "correct horse";

/// The service on a known port, its passkeys bound to `http://localhost:PORT` (a relying party
/// ID must be a name, not an IP address), and its URL as the browser opens it.
fn app_on_localhost() -> (TestApp, String) {
    let port = free_port();
    let url = format!("http://localhost:{port}");
    let app = TestApp::with()
        .env("BIND_ADDR", &format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", &url)
        .start();
    (app, url)
}

fn visible(view: &str) -> String {
    format!("!document.querySelector('#view-{view}').hidden")
}

fn sign_in_with_password(browser: &Browser, email: &str) {
    browser.fill("#signin-email", email);
    browser.fill("#signin-password", PW);
    browser.click("#form-signin button[type=submit]");
    browser.wait_for(&visible("account"));
}

#[test]
fn a_person_adds_a_passkey_on_the_account_page_and_signs_in_with_it_typing_no_password() {
    let Some(browser) = Browser::start() else { return };
    let authenticator = browser.add_virtual_authenticator();
    let (app, url) = app_on_localhost();
    let email = "ann@example.com";
    app.active_account(email, PW);
    browser.goto(&format!("{url}/#security"));
    browser.wait_for(&visible("signin"));
    sign_in_with_password(&browser, email);
    browser.wait_for("!document.querySelector('#tab-security').hidden");
    assert!(browser.text("#passkeys-none").contains("no passkey"));
    browser.fill("#passkey-name", "This laptop");
    browser.fill("#passkey-password", PW);
    browser.click("#form-passkey-add button[type=submit]");
    browser.wait_for(
        "document.querySelector('#form-passkey-add .form-ok').textContent.includes('ready')",
    );
    browser.wait_for("document.querySelectorAll('#passkeys tbody tr').length === 1");
    assert!(browser.text("#passkeys tbody tr").contains("This laptop"));
    let held = browser.authenticator_credentials(&authenticator);
    assert_eq!(held.len(), 1, "one credential on the authenticator");
    assert_eq!(held[0]["isResidentCredential"], true, "discoverable: usernameless sign-in works");
    browser.screenshot("07-passkeys-on-the-security-page");

    // Signed out, no email and no password typed: the authenticator alone signs in.
    browser.click("#signout");
    browser.wait_for(&visible("signin"));
    browser.click("#form-passkey-signin button[type=submit]");
    browser.wait_for(&visible("account"));
    browser
        .wait_for(&format!("document.querySelector('#profile-email').textContent === '{email}'"));
    assert_eq!(browser.value("#signin-password"), "", "no password typed");
    browser.click("[data-tab=activity]");
    browser.wait_for(
        "document.querySelector('#events').textContent.includes('Signed in with a passkey')",
    );
    browser.screenshot("08-signed-in-with-a-passkey");

    // Renamed and removed from the page; then it opens nothing.
    browser.click("[data-tab=security]");
    browser.click("#passkeys tbody button");
    browser.fill("#passkeys tbody input", "Old laptop");
    browser.click("#passkeys tbody button");
    browser
        .wait_for("document.querySelector('#passkeys tbody').textContent.includes('Old laptop')");
    browser.click("#passkeys tbody button:nth-of-type(2)");
    browser.click("#passkeys tbody button:nth-of-type(2)"); // "Really remove?"
    browser.wait_for("document.querySelector('#passkeys-message').textContent.includes('removed')");
    browser.click("#signout");
    browser.wait_for(&visible("signin"));
    browser.click("#form-passkey-signin button[type=submit]");
    browser.wait_for("document.querySelector('#form-passkey-signin .form-error').textContent.includes('did not work')");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors or CSP violations: {errors:#?}");
}

/// True when nothing in the page is wider than the window (no sideways scrolling).
const FITS: &str = "document.documentElement.scrollWidth <= window.innerWidth";

#[test]
fn on_a_phone_every_part_of_the_account_fits_and_speaks_to_people() {
    let Some(browser) = Browser::start() else { return };
    browser.resize(390, 844);
    let (app, url) = app_on_localhost();
    let email = "a.rather.long.address.for.a.phone@example.com";
    app.active_account(email, PW);
    app.login_ok(email, PW); // a second device, from curl's side of things
    browser.goto(&format!("{url}/"));
    browser.wait_for(&visible("signin"));
    let width = browser.script("return window.innerWidth;", serde_json::json!([]));
    assert!(width.as_i64().unwrap() <= 390, "a phone-sized window: {width}");
    browser.screenshot("09-phone-sign-in");

    // Messages for people, not for the API's readers ("8 to 72 bytes").
    browser.click("[data-go=register]");
    browser.fill("#register-email", "new@example.com");
    browser.fill("#register-password", "short");
    browser.click("#form-register button[type=submit]");
    browser.wait_for("document.querySelector('#register-password-error')");
    assert_eq!(browser.text("#register-password-error"), "Use at least 8 characters.");
    browser.click("#view-register [data-go=signin]");

    // Show the password while typing it, then sign in.
    browser.fill("#signin-email", email);
    browser.fill("#signin-password", PW);
    browser.click("#form-signin .password-field button");
    assert_eq!(
        browser.script(
            "return document.querySelector('#signin-password').type;",
            serde_json::json!([])
        ),
        "text"
    );
    browser.click("#form-signin .password-field button");
    // A visible busy state while the answer is awaited.
    let busy = browser.script(
        "const f = document.querySelector('#form-signin'); f.requestSubmit(); \
         return f.querySelector('button[type=submit]').getAttribute('aria-busy');",
        serde_json::json!([]),
    );
    assert_eq!(busy, "true");
    browser.wait_for(&visible("account"));
    for tab in ["profile", "security", "devices", "activity"] {
        browser.click(&format!("[data-tab={tab}]"));
        browser.wait_for(&format!("!document.querySelector('#tab-{tab}').hidden"));
        assert_eq!(
            browser.script(&format!("return {FITS};"), serde_json::json!([])),
            true,
            "{tab} overflows"
        );
    }
    browser.click("[data-tab=profile]");
    browser.click("#export");
    browser
        .wait_for("document.querySelector('#export-message').textContent.includes('downloaded')");
    browser.click("[data-tab=devices]");
    browser.wait_for("document.querySelectorAll('#sessions tbody tr').length === 2");
    let devices = browser.text("#sessions tbody");
    assert!(devices.contains("Chrome on Linux (this device)"), "{devices}");
    browser.screenshot("10-phone-devices");

    // Password managers learn which account a password belongs to.
    let hints = browser.script(
        "return [...document.querySelectorAll('.username-hint')].every(i => i.value === arguments[0]);",
        serde_json::json!([email]),
    );
    assert_eq!(hints, true);

    // Two-factor on a phone: a link that opens the authenticator app, the key to copy, and how
    // many recovery codes are left.
    browser.click("[data-tab=security]");
    browser.fill("#totp-password", PW);
    browser.click("#form-totp button[type=submit]");
    browser.wait_for("document.querySelector('#totp-link').href.startsWith('otpauth://totp/')");
    assert_eq!(
        browser.script(&format!("return {FITS};"), serde_json::json!([])),
        true,
        "the QR code overflows"
    );
    browser.screenshot("11-phone-two-factor");
    let secret = browser.text("#totp-secret");
    browser.fill("#totp-code", &code_at(&secret, step_now()));
    browser.click("#form-totp-confirm button[type=submit]");
    browser.wait_for(
        "document.querySelector('#totp-state').textContent.includes('10 recovery codes left')",
    );
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors or CSP violations: {errors:#?}");
}

#[test]
fn continue_with_another_provider_signs_in_and_the_account_page_lists_it() {
    use crate::identities::provider::{Behaviour, CLIENT_ID, CLIENT_SECRET, FakeProvider};
    let Some(browser) = Browser::start() else { return };
    let provider = FakeProvider::start();
    provider.let_browser_sign_in(Behaviour::person("dee-at-corp", "dee@example.com"));
    let port = free_port();
    let url = format!("http://localhost:{port}");
    let app = TestApp::with()
        .env("BIND_ADDR", &format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", &url)
        .env("IDENTITY_PROVIDERS", "corp")
        .env("IDP_CORP_CLIENT_ID", CLIENT_ID)
        .env("IDP_CORP_CLIENT_SECRET", CLIENT_SECRET)
        .env("IDP_CORP_ISSUER", &provider.issuer)
        .start();
    browser.goto(&format!("{url}/"));
    browser.wait_for(&visible("signin"));
    browser.click("#providers button[data-provider=corp]");
    browser.wait_for(&visible("account"));
    browser.wait_for("document.querySelector('#profile-email').textContent === 'dee@example.com'");
    assert_eq!(
        browser.script("return location.hash;", serde_json::json!([])),
        "",
        "the login code is gone from the address"
    );
    browser.click("[data-tab=security]");
    browser.wait_for("document.querySelector('#identities').textContent.includes('corp')");
    let asks = "document.querySelector('#passkey-password').offsetParent !== null";
    assert_eq!(
        browser.script(&format!("return {asks};"), serde_json::json!([])),
        false,
        "no password to ask for"
    );
    browser.screenshot("12-signed-in-with-another-provider");

    // The only way in cannot be unlinked; an email that has an account is never linked by itself.
    browser.click("#identities button");
    browser
        .wait_for("document.querySelector('#identities-message').textContent.includes('last way')");
    app.active_account("eve@example.com", PW);
    provider.let_browser_sign_in(Behaviour::person("someone-else", "eve@example.com"));
    browser.click("#signout");
    browser.wait_for(&visible("signin"));
    browser.click("#providers button[data-provider=corp]");
    browser.wait_for("document.querySelector('#providers-error').textContent.includes('already uses that email')");

    // Eve signs in with her password and links the provider from her Security part.
    browser.fill("#signin-email", "eve@example.com");
    browser.fill("#signin-password", PW);
    browser.click("#form-signin button[type=submit]");
    browser.wait_for(&visible("account"));
    browser.click("[data-tab=security]");
    browser.click("#identity-links button");
    browser.wait_for("document.querySelector('#identities-message').textContent.includes('now opens this account')");
    browser
        .wait_for("document.querySelector('#identities').textContent.includes('eve@example.com')");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors or CSP violations: {errors:#?}");
}
