//! Deliveries under faults: a receiver down then up, answering 500 then 200, hanging; an instance
//! killed mid-delivery; two instances on one queue; attempts used up, then an administrator's
//! retry. Each delivery is still verified by the official library.

use super::{Receiver, SECRET, app_sending_to, body};
use crate::admin::admin;
use crate::support::helpers::*;
use serde_json::{Value, json};
use std::time::Duration;

const PW: &str = "correct horse";

/// An account of `app` whose display name changes `n` times: `n` user.updated events.
fn rename(app: &TestApp, email: &str, n: usize) {
    app.active_account(email, PW);
    let token = app.login_ok(email, PW);
    for i in 0..n {
        let body = json!({ "display_name": format!("name {i}") }).to_string();
        assert_eq!(app.with_token("PATCH", "/me", &token, Some(&body)).status, 200);
    }
}

/// The deliveries rows: (status, attempts, last_error), by id.
fn rows(app: &TestApp) -> Vec<(String, i32, Option<String>)> {
    let sql = "SELECT status, attempts, last_error FROM webhook_deliveries ORDER BY id";
    app.sql().query(sql, &[]).unwrap().iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()
}

const ONLY_UPDATES: (&str, &str) = ("WEBHOOK_EVENTS", "user.updated");

#[test]
fn a_receiver_that_is_down_gets_the_event_once_it_is_up() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let app = app_sending_to(&[url], &[ONLY_UPDATES]);
    rename(&app, "ann@example.com", 1);
    eventually_within(10, "two refused attempts", || rows(&app).first().is_some_and(|r| r.1 >= 2));
    let (status, _, error) = rows(&app).remove(0);
    assert_eq!(status, "pending");
    assert!(error.is_some_and(|e| !e.is_empty()), "the reason is kept");
    let Some(receiver) = Receiver::start_on(port) else { return };
    let got = receiver.wait_for(1, 20);
    assert_eq!(got[0]["verified"], true);
    eventually_within(5, "marked delivered", || rows(&app)[0].0 == "delivered");
}

#[test]
fn a_receiver_answering_500_gets_the_same_message_again_until_it_answers_2xx() {
    let Some(receiver) = Receiver::start() else { return };
    receiver.mode(2, 0);
    let app = app_sending_to(&[receiver.url()], &[ONLY_UPDATES]);
    rename(&app, "ann@example.com", 1);
    let got = receiver.wait_for(3, 15);
    let answered: Vec<i64> = got.iter().map(|d| d["answered"].as_i64().unwrap()).collect();
    assert_eq!(answered, [500, 500, 204]);
    let ids: Vec<&Value> = got.iter().map(|d| &d["headers"]["webhook-id"]).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one webhook-id across attempts: {ids:?}");
    let stamps: Vec<&Value> = got.iter().map(|d| &d["headers"]["webhook-timestamp"]).collect();
    assert_ne!(stamps[0], stamps[2], "each attempt is signed when sent");
    assert!(got.iter().all(|d| d["verified"] == true));
    eventually_within(5, "marked delivered", || rows(&app) == [("delivered".into(), 3, None)]);
}

#[test]
fn a_receiver_that_hangs_times_out_and_holds_up_no_other_url() {
    let (Some(stuck), Some(healthy)) = (Receiver::start(), Receiver::start()) else { return };
    stuck.mode(0, 30);
    let urls = [stuck.url(), healthy.url()];
    let app = app_sending_to(&urls, &[ONLY_UPDATES, ("WEBHOOK_TIMEOUT_MS", "500")]);
    rename(&app, "ann@example.com", 3);
    let got = healthy.wait_for(3, 10);
    assert!(got.iter().all(|d| d["verified"] == true));
    let stuck_rows = || {
        let sql = "SELECT attempts, last_error FROM webhook_deliveries WHERE endpoint = $1";
        let rows = app.sql().query(sql, &[&urls[0]]).unwrap();
        rows.iter().map(|r| (r.get::<_, i32>(0), r.get::<_, Option<String>>(1))).collect::<Vec<_>>()
    };
    eventually_within(10, "the hung attempt to time out", || {
        stuck_rows().iter().any(|r| r.1.is_some())
    });
    let (_, error) = stuck_rows().into_iter().find(|r| r.1.is_some()).unwrap();
    assert!(error.unwrap().to_lowercase().contains("timeout"), "logged as a timeout");
}

#[test]
fn an_instance_killed_mid_delivery_leaves_the_event_to_be_sent_after_restart() {
    let Some(receiver) = Receiver::start() else { return };
    receiver.mode(0, 60);
    let timeout = ("WEBHOOK_TIMEOUT_MS", "1000");
    let mut app = app_sending_to(&[receiver.url()], &[ONLY_UPDATES, timeout]);
    rename(&app, "ann@example.com", 1);
    receiver.wait_for(1, 10); // the receiver holds it: the sender is mid-delivery
    app.process.signal("KILL");
    app.process.wait_exit(Duration::from_secs(5)).expect("killed");
    receiver.mode(0, 0);
    let _restarted = Process::start(&another_instance(&app, &receiver, &[ONLY_UPDATES, timeout]));
    let got = receiver.wait_for(2, 20); // after the lease: twice the timeout and 5 s
    assert_eq!(got[0]["headers"]["webhook-id"], got[1]["headers"]["webhook-id"], "the same event");
    assert_eq!(got[1]["answered"], 204);
    eventually_within(5, "marked delivered", || rows(&app)[0].0 == "delivered");
}

