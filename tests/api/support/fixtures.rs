//! Per-test fixtures: a fresh PostgreSQL database and a mock Mailpit send API.

use postgres::{Client, NoTls};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The connection string everything derives from: `DATABASE_URL` (the service's own setting), or
/// the service's default.
fn configured_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        let setting = beefirst::config::SETTINGS.iter().find(|s| s.name == "DATABASE_URL");
        setting.expect("DATABASE_URL is a setting").default.to_owned()
    })
}

/// Admin connection used to create and drop per-test databases: the `postgres` database of the
/// server `DATABASE_URL` names.
pub fn admin_url() -> String {
    database_url("postgres")
}

/// `DATABASE_URL` with its database name replaced (its query string, if any, kept).
pub fn database_url(name: &str) -> String {
    let url = configured_url();
    let (base, query) = url.split_at(url.find('?').unwrap_or(url.len()));
    let (server, _) = base.rsplit_once('/').expect("DATABASE_URL must be a postgres:// URL");
    format!("{server}/{name}{query}")
}

/// A fresh, uniquely named database, dropped in `Drop`.
pub struct TestDatabase {
    pub name: String,
}

impl TestDatabase {
    pub fn create() -> TestDatabase {
        let name = format!("beefirst_test_{:016x}", getrandom::u64().unwrap());
        let mut admin = Client::connect(&admin_url(), NoTls).unwrap_or_else(|e| {
            let cause = beefirst::error::chain(&e);
            panic!("cannot connect to {} ({cause}); is PostgreSQL up (.ci/pg-up)?", admin_url())
        });
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap();
        TestDatabase { name }
    }

    pub fn url(&self) -> String {
        database_url(&self.name)
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.url(), NoTls).unwrap()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&admin_url(), NoTls) {
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name));
        }
    }
}

/// A Mailpit-compatible send API that records every message; can be told to fail, or to take
/// its time (`delay_ms`) before it answers. `arrived` counts requests as they come in, before
/// the delay.
pub struct MockMail {
    pub url: String,
    pub messages: Arc<Mutex<Vec<Value>>>,
    pub fail: Arc<AtomicBool>,
    pub delay_ms: Arc<AtomicU64>,
    pub arrived: Arc<AtomicU64>,
    server: Arc<tiny_http::Server>,
}

impl MockMail {
    pub fn start() -> MockMail {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(AtomicBool::new(false));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (srv, msgs, fl) = (Arc::clone(&server), Arc::clone(&messages), Arc::clone(&fail));
        let delay = Arc::clone(&delay_ms);
        let arrived = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&arrived);
        std::thread::spawn(move || {
            while let Ok(mut request) = srv.recv() {
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(delay.load(Ordering::SeqCst)));
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let status = if fl.load(Ordering::SeqCst) {
                    500
                } else {
                    msgs.lock().unwrap().push(serde_json::from_str(&body).unwrap_or(Value::Null));
                    200
                };
                let _ = request
                    .respond(tiny_http::Response::from_string("{}").with_status_code(status));
            }
        });
        let url = format!("http://127.0.0.1:{port}/api/v1/send");
        MockMail { url, messages, fail, delay_ms, arrived, server }
    }
}

impl Drop for MockMail {
    fn drop(&mut self) {
        self.server.unblock();
    }
}
