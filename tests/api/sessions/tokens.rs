//! Signed access tokens, rotating refresh tokens, the JWK Set and the session list.

use crate::support::helpers::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

const PW: &str = "correct horse";
/// A known signing key for the tests that forge tokens: 32 bytes of 7, base64url.
const SEED: [u8; 32] = [7; 32];

fn seed_b64() -> String {
    URL_SAFE_NO_PAD.encode(SEED)
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn tokens(app: &TestApp, email: &str) -> (String, String) {
    let body = json(&app.login(email, PW));
    (body["access_token"].as_str().unwrap().into(), body["refresh_token"].as_str().unwrap().into())
}

fn refresh(app: &TestApp, token: &str) -> RawResponse {
    app.post_json("/token/refresh", &json!({ "refresh_token": token }).to_string())
}

#[test]
fn the_access_token_is_an_eddsa_jwt_that_the_published_key_verifies() {
    let app = TestApp::spawn();
    app.active_account("jo@example.com", PW);
    let (access, _) = tokens(&app, "jo@example.com");
    let parts: Vec<&str> = access.split('.').collect();
    let header = decode(parts[0]);
    assert_eq!((header["alg"].as_str(), header["typ"].as_str()), (Some("EdDSA"), Some("JWT")));
    let claims = decode(parts[1]);
    let account: i64 = app.sql().query_one("SELECT id FROM accounts", &[]).unwrap().get(0);
    let session: i64 = app.sql().query_one("SELECT id FROM sessions", &[]).unwrap().get(0);
    assert_eq!(claims["iss"], "beefirst");
    assert_eq!(claims["sub"], account.to_string());
    assert_eq!(claims["sid"], session);
    assert_eq!(
        (claims["email"].as_str(), claims["role"].as_str()),
        (Some("jo@example.com"), Some("user"))
    );
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
    let jwks = app.process.send("GET", "/.well-known/jwks.json", &[], None);
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));
    let jwks = json(&jwks);
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).unwrap();
    assert_eq!((key["kty"].as_str(), key["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
    assert_eq!((key["use"].as_str(), key["alg"].as_str()), (Some("sig"), Some("EdDSA")));
    let x: [u8; 32] =
        URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap().try_into().unwrap();
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&signature).unwrap();
    let input = format!("{}.{}", parts[0], parts[1]);
    assert!(VerifyingKey::from_bytes(&x).unwrap().verify(input.as_bytes(), &signature).is_ok());
}

#[test]
fn the_whole_life_of_a_session_login_refresh_reuse_and_revocation() {
    let app = TestApp::with().env("REFRESH_REUSE_GRACE_SECONDS", "5").start();
    app.active_account("liv@example.com", PW);
    let (access, first) = tokens(&app, "liv@example.com");
    assert_eq!(app.with_token("GET", "/me", &access, None).status, 200);
    let rotated = refresh(&app, &first);
    assert_eq!(rotated.status, 200, "{}", body_text(&rotated));
    let second = json(&rotated)["refresh_token"].as_str().unwrap().to_owned();
    let access2 = json(&rotated)["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(app.with_token("GET", "/me", &access2, None).status, 200);
    // Two tabs racing: the spent token again, within the grace period: refused, session kept.
    assert_error(&refresh(&app, &first), 401, "invalid_token");
    assert_eq!(app.with_token("GET", "/me", &access2, None).status, 200);
    // Later, the same token is a replay: the whole session is revoked, and operators are told.
    app.sql().execute("UPDATE refresh_tokens SET spent_at = now() - interval '1 minute' WHERE spent_at IS NOT NULL", &[]).unwrap();
    assert_error(&refresh(&app, &first), 401, "invalid_token");
    assert_error(&app.with_token("GET", "/me", &access2, None), 401, "invalid_token");
    assert_error(&refresh(&app, &second), 401, "invalid_token");
    app.process.wait_logged();
    assert!(app.process.stdout().iter().any(|l| l.contains("\"refresh_token_reused\"")));
    let metrics = body_text(&app.process.send("GET", "/metrics", &[], None));
    assert!(metrics.contains("beefirst_refresh_token_reuse_total 1"), "{metrics}");
    // Logging out revokes a session at once, for its access and refresh tokens alike.
    let (access, refresh_token) = tokens(&app, "liv@example.com");
    assert_eq!(app.with_token("POST", "/logout", &access, None).status, 204);
    assert_error(&app.with_token("GET", "/me", &access, None), 401, "invalid_token");
    assert_error(&refresh(&app, &refresh_token), 401, "invalid_token");
    assert_error(&refresh(&app, "not-a-token"), 401, "invalid_token");
}

fn kid_header(kid: &str) -> Value {
    json!({"alg": "EdDSA", "typ": "JWT", "kid": kid})
}

/// A compact JWS with the given header and claims, signed with `key` (EdDSA).
fn forge(key: &SigningKey, header: Value, claims: Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).to_bytes()))
}