/// The settings of another instance on `app`'s database, sending to `receiver`.
fn another_instance(
    app: &TestApp,
    receiver: &Receiver,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut env = vec![
        ("DATABASE_URL".to_owned(), app.db.url()),
        ("WEBHOOK_URLS".to_owned(), receiver.url()),
        ("WEBHOOK_SECRET".to_owned(), SECRET.to_owned()),
    ];
    if let Some(mail) = &app.mail {
        env.push(("MAIL_API_URL".to_owned(), mail.url.clone()));
    }
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

#[test]
fn two_instances_draining_one_queue_send_each_event_once() {
    let Some(receiver) = Receiver::start() else { return };
    let app = app_sending_to(&[receiver.url()], &[ONLY_UPDATES]);
    let second = Process::start(&another_instance(&app, &receiver, &[ONLY_UPDATES]));
    app.active_account("ann@example.com", PW);
    let token = app.login_ok("ann@example.com", PW);
    for i in 0..40 {
        let body = json!({ "display_name": format!("name {i}") }).to_string();
        let (method, path) = ("PATCH", "/me");
        let auth = format!("Bearer {token}");
        let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
        let answer = if i % 2 == 0 {
            app.process.send(method, path, &headers, Some(body.as_bytes()))
        } else {
            second.send(method, path, &headers, Some(body.as_bytes()))
        };
        assert_eq!(answer.status, 200);
    }
    let got = receiver.wait_for(40, 20);
    std::thread::sleep(Duration::from_millis(500));
    let mut ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|d| d["headers"]["webhook-id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!((got.len(), ids.len()), (40, 40), "each event once");
}

#[test]
fn a_delivery_that_used_its_attempts_is_listed_failed_and_an_administrator_retries_it() {
    let Some(receiver) = Receiver::start() else { return };
    receiver.mode(2, 0);
    let app = app_sending_to(&[receiver.url()], &[ONLY_UPDATES, ("WEBHOOK_MAX_ATTEMPTS", "2")]);
    let boss = admin(&app, "boss@example.com");
    rename(&app, "ann@example.com", 1);
    eventually_within(10, "the delivery to fail", || {
        rows(&app).first().is_some_and(|r| r.0 == "failed")
    });
    let list = |token: &str, query: &str| {
        app.with_token("GET", &format!("/admin/webhooks/deliveries{query}"), token, None)
    };
    let page = json(&list(&boss, "?status=failed"));
    let failed = &page["deliveries"][0];
    assert_eq!(
        (failed["type"].as_str(), failed["attempts"].as_i64()),
        (Some("user.updated"), Some(2))
    );
    assert!(failed["last_error"].as_str().unwrap().contains("500"), "{failed}");
    assert_eq!(failed["url"], receiver.url());
    assert_eq!(json(&list(&boss, ""))["deliveries"], page["deliveries"], "failed by default");
    let metrics = body_text(&app.process.send("GET", "/metrics", &[], None));
    assert!(metrics.contains("beefirst_webhook_failed 1"), "{metrics}");
    assert!(metrics.contains("beefirst_webhook_attempts_total{outcome=\"given_up\"} 1"));

    let ann = app.login_ok("ann@example.com", PW);
    assert_error(&list(&ann, "?status=failed"), 403, "forbidden");
    assert_error(&list("nope", "?status=failed"), 401, "invalid_token");
    assert_error(&list(&boss, "?status=lost"), 400, "invalid_request");
    let id = failed["id"].as_str().unwrap();
    let retry = |id: &str| {
        app.with_token("POST", &format!("/admin/webhooks/deliveries/{id}/retry"), &boss, None)
    };
    assert_error(
        &app.with_token("POST", &format!("/admin/webhooks/deliveries/{id}/retry"), &ann, None),
        403,
        "forbidden",
    );
    assert_eq!(retry(id).status, 204);
    let got = receiver.wait_for(3, 10);
    assert_eq!(got[2]["answered"], 204);
    assert_eq!(got[2]["headers"]["webhook-id"], got[0]["headers"]["webhook-id"]);
    eventually_within(5, "marked delivered", || rows(&app)[0].0 == "delivered");
    assert_error(&retry(id), 409, "delivery_not_failed");
    assert_error(&retry("999999"), 404, "not_found");
    let delivered = json(&list(&boss, "?status=delivered"));
    assert_eq!(delivered["deliveries"][0]["id"], id);
    assert!(delivered["deliveries"][0]["finished_at"].is_string());
    let _ = body(&got[2]);
}
