//! What makes one identity and one password (email normalization with IDNA, NFKC passwords, NUL),
//! and hashes kept current with `BCRYPT_COST`.

use crate::support::helpers::*;

const PW: &str = "correct horse";

#[test]
fn look_alike_and_malformed_emails_are_refused() {
    let app = TestApp::spawn();
    for bad in [
        "zero\u{200B}width@example.com",
        "bidi\u{202E}moc.elpmaxe@example.com",
        "\u{FEFF}bom@example.com",
        "a@@example.com",
        "a@b@example.com",
        "<a@example.com>",
        "a@[127.0.0.1]",
        "a@127.0.0.1",
    ] {
        assert_error(&app.register(bad, PW), 400, "invalid_email");
    }
    assert_eq!(app.mails_sent(), 0);
}

#[test]
fn unicode_and_punycode_domains_are_one_identity() {
    let app = TestApp::spawn();
    let created = app.register("Anne@BÜCHER.de", PW);
    assert_eq!(created.status, 201, "{}", body_text(&created));
    assert_eq!(json(&created)["email"], "anne@bücher.de");
    assert_error(&app.register("anne@xn--bcher-kva.de", PW), 409, "email_taken");
    // Mail goes out with the domain in its ASCII form, which every mail system accepts.
    let code = app.last_code_for("anne@xn--bcher-kva.de");
    assert_eq!(app.activate("ANNE@xn--BCHER-kva.de", PW, &code).status, 200);
}

#[test]
fn passwords_are_normalized_so_every_keyboard_types_the_same_one() {
    let app = TestApp::spawn();
    let decomposed = "cafe\u{301} au lait"; // e + combining acute accent
    let composed = "caf\u{e9} au lait";
    app.active_account("noel@example.com", decomposed);
    app.login_ok("noel@example.com", composed);
    app.login_ok("noel@example.com", decomposed);
}

#[test]
fn a_password_with_nul_is_refused_and_never_equals_its_prefix() {
    let app = TestApp::spawn();
    assert_error(&app.register("nul@example.com", "correct\u{0}horse"), 400, "invalid_password");
    let prefix = "x".repeat(71);
    app.active_account("nul@example.com", &prefix);
    assert_error(
        &app.login("nul@example.com", &format!("{prefix}\u{0}")),
        401,
        "invalid_credentials",
    );
}

#[test]
fn sub_addresses_are_distinct_identities_sharing_one_mail_budget() {
    let app = TestApp::with().env("RATE_LIMIT_EMAIL_PER_HOUR", "2").start();
    assert_eq!(app.register("me+a@example.com", PW).status, 201);
    assert_eq!(app.register("me+b@example.com", PW).status, 201);
    assert_error(&app.register("me+c@example.com", PW), 429, "rate_limited");
    assert_error(&app.register("me@example.com", PW), 429, "rate_limited");
    assert_eq!(app.register("you@example.com", PW).status, 201);
}

fn stored_hash(app: &TestApp, email: &str) -> String {
    app.sql()
        .query_one("SELECT password_hash FROM accounts WHERE email = $1", &[&email])
        .unwrap()
        .get(0)
}

#[test]
fn a_hash_made_at_an_old_cost_is_remade_at_the_new_cost_on_the_next_login() {
    let app = TestApp::spawn(); // BCRYPT_COST=4
    app.active_account("ola@example.com", PW);
    let old_token = app.login_ok("ola@example.com", PW);
    assert!(stored_hash(&app, "ola@example.com").starts_with("$2b$04$"));
    // The operator raises the cost: a new process on the same database.
    let env =
        [("DATABASE_URL".to_string(), app.db.url()), ("BCRYPT_COST".to_string(), "5".to_string())];
    let raised = Process::start(&env);
    let body = serde_json::json!({"email": "ola@example.com", "password": PW}).to_string();
    let login = raised.send("POST", "/login", &[], Some(body.as_bytes()));
    assert_eq!(login.status, 200, "{}", body_text(&login));
    let upgraded = stored_hash(&app, "ola@example.com");
    assert!(upgraded.starts_with("$2b$05$"), "{upgraded}");
    assert!(bcrypt::verify(PW, &upgraded).unwrap());
    let me = raised.send("GET", "/me", &[("Authorization", &format!("Bearer {old_token}"))], None);
    assert_eq!(me.status, 200, "same password: sessions stay");
}

#[test]
fn a_hash_made_from_an_unnormalized_password_still_opens_and_is_remade() {
    let app = TestApp::spawn();
    app.active_account("ute@example.com", PW);
    let typed = "\u{ff43}orrect horse"; // full-width c: NFKC makes it "correct horse"
    let legacy = bcrypt::hash(typed, 4).unwrap();
    app.sql()
        .execute(
            "UPDATE accounts SET password_hash = $1 WHERE email = 'ute@example.com'",
            &[&legacy],
        )
        .unwrap();
    app.login_ok("ute@example.com", typed);
    let remade = stored_hash(&app, "ute@example.com");
    assert_ne!(remade, legacy);
    assert!(bcrypt::verify(PW, &remade).unwrap(), "now the normalized form");
    app.login_ok("ute@example.com", PW);
}

#[test]
fn sub_addresses_share_one_wrong_code_budget() {
    let app = TestApp::with().env("MAX_WRONG_CODES_PER_EMAIL_PER_DAY", "3").start();
    let code = app.register_ok("me+1@example.com", PW);
    for _ in 0..3 {
        app.activate("me+1@example.com", PW, &other_code(&code));
    }
    assert_eq!(app.row("me+1@example.com"), None, "released");
    let hardened = app.register_ok("me+2@example.com", PW);
    assert_eq!(hardened.len(), 8, "the tag does not buy a fresh budget of short codes");
}
