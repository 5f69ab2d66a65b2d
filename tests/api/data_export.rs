//! `GET /me/export`: everything kept about the caller, in one JSON document to save, and no
//! secret in it.

use crate::passkeys::authenticator::Authenticator;
use crate::support::helpers::*;
use serde_json::json;

const PW: &str = "correct horse";

#[test]
fn my_export_holds_what_is_kept_about_me_and_no_secret() {
    let app = TestApp::spawn();
    app.active_account("ann@example.com", PW);
    let first = app.login("ann@example.com", PW);
    let refresh = json(&first)["refresh_token"].as_str().unwrap().to_owned();
    let token = app.login_ok("ann@example.com", PW);
    let options = json(&app.with_token(
        "POST",
        "/me/passkeys/options",
        &token,
        Some(&json!({ "password": PW }).to_string()),
    ));
    let mut key = Authenticator::new();
    let body = json!({ "ceremony": options["ceremony"], "credential": key.create(&options["publicKey"]), "name": "Phone" });
    assert_eq!(app.with_token("POST", "/me/passkeys", &token, Some(&body.to_string())).status, 201);
    app.active_account("bob@example.com", PW); // someone else's data stays out

    let answer = app.with_token("GET", "/me/export", &token, None);
    assert_eq!(answer.status, 200, "{}", body_text(&answer));
    assert!(answer.header("Content-Disposition").is_some_and(|d| d.starts_with("attachment")));
    let export = json(&answer);
    assert_eq!(export["profile"]["email"], "ann@example.com");
    assert_eq!(export["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(export["passkeys"][0]["name"], "Phone");
    assert!(export["passkeys"][0].get("credential").is_none(), "no key material");
    let actions: Vec<&str> = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in ["registered", "activated", "login_succeeded", "passkey_added"] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    let text = body_text(&answer);
    let hash: String = app
        .sql()
        .query_one("SELECT password_hash FROM accounts WHERE email = 'ann@example.com'", &[])
        .unwrap()
        .get(0);
    for secret in [PW, refresh.as_str(), token.as_str(), hash.as_str(), "bob@example.com"] {
        assert!(!text.contains(secret), "the export holds {secret}");
    }
    assert_error(&app.with_token("GET", "/me/export", "not-a-token", None), 401, "invalid_token");
}
