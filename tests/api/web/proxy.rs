//! deploy/nginx.conf in front of the binary stops what tiny_http cannot (README, "Deploying").

use crate::support::client::{self as wire, RawResponse};
use crate::support::helpers::*;
use crate::support::infra::Nginx;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn send_raw(addr: SocketAddr, request: &[u8]) -> RawResponse {
    wire::exchange(addr, request, Duration::from_secs(20)).expect("an answer")
}

fn health_through(nginx: &Nginx) -> u16 {
    send_raw(nginx.addr(), b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status
}

#[test]
fn nginx_in_front_stops_every_tiny_http_failure_mode() {
    let Some(binary) = Nginx::binary() else {
        missing_tool("nginx (apt-get install nginx-light)");
        return;
    };
    let app = TestApp::with()
        .env("TRUST_X_FORWARDED_FOR", "true")
        .env("RATE_LIMIT_IP_PER_MINUTE", "0")
        .start();
    let nginx = Nginx::start(&binary, &[app.process.addr]);
    let front = nginx.addr();
    assert_eq!(health_through(&nginx), 200);

    // 2^50 and 1e9 declared bytes: refused by nginx, never forwarded (tiny_http would abort or pin).
    for length in ["1125899906842624", "1000000000"] {
        let request = format!(
            "POST /register HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {length}\r\n\r\n"
        );
        let response = send_raw(front, request.as_bytes());
        assert_error(&response, 413, "payload_too_large");
    }
    // A 1 MiB header line.
    let huge = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let response = send_raw(front, huge.as_bytes());
    assert_error(&response, 400, "bad_request");
    // A chunked body reaches beefirst re-framed with a Content-Length and works.
    let body = r#"{"email": "chunk@example.com", "password": "correct horse"}"#;
    let chunked = format!(
        "POST /register HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    assert_eq!(send_raw(front, chunked.as_bytes()).status, 201);

    // 200 slowloris connections: headers that never end. nginx holds them (cheaply, until
    // client_header_timeout); none reaches beefirst...
    let slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut socket = TcpStream::connect(front).unwrap();
            socket.write_all(b"POST /register HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
            socket
        })
        .collect();
    // ...while a normal client keeps being answered, through nginx and directly.
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(health_through(&nginx), 200);
        assert_eq!(app.process.send("GET", "/health", &[], None).status, 200);
    }
    drop(slow);
    assert!(started.elapsed() < Duration::from_secs(10));
    let direct = app.process.send("GET", "/health", &[], None);
    assert_eq!(direct.status, 200, "the process is alive");
}