#[test]
fn every_forged_expired_or_orphaned_token_is_401() {
    let app = TestApp::with().env("JWT_SIGNING_KEY", &seed_b64()).start();
    app.active_account("max@example.com", PW);
    let (access, _) = tokens(&app, "max@example.com");
    let header = decode(access.split('.').next().unwrap());
    let claims = decode(access.split('.').nth(1).unwrap());
    let key = SigningKey::from_bytes(&SEED);
    let with = |field: &str, value: Value| {
        let mut c = claims.clone();
        c[field] = value;
        c
    };
    assert_eq!(
        app.with_token("GET", "/me", &forge(&key, header.clone(), claims.clone()), None).status,
        200,
        "the key works"
    );
    let now = claims["iat"].as_i64().unwrap();
    let at = access.len() - 10; // inside the signature, where every bit counts
    let flipped = if &access[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &access[..at], &access[at + 1..]);
    let hs256 = {
        let header = URL_SAFE_NO_PAD
            .encode(json!({"alg":"HS256","typ":"JWT","kid":header["kid"]}).to_string());
        let input = format!("{header}.{}", access.split('.').nth(1).unwrap());
        let public = key.verifying_key().to_bytes();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&public).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    };
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        access.split('.').nth(1).unwrap()
    );
    let other_key = SigningKey::from_bytes(&[9; 32]);
    let cases = [
        ("bad signature", tampered),
        ("alg none", none),
        ("HS256 with the public key as secret", hs256),
        ("another key, same kid", forge(&other_key, header.clone(), claims.clone())),
        ("wrong iss", forge(&key, header.clone(), with("iss", json!("evil")))),
        ("expired", forge(&key, header.clone(), with("exp", json!(now - 1)))),
        ("another session", forge(&key, header.clone(), with("sid", json!(999_999)))),
        ("another account", forge(&key, header.clone(), with("sub", json!("999999")))),
        (
            "unknown kid",
            forge(&key, json!({"alg":"EdDSA","typ":"JWT","kid":"nope"}), claims.clone()),
        ),
        ("not a JWT", "abc.def".into()),
        ("a kid of the right shape", forge(&key, kid_header(&"A".repeat(43)), claims.clone())),
        ("a kid with NUL", forge(&key, kid_header("\u{0}"), claims.clone())),
    ];
    for (what, token) in cases {
        let response = app.with_token("GET", "/me", &token, None);
        assert_error(&response, 401, "invalid_token");
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer realm=\"beefirst\""),
            "{what}"
        );
    }
    // A deleted account's token.
    let body = json!({"password": PW}).to_string();
    assert_eq!(app.with_token("DELETE", "/me", &access, Some(&body)).status, 204);
    assert_error(&app.with_token("GET", "/me", &access, None), 401, "invalid_token");
}

#[test]
fn a_new_signing_key_logs_nobody_out_and_both_are_published() {
    let app = TestApp::with().env("JWT_SIGNING_KEY", &seed_b64()).start();
    app.active_account("rot@example.com", PW);
    let (old_token, _) = tokens(&app, "rot@example.com");
    let old_kid = decode(old_token.split('.').next().unwrap())["kid"].clone();
    // The operator rotates: a new process on the same database with a new key.
    let env = [
        ("DATABASE_URL".to_string(), app.db.url()),
        ("JWT_SIGNING_KEY".to_string(), URL_SAFE_NO_PAD.encode([8u8; 32])),
    ];
    let rotated = Process::start(&env);
    drop(app.process);
    let me = rotated.send("GET", "/me", &[("Authorization", &format!("Bearer {old_token}"))], None);
    assert_eq!(me.status, 200, "a token signed by the previous key still works");
    let jwks = json(&rotated.send("GET", "/.well-known/jwks.json", &[], None));
    let kids: Vec<&Value> = jwks["keys"].as_array().unwrap().iter().map(|k| &k["kid"]).collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&&old_kid));
}

