//! The same round trips against a certified OpenID Connect provider: Node's `oidc-provider`
//! (panva, OpenID Certified), started from `tests/oidc-provider/` (`npm ci` installs it from the
//! committed lock file) and driven through its login and consent pages over HTTP with a cookie
//! jar, as a browser would. It keeps `email` out of the ID token in the code flow (the claims
//! come from its UserInfo endpoint), authenticates the client with `client_secret_basic` and
//! requires PKCE: interoperability the tests' own provider (`provider.rs`) cannot prove.

use super::{app_with_issuer, back, encode, exchange, fragment, location, to_provider};
use crate::support::client::{RawResponse, exchange as send};
use crate::support::helpers::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CLIENT_ID: &str = "beefirst-certified";
const CLIENT_SECRET: &str = "a-secret-for-the-certified-provider";

/// `oidc-provider` on loopback, stopped when dropped.
struct CertifiedProvider {
    child: Child,
    issuer: String,
    port: u16,
}

impl CertifiedProvider {
    /// Started for the service at `service_url`; `None` (SKIPPED, or a failure in CI) without
    /// Node or the installed package.
    fn start(service_url: &str) -> Option<CertifiedProvider> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider");
        let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
        if !node || !dir.join("node_modules/oidc-provider").exists() {
            missing_tool(
                "Node.js and tests/oidc-provider/node_modules (cd tests/oidc-provider && npm ci)",
            );
            return None;
        }
        let port = free_port();
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URI", format!("{service_url}/idp/corp/callback"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts");
        let mut first = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
        // Keep reading what it prints, so that it never writes to a closed pipe.
        std::thread::spawn(move || for _ in stdout.lines() {});
        let started: serde_json::Value = serde_json::from_str(&first).expect("its listening line");
        let issuer = started["issuer"].as_str().unwrap().to_owned();
        Some(CertifiedProvider { child, issuer, port })
    }

    /// A request to the provider with the jar's cookies; the jar takes the answer's.
    fn request(
        &self,
        jar: &mut BTreeMap<String, String>,
        method: &str,
        path: &str,
        form: Option<&str>,
    ) -> RawResponse {
        let cookies: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let body = form.unwrap_or("");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nCookie: {}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            self.port,
            cookies.join("; "),
            body.len()
        );
        let answer = send(
            ("127.0.0.1", self.port),
            &[head.as_bytes(), body.as_bytes()].concat(),
            Duration::from_secs(10),
        )
        .expect("the provider answers");
        for (name, value) in &answer.headers {
            if name == "set-cookie" {
                let pair = value.split(';').next().unwrap_or("");
                if let Some((k, v)) = pair.split_once('=') {
                    jar.insert(k.trim().to_owned(), v.trim().to_owned());
                }
            }
        }
        answer
    }

    /// A person at the provider's pages: from the URL the service sent the browser to, through
    /// login (as `login`, `subject~email~verified`) and consent, or `abort`ing at the login page;
    /// the callback URL the provider finally sends the browser to.
    fn sign_in(&self, authorize_url: &str, login: &str, abort: bool) -> String {
        let mut jar = BTreeMap::new();
        let mut next =
            authorize_url.strip_prefix(&self.issuer).expect("the provider's URL").to_owned();
        for _ in 0..10 {
            let answer = self.request(&mut jar, "GET", &next, None);
            let to = answer.header("Location").map(str::to_owned);
            let Some(to) = to else {
                // An interaction page: say who signs in, or agree.
                let page = String::from_utf8_lossy(&answer.body).into_owned();
                let form = if abort {
                    next = format!("{next}/abort");
                    continue;
                } else if page.contains("name=\"prompt\" value=\"login\"")
                    || page.contains("value=\"login\" name=\"prompt\"")
                {
                    format!("prompt=login&login={}&password=any", encode(login))
                } else {
                    "prompt=consent".to_owned()
                };
                let posted = self.request(&mut jar, "POST", &next, Some(&form));
                next = relative(
                    posted.header("Location").expect("a redirect after the form"),
                    &self.issuer,
                );
                continue;
            };
            if !to.starts_with('/') && !to.starts_with(&self.issuer) {
                return to; // leaving the provider: the service's callback
            }
            next = relative(&to, &self.issuer);
        }
        panic!("the provider never sent the browser back");
    }
}

