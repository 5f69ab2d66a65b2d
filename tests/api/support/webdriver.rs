//! A small W3C WebDriver client for the browser tests: chromedriver driving Debian's headless
//! Chromium, over the tests' own HTTP client. Tests call [`Browser::start`], which answers `None`
//! when Chromium or chromedriver is not installed (`helpers::missing_tool`: SKIPPED, or a failure
//! with `REQUIRE_TOOLS=1`).

use crate::support::client::exchange;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where screenshots are saved (README names it; CI keeps it as an artefact).
pub const SCREENSHOTS: &str = "target/screenshots";

pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

impl Browser {
    /// A headless Chromium session, or `None` when the browser is not installed.
    pub fn start() -> Option<Browser> {
        if !std::path::Path::new(CHROMIUM).exists() || !std::path::Path::new(CHROMEDRIVER).exists()
        {
            crate::support::helpers::missing_tool(&format!(
                "{CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
            ));
            return None;
        }
        let port = crate::support::helpers::free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut browser = Browser { driver, port, session: String::new() };
        let deadline = Instant::now() + Duration::from_secs(10);
        while browser.request("GET", "/status", None).is_none() {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1100,1300", "--lang=en-GB"]
            },
            "goog:loggingPrefs": {"browser": "ALL"}
        }}});
        let created = browser.request("POST", "/session", Some(capabilities)).expect("a session");
        browser.session = created["value"]["sessionId"].as_str().expect("session id").to_owned();
        Some(browser)
    }

    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Option<Value> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.port,
            body.len()
        );
        let response = exchange(
            ("127.0.0.1", self.port),
            &[head.as_bytes(), body.as_bytes()].concat(),
            Duration::from_secs(60),
        )
        .ok()?;
        serde_json::from_slice(&response.body).ok()
    }

    /// A command of this session; panics on a WebDriver error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let answer = self.request(method, &path, body).expect("WebDriver answers");
        assert!(answer["value"]["error"].is_null(), "WebDriver {method} {path}: {answer}");
        answer["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` in the page (its `arguments` are `args`) and returns its result.
    pub fn script(&self, script: &str, args: Value) -> Value {
        self.call("POST", "/execute/sync", Some(json!({"script": script, "args": args})))
    }

    /// Waits (10 s) until `condition`, a JavaScript expression, is true in the page.
    #[track_caller]
    pub fn wait_for(&self, condition: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let script = format!("return Boolean({condition});");
        while self.script(&script, json!([])) != json!(true) {
            if Instant::now() >= deadline {
                let text = self.script("return document.body.innerText;", json!([]));
                panic!(
                    "timed out waiting for `{condition}`; the page says:\n{}",
                    text.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the element `css` is displayed, and returns its reference.
    #[track_caller]
    fn element(&self, css: &str) -> String {
        let quoted = serde_json::to_string(css).unwrap_or_default();
        self.wait_for(&format!(
            "(e => e && e.offsetParent !== null)(document.querySelector({quoted}))"
        ));
        let found =
            self.call("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {found}")).to_owned()
    }

    /// Clicks the displayed element `css`, as a person would.
    #[track_caller]
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Types `text` into the displayed field `css`, replacing what was there.
    #[track_caller]
    pub fn fill(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.call("POST", &format!("/element/{id}/value"), Some(json!({ "text": text })));
    }

    /// The visible text of `css` once it is displayed.
    #[track_caller]
    pub fn text(&self, css: &str) -> String {
        let id = self.element(css);
        self.call("GET", &format!("/element/{id}/text"), None).as_str().unwrap_or("").to_owned()
    }

    /// The value of the field `css`.
    pub fn value(&self, css: &str) -> String {
        let quoted = serde_json::to_string(css).unwrap_or_default();
        let value =
            self.script(&format!("return document.querySelector({quoted}).value;"), json!([]));
        value.as_str().unwrap_or("").to_owned()
    }

    /// Gives the browser a virtual platform authenticator (WebDriver's WebAuthn extension): it
    /// holds discoverable credentials and verifies its user (like a fingerprint reader that is
    /// always touched by its owner). Returns its id.
    pub fn add_virtual_authenticator(&self) -> String {
        let options = json!({
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserConsenting": true, "isUserVerified": true,
        });
        let id = self.call("POST", "/webauthn/authenticator", Some(options));
        id.as_str().expect("authenticator id").to_owned()
    }

    /// The credentials the virtual authenticator `id` holds.
    pub fn authenticator_credentials(&self, id: &str) -> Vec<Value> {
        let found = self.call("GET", &format!("/webauthn/authenticator/{id}/credentials"), None);
        found.as_array().cloned().unwrap_or_default()
    }

    /// Sets the window to `width` × `height` CSS pixels (a phone is 390 × 844).
    pub fn resize(&self, width: u32, height: u32) {
        self.call("POST", "/window/rect", Some(json!({ "width": width, "height": height })));
    }

    /// Saves a PNG of the window as `target/screenshots/NAME.png`.
    pub fn screenshot(&self, name: &str) {
        let png =
            STANDARD.decode(self.call("GET", "/screenshot", None).as_str().unwrap_or("")).unwrap();
        std::fs::create_dir_all(SCREENSHOTS).unwrap();
        std::fs::write(format!("{SCREENSHOTS}/{name}.png"), png).unwrap();
    }

    /// Console messages of level SEVERE since the last call: script errors, failed loads and
    /// Content-Security-Policy violations all land there. The API's own 4xx answers to the
    /// page's requests (a wrong code, say) are expected and left out; a file of the page that
    /// fails to load is not.
    pub fn console_errors(&self) -> Vec<String> {
        let logs = self.call("POST", "/se/log", Some(json!({"type": "browser"})));
        let api_4xx = |m: &str| {
            m.contains("Failed to load resource: the server responded with a status of 4")
                && ![".js ", ".css ", ".svg ", ".ico ", "/ -"].iter().any(|asset| m.contains(asset))
        };
        logs.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or("").to_owned())
            .filter(|message| !api_4xx(message))
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