#[test]
fn nginx_enforces_its_per_ip_connection_cap_with_a_json_429() {
    let Some(binary) = Nginx::binary() else {
        missing_tool("nginx (apt-get install nginx-light)");
        return;
    };
    let app = TestApp::spawn();
    let nginx = Nginx::start(&binary, &[app.process.addr]);
    let mut held: Vec<TcpStream> = Vec::new();
    // Requests whose bodies are still arriving count as open connections of this client.
    for _ in 0..25 {
        let mut socket = TcpStream::connect(nginx.addr()).unwrap();
        socket
            .write_all(b"POST /register HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            .unwrap();
        held.push(socket);
    }
    std::thread::sleep(Duration::from_millis(200));
    let refused =
        send_raw(nginx.addr(), b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    drop(held);
    assert_error(&refused, 429, "rate_limited");
    assert_eq!(refused.header("retry-after"), Some("1"));
}

#[test]
fn behind_nginx_the_ip_limit_uses_the_real_peer_not_a_spoofed_header() {
    let Some(binary) = Nginx::binary() else {
        missing_tool("nginx (apt-get install nginx-light)");
        return;
    };
    let app = TestApp::with()
        .env("TRUST_X_FORWARDED_FOR", "true")
        .env("RATE_LIMIT_IP_PER_MINUTE", "2")
        .start();
    let nginx = Nginx::start(&binary, &[app.process.addr]);
    let statuses: Vec<u16> = ["1.1.1.1", "2.2.2.2", "3.3.3.3"]
        .iter()
        .map(|spoofed| {
            let request = format!(
                "POST /register HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-For: {spoofed}\r\nContent-Length: 2\r\n\r\n{{}}"
            );
            send_raw(nginx.addr(), request.as_bytes()).status
        })
        .collect();
    assert_eq!(statuses, vec![400, 400, 429]);
    let logged = app.process.stdout();
    assert!(logged.iter().any(|l| l.contains("\"client_ip\":\"127.0.0.1\"")));
    assert!(!logged.iter().any(|l| l.contains("1.1.1.1")));
}

/// Requests tiny_http would close without an answer (a byte outside ASCII in the path or in a
/// header), with nginx's answer: 400, or the normal answer when the header is one nginx does not
/// forward.
const UNPARSABLE: [(&[u8], u16); 7] = [
    (b"GET /health HTTP/1.1\r\nHost: zo\xc3\xab\r\nConnection: close\r\n\r\n", 400),
    (b"GET /he\xffalth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nUser-Agent: caf\xc3\xa9/1.0\r\nConnection: close\r\n\r\n", 400),
    (b"POST /login HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \xff\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", 400),
    (b"GET /me HTTP/1.1\r\nHost: x\r\nX-Request-Id: \x01\r\nConnection: close\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Name: Zo\xc3\xab\r\nConnection: close\r\n\r\n", 200),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nUser-Agent: a\tb\r\nConnection: close\r\n\r\n", 200),
];

#[test]
fn a_malformed_request_gets_a_json_400_and_never_takes_an_instance_out_of_rotation() {
    let Some(binary) = Nginx::binary() else {
        missing_tool("nginx (apt-get install nginx-light)");
        return;
    };
    let app = TestApp::with()
        .env("TRUST_X_FORWARDED_FOR", "true")
        .env("RATE_LIMIT_IP_PER_MINUTE", "0")
        .start();
    let env = [
        ("DATABASE_URL".to_string(), app.db.url()),
        ("TRUST_X_FORWARDED_FOR".to_string(), "true".to_string()),
    ];
    let others = [Process::start(&env), Process::start(&env)];
    let upstreams = [app.process.addr, others[0].addr, others[1].addr];
    let nginx = Nginx::start(&binary, &upstreams);
    for (request, status) in UNPARSABLE {
        let what = String::from_utf8_lossy(request);
        let answer = send_raw(nginx.addr(), request);
        assert_eq!(answer.status, status, "{what}: {}", body_text(&answer));
        if status == 400 {
            assert_error(&answer, 400, "bad_request");
        }
        // Every other client is still served, by all three instances.
        for _ in 0..9 {
            assert_eq!(health_through(&nginx), 200, "after {what}");
        }
    }
    let instances_serving = [&app.process, &others[0], &others[1]]
        .iter()
        .filter(|p| p.stdout().iter().any(|l| l.contains("\"/health\"")))
        .count();
    assert_eq!(instances_serving, 3, "round robin reached every instance");
}

#[test]
fn every_answer_nginx_gives_itself_is_json() {
    let Some(binary) = Nginx::binary() else {
        missing_tool("nginx (apt-get install nginx-light)");
        return;
    };
    let app = TestApp::spawn();
    let nginx = Nginx::start(&binary, &[app.process.addr]);
    let long_path =
        format!("GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "a".repeat(9000));
    let cases: [(&[u8], u16); 8] = [
        (b"TRACE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405),
        (b"POST /register HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n", 501),
        (long_path.as_bytes(), 414),
        (b"GET /health HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n", 505),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404),
        (b"GET /_errors/internal HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404),
        // A bogus Expect is not forwarded (tiny_http would answer an empty 417).
        (b"GET /health HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\nConnection: close\r\n\r\n", 200),
    ];
    for (request, status) in cases {
        let response = send_raw(nginx.addr(), request);
        assert_eq!(response.status, status, "{}", body_text(&response));
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert!(json(&response).is_object());
    }
}

#[test]
fn a_browser_reaches_the_web_client_through_nginx() {
    let Some(binary) = Nginx::binary() else {
        missing_tool("nginx (apt-get install nginx-light)");
        return;
    };
    let app = TestApp::spawn();
    let nginx = Nginx::start(&binary, &[app.process.addr]);
    // What Chromium sends for a page.
    let accept =
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
    let request =
        format!("GET / HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\nConnection: close\r\n\r\n");
    let page = send_raw(nginx.addr(), request.as_bytes());
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(body_text(&page).contains("<script type=\"module\" src=\"/app.js\"></script>"));
    let api = send_raw(nginx.addr(), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(api.header("content-type"), Some("application/json"));
    let bad = send_raw(
        nginx.addr(),
        "GET / HTTP/1.1\r\nHost: x\r\nAccept: t\u{e9}xt/html\r\nConnection: close\r\n\r\n"
            .as_bytes(),
    );
    assert_error(&bad, 400, "bad_request");
}
