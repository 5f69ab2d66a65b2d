"""Target 12: webhooks (bench/run; BENCHMARKS.md "Webhooks"). `python3 bench/webhooks.py` runs it
alone (after `cargo build --release`).

- Deliveries per second: a backlog of events (rows as the unit of work writes them) sent by one
  instance to a fast receiver on loopback (an HTTP/1.1 keep-alive server in this process that
  answers 204 at once), timed from the instance's start until every row is delivered. One
  sender per URL sends one delivery at a time, so this is one URL's rate; a second URL gets a
  second sender.
- A dead receiver adds nothing to requests: `PATCH /me` (a change that publishes
  `user.updated`), one after another, against an instance sending to the fast receiver and
  against one whose receiver accepts connections and never answers (every delivery waits out
  `WEBHOOK_TIMEOUT_MS`). An instance without webhooks is measured too: the difference to it is
  the cost of publishing (one more statement in the change's transaction).
"""
import http.client, json, os, socket, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import users as scale

BACKLOG = 5000
REQUESTS = 1000
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

def fast_receiver():
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *args):
            pass
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

def dead_receiver():
    """A socket that accepts connections (the kernel's backlog) and never reads or answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock

def psql(db_url, sql):
    return subprocess.run(["psql", db_url, "-XAtqc", sql], check=True, text=True, capture_output=True).stdout.strip()

def throughput(root, out, db_url):
    receiver = fast_receiver()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks"
    # The schema exists once an instance has run; the rows are those UnitOfWork::publish writes.
    scale.Instance(root, out, db_url, "webhooks-schema").stop()
    psql(db_url, "TRUNCATE webhook_deliveries")
    psql(db_url, f"""INSERT INTO webhook_deliveries (message_id, endpoint, event_type, payload)
                     SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), '{url}', 'user.updated',
                            json_build_object('type', 'user.updated', 'timestamp', '2026-12-02T00:00:00Z',
                                              'data', json_build_object('id', i::text, 'email', 'u' || i || '@bench'))::text
                       FROM generate_series(1, {BACKLOG}) i""")
    started = time.perf_counter()
    inst = scale.Instance(root, out, db_url, "webhooks", WEBHOOK_URLS=url, WEBHOOK_SECRET=SECRET)
    try:
        while int(psql(db_url, "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")) > 0:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        delivered = int(psql(db_url, "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'"))
        rss = inst.rss_mib()
    finally:
        inst.stop()
        receiver.shutdown()
    return {"per_second": delivered / elapsed, "delivered": delivered, "rss_mib": rss}

def patch_latency(root, out, db_url, name, **settings):
    """p50/p99 of PATCH /me, one after another on a keep-alive connection."""
    inst = scale.Instance(root, out, db_url, name, BCRYPT_COST=4, **settings)
    try:
        host, port = inst.addr.rsplit(":", 1)
        client = http.client.HTTPConnection(host, int(port), timeout=30)
        email = f"{name}@webhooks.bench"
        def call(method, path, body, headers=None):
            client.request(method, path, json.dumps(body), {"Content-Type": "application/json", **(headers or {})})
            answer = client.getresponse()
            return answer, answer.read()
        scale.active_account(inst, email)
        token = scale.call(inst.addr, "POST", "/login", {"email": email, "password": scale.PASSWORD})["access_token"]
        samples = []
        for i in range(REQUESTS):
            started = time.perf_counter()
            answer, _ = call("PATCH", "/me", {"display_name": f"n{i}"}, {"Authorization": f"Bearer {token}"})
            samples.append((time.perf_counter() - started) * 1000)
            assert answer.status == 200, answer.status
        samples.sort()
        pending = int(psql(db_url, "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"))
    finally:
        inst.stop()
    return {"p50": samples[len(samples) // 2], "p99": samples[int(len(samples) * 0.99)], "pending_after": pending}

def run(root, out, db_url):
    result = {"throughput": throughput(root, out, db_url)}
    psql(db_url, "TRUNCATE accounts CASCADE")
    result["without"] = patch_latency(root, out, db_url, "webhooks-off")
    receiver = fast_receiver()
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks"
        result["healthy"] = patch_latency(root, out, db_url, "webhooks-healthy", WEBHOOK_URLS=url, WEBHOOK_SECRET=SECRET)
    finally:
        receiver.shutdown()
    dead = dead_receiver()
    try:
        url = f"http://127.0.0.1:{dead.getsockname()[1]}/hooks"
        result["dead"] = patch_latency(root, out, db_url, "webhooks-dead", WEBHOOK_URLS=url, WEBHOOK_SECRET=SECRET,
                                       WEBHOOK_TIMEOUT_MS="5000")
    finally:
        dead.close()
    return result

def rows(r):
    t, off, healthy, dead = r["throughput"], r["without"], r["healthy"], r["dead"]
    return [
        ("12 webhook deliveries per second, one URL, fast receiver on loopback", f"{t['per_second']:.0f}/s",
         f"{t['delivered']} delivered; RSS {t['rss_mib']:.1f} MiB", None, t["per_second"] >= 250, ">= 250/s"),
        ("12 PATCH /me with a receiver that never answers", f"p50 {dead['p50']:.2f}, p99 {dead['p99']:.2f} ms",
         f"healthy receiver: p50 {healthy['p50']:.2f}, p99 {healthy['p99']:.2f} ms; no webhooks: p50 {off['p50']:.2f}, "
         f"p99 {off['p99']:.2f} ms; {dead['pending_after']} deliveries waiting",
         dead["p99"] / healthy["p99"], dead["p99"] <= healthy["p99"] * 1.25 + 0.5, "p99 <= healthy x 1.25 + 0.5 ms"),
    ]

if __name__ == "__main__":
    scale.alone("beefirst_bench_webhooks", run, rows)