#[test]
fn three_instances_on_one_database_accept_each_others_tokens() {
    let app = TestApp::spawn(); // each process makes its own key: zero configuration
    app.active_account("tri@example.com", PW);
    let env = [("DATABASE_URL".to_string(), app.db.url())];
    let others = [Process::start(&env), Process::start(&env)];
    for (i, issuer) in [&app.process, &others[0], &others[1]].into_iter().enumerate() {
        let body = json!({"email": "tri@example.com", "password": PW}).to_string();
        let login = json(&issuer.send("POST", "/login", &[], Some(body.as_bytes())));
        let auth = format!("Bearer {}", login["access_token"].as_str().unwrap());
        for verifier in [&app.process, &others[0], &others[1]] {
            let me = verifier.send("GET", "/me", &[("Authorization", &auth)], None);
            assert_eq!(me.status, 200, "issued by instance {i}");
        }
    }
}

#[test]
fn sessions_are_listed_and_revoked_one_by_one_or_all_but_this_one() {
    let app = TestApp::spawn();
    app.active_account("ses@example.com", PW);
    app.active_account("eve@example.com", PW);
    let (first, _) = tokens(&app, "ses@example.com");
    let body = json!({"email": "ses@example.com", "password": PW}).to_string();
    let second =
        app.process.send("POST", "/login", &[("User-Agent", "phone/1.0")], Some(body.as_bytes()));
    let second = json(&second)["access_token"].as_str().unwrap().to_owned();
    let (third, _) = tokens(&app, "ses@example.com");
    let listed = json(&app.with_token("GET", "/me/sessions", &first, None));
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(sessions[0]["current"], true, "oldest first, and it is this one");
    assert_eq!(sessions[1]["user_agent"], "phone/1.0");
    let second_id = sessions[1]["id"].as_i64().unwrap();
    let (eves, _) = tokens(&app, "eve@example.com");
    let path = format!("/me/sessions/{second_id}");
    assert_error(&app.with_token("DELETE", &path, &eves, None), 404, "not_found");
    assert_eq!(app.with_token("DELETE", &path, &first, None).status, 204);
    assert_error(&app.with_token("GET", "/me", &second, None), 401, "invalid_token");
    assert_error(&app.with_token("DELETE", &path, &first, None), 404, "not_found");
    assert_eq!(app.with_token("DELETE", "/me/sessions", &first, None).status, 204);
    assert_error(&app.with_token("GET", "/me", &third, None), 401, "invalid_token");
    assert_eq!(app.with_token("GET", "/me", &first, None).status, 200, "this one stays");
    assert_eq!(app.with_token("GET", "/me", &eves, None).status, 200, "other accounts untouched");
    assert_error(&app.with_token("GET", "/me/sessions", "x.y.z", None), 401, "invalid_token");
}

/// Runs the PyJWT example against a running instance; `None` when Python lacks PyJWT.
fn verify_with_pyjwt(app: &TestApp, token: &str) -> Option<std::process::Output> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/external/verify_token.py");
    let probe =
        std::process::Command::new("python3").args(["-c", "import jwt, cryptography"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        missing_tool("python3 with PyJWT (pip install 'pyjwt[crypto]')");
        return None;
    }
    let url = format!("http://{}", app.process.addr);
    Some(std::process::Command::new("python3").args([script, &url, token]).output().unwrap())
}

#[test]
fn another_service_verifies_the_token_with_pyjwt_and_the_jwks() {
    let app = TestApp::spawn();
    app.active_account("py@example.com", PW);
    let (access, _) = tokens(&app, "py@example.com");
    let Some(output) = verify_with_pyjwt(&app, &access) else { return };
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let claims: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(claims["email"], "py@example.com");
    let at = access.len() - 10; // inside the signature, where every bit counts
    let flipped = if &access[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{flipped}{}", &access[..at], &access[at + 1..]);
    let output = verify_with_pyjwt(&app, &forged).unwrap();
    assert!(!output.status.success(), "a tampered token is refused by PyJWT too");
}

#[test]
fn a_token_is_never_issued_at_a_second_that_has_not_begun() {
    // `iat` is the database clock's second, floored: rounded, it was half a second ahead half
    // the time, and a strict verifier (PyJWT) refused such a token as "not yet valid".
    let app = TestApp::with().env("RATE_LIMIT_IP_PER_MINUTE", "0").start();
    app.active_account("iat@example.com", PW);
    // Logins spread over more than a second, so some fall in the second half of one.
    let until = std::time::Instant::now() + std::time::Duration::from_millis(1500);
    while std::time::Instant::now() < until {
        let (access, _) = tokens(&app, "iat@example.com");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        let payload = URL_SAFE_NO_PAD.decode(access.split('.').nth(1).unwrap()).unwrap();
        let iat = serde_json::from_slice::<Value>(&payload).unwrap()["iat"].as_u64().unwrap();
        assert!(iat <= now.as_secs(), "iat {iat} is after now {now:?}");
    }
}