fn relative(location: &str, issuer: &str) -> String {
    location.strip_prefix(issuer).unwrap_or(location).to_owned()
}

impl Drop for CertifiedProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_certified_provider_signs_in_links_and_is_never_linked_by_email() {
    let port = free_port();
    let url = format!("http://localhost:{port}");
    let Some(provider) = CertifiedProvider::start(&url) else { return };
    let app = app_with_issuer(port, &provider.issuer, CLIENT_ID, CLIENT_SECRET, &[]);

    // A new account from a verified email (read from UserInfo), then the returning identity.
    let callback = provider.sign_in(&to_provider(&app, None), "ann~ann@example.com~true", false);
    let (key, code) = fragment(&location(&back(&app, &url, &callback)));
    assert_eq!(key, "login_code", "{code}");
    let first = json(&exchange(&app, &code));
    let callback = provider.sign_in(&to_provider(&app, None), "ann~ann@example.com~true", false);
    let (_, code) = fragment(&location(&back(&app, &url, &callback)));
    let again = json(&exchange(&app, &code));
    assert!(again["access_token"].is_string(), "{again}");
    let me = json(&app.with_token("GET", "/me", again["access_token"].as_str().unwrap(), None));
    assert_eq!(
        (me["email"].as_str(), me["password_set"].as_bool()),
        (Some("ann@example.com"), Some(false))
    );
    let token = first["access_token"].as_str().unwrap();
    let listed = json(&app.with_token("GET", "/me/identities", token, None));
    let id = listed["identities"][0]["id"].clone();
    let unlink = app.with_token("DELETE", &format!("/me/identities/{id}"), token, None);
    assert_error(&unlink, 409, "last_sign_in_method");

    // An unverified email makes nothing; an email with an account is never linked by itself.
    let callback = provider.sign_in(&to_provider(&app, None), "eve~eve@example.com~false", false);
    assert_eq!(fragment(&location(&back(&app, &url, &callback))).1, "email_not_verified");
    app.active_account("bob@example.com", "correct horse");
    let callback =
        provider.sign_in(&to_provider(&app, None), "bob-elsewhere~bob@example.com~true", false);
    assert_eq!(fragment(&location(&back(&app, &url, &callback))).1, "link_required");
    // Bob links it himself, then it signs in to his account.
    let bob = app.login_ok("bob@example.com", "correct horse");
    let started =
        json(&app.with_token("POST", "/me/identities/corp", &bob, Some(&json!({}).to_string())));
    let callback = provider.sign_in(
        started["authorize_url"].as_str().unwrap(),
        "bob-elsewhere~bob@example.com~true",
        false,
    );
    assert_eq!(super::confirm(&app, &bob, &location(&back(&app, &url, &callback))).status, 200);
    let callback =
        provider.sign_in(&to_provider(&app, None), "bob-elsewhere~bob@example.com~true", false);
    let (_, code) = fragment(&location(&back(&app, &url, &callback)));
    let by_provider = json(&exchange(&app, &code));
    let me =
        json(&app.with_token("GET", "/me", by_provider["access_token"].as_str().unwrap(), None));
    assert_eq!(me["email"], "bob@example.com");

    // Saying no at the provider; a state replayed; a redirect_to not allowed.
    let callback = provider.sign_in(&to_provider(&app, None), "", true);
    assert_eq!(fragment(&location(&back(&app, &url, &callback))).1, "access_denied");
    assert_error(&back(&app, &url, &callback), 400, "invalid_state");
    let elsewhere = app.process.send(
        "GET",
        "/idp/corp/authorize?redirect_to=https%3A%2F%2Fevil.example%2F",
        &[],
        None,
    );
    assert_error(&elsewhere, 400, "invalid_redirect");
}
