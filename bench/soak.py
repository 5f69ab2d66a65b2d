"""bench/soak: hours of mixed traffic with faults, compressed (issue "A week without critical errors").

Usage: bench/soak [--minutes N] [--rate R] [--users U] [--faults kill,pg-restart,pg-kill,mail,webhooks]
                  [--debug]

Three instances behind the shipped nginx (deploy/nginx.conf) on one PostgreSQL database made for
the run, a mail API and a webhook receiver in this process, and a load of virtual users at a
steady rate: registering and activating (the code read from the mail), signing in, reading and
changing their profile, refreshing, changing their password, deleting their account. Every
10 s it samples each instance (RSS, threads, open files), PostgreSQL (connections, table rows,
the outbox and webhook backlogs) and the window's latency. Faults come at known times: the mail
API down for a minute (at 20 % of the run), an instance `kill -9`'d and started again 5 s later
(40 %), PostgreSQL restarted (55 %), the webhook receiver down for a minute (70 %), PostgreSQL
killed and started again (85 %). At the end it checks every
acknowledged write against the database and the receivers: acknowledged => present (or, for a
deletion, absent); mail and webhooks delivered at least once. It fails (exit 1) on a lost write
or on any 5xx other than 503 with Retry-After. Results: bench/out/soak.json and a summary.
"""
import argparse, base64, json, os, random, re, signal, subprocess, sys, threading, time
import http.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import users as scale

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
DB = f"beefirst_soak_{os.getpid()}"   # one per run: two runs on one server never meet
PG = "postgres://postgres@127.0.0.1:5432"
PASSWORD = "correct horse battery"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Catcher:
    """An HTTP server in this process that records what is POSTed to it (mail, webhooks); while
    `down`, it answers 503 (a receiver that is unavailable)."""
    def __init__(self, record):
        catcher = self
        self.down = False
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args):
                pass
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = 503 if catcher.down else 204
                if not catcher.down:
                    record(json.loads(body), self.headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


class Ledger:
    """What the load generator was told: acknowledged writes, and every answer with its time."""
    def __init__(self):
        self.lock = threading.Lock()
        self.answers = []          # (time, status, retry_after, ms)
        self.active = {}           # email -> password, activation acknowledged
        self.deleted = set()       # deletion acknowledged
        self.updated = set()       # emails whose profile change was acknowledged
        self.changed = set()       # emails whose password change was acknowledged
        self.uncertain = set()     # a deletion sent, its answer lost (it may or may not have happened)
        self.mails = {}            # recipient -> [text]
        self.hooks = []            # (type, email)

    def answer(self, status, retry_after, ms):
        with self.lock:
            self.answers.append((time.time(), status, retry_after, ms))


class Client:
    """One virtual user's connection to nginx, counting every answer in the ledger."""
    def __init__(self, addr, ledger):
        self.host, self.port = addr.rsplit(":", 1)
        self.ledger = ledger
        self.conn = None

    def call(self, method, path, body=None, token=None, basic=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if basic:
            headers["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()
        for attempt in range(2):
            started = time.perf_counter()
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
                self.conn.request(method, path, json.dumps(body) if body is not None else None, headers)
                answer = self.conn.getresponse()
                data = answer.read()
                status, retry_after = answer.status, answer.getheader("Retry-After")
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 0:
                    continue  # a keep-alive connection nginx had closed: once more on a new one
                status, retry_after, data = 0, None, b""
            self.ledger.answer(status, retry_after, (time.perf_counter() - started) * 1000)
            try:
                return status, json.loads(data) if data else {}
            except ValueError:
                return status, {}
        return 0, {}

    def until_answered(self, method, path, body=None, token=None, basic=None, tries=20):
        """A write retried while the answer is 503 (with Retry-After, shortened for the run)."""
        for _ in range(tries):
            status, data = self.call(method, path, body, token, basic)
            if status != 503:
                return status, data
            time.sleep(0.5)
        return status, data


def virtual_user(client, ledger, stop, rate, number):
    """Registers and activates, then signs in, reads, changes and refreshes; sometimes changes the
    password; sometimes deletes the account and starts over."""
    pause = 1.0 / rate
    n = 0
    while not stop.is_set():
        n += 1
        email, password = f"u{number}-{n}@soak.example", PASSWORD
        status, _ = client.until_answered("POST", "/register", {"email": email, "password": password})
        if status not in (201, 409):
            time.sleep(pause); continue
        code = None
        for _ in range(100):
            texts = ledger.mails.get(email)
            if texts:
                code = re.search(r"\d+", texts[-1]).group(0); break
            time.sleep(0.05)
        if code is None:
            continue
        status, _ = client.until_answered("POST", "/activate", {"code": code}, basic=f"{email}:{password}")
        if status != 200:
            continue
        with ledger.lock:
            ledger.active[email] = password
        for round in range(random.randint(3, 8)):
            if stop.is_set():
                return
            time.sleep(pause)
            status, tokens = client.until_answered("POST", "/login", {"email": email, "password": password})
            if status != 200:
                continue
            token, refresh = tokens["access_token"], tokens["refresh_token"]
            client.call("GET", "/me", token=token)
            status, _ = client.until_answered("PATCH", "/me", {"display_name": f"n{round}"}, token=token)
            if status == 200:
                with ledger.lock:
                    ledger.updated.add(email)
            status, tokens = client.call("POST", "/token/refresh", {"refresh_token": refresh})
            if status == 200:
                token = tokens["access_token"]
            if random.random() < 0.15:
                new = f"{PASSWORD} {round}"
                status, _ = client.until_answered("POST", "/me/password",
                                                  {"current_password": password, "new_password": new}, token=token)
                if status == 204:
                    password = new
                    with ledger.lock:
                        ledger.active[email] = new
                        ledger.changed.add(email)
            client.call("POST", "/logout", token=token)
        if random.random() < 0.3:
            status, tokens = client.until_answered("POST", "/login", {"email": email, "password": password})
            if status == 200:
                with ledger.lock:
                    ledger.uncertain.add(email)
                status, _ = client.until_answered("DELETE", "/me", {"password": password}, token=tokens["access_token"])
                if status == 204:
                    with ledger.lock:
                        ledger.active.pop(email, None)
                        ledger.deleted.add(email)
                        ledger.uncertain.discard(email)


def psql(sql):
    return subprocess.run(["psql", f"{PG}/{DB}", "-XAtqc", sql], text=True, capture_output=True).stdout.strip()


def sample(instances, ledger, since):
    """One row of the time series."""
    row = {"t": round(time.time() - since, 1)}
    for i, inst in enumerate(instances):
        pid = inst.proc.pid
        try:
            status = open(f"/proc/{pid}/status").read()
            row[f"rss_mib_{i}"] = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
            row[f"threads_{i}"] = int(re.search(r"Threads:\s+(\d+)", status).group(1))
            row[f"fds_{i}"] = len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, AttributeError):
            pass  # down for a fault
    counts = psql(f"""SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = '{DB}'),
                             (SELECT count(*) FROM outbox),
                             (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'),
                             (SELECT count(*) FROM sessions), (SELECT count(*) FROM refresh_tokens),
                             (SELECT count(*) FROM audit_events), (SELECT count(*) FROM rate_limits),
                             (SELECT count(*) FROM accounts)""")
    if counts:
        keys = ["pg_connections", "outbox", "webhooks_pending", "sessions", "refresh_tokens",
                "audit_events", "rate_limits", "accounts"]
        row.update(zip(keys, map(int, counts.split("|"))))
    with ledger.lock:
        window = sorted(ms for t, s, _, ms in ledger.answers if t > time.time() - 10 and s)
    if window:
        row["p50_ms"] = window[len(window) // 2]
        row["p99_ms"] = window[int(0.99 * (len(window) - 1))]
        row["requests"] = len(window)
    return row


def slope_per_hour(series, key):
    """Least-squares slope of `key` over time, per hour (a leak is a slope)."""
    points = [(r["t"], r[key]) for r in series if key in r]
    if len(points) < 3:
        return None
    n = len(points)
    mt, mv = sum(t for t, _ in points) / n, sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (v - mv) for t, v in points) / var * 3600 if var else 0.0


def account(ledger, client, catchers_settle=180):
    """Every acknowledged write against the database and the receivers; a list of what is lost."""
    lost = []
    deadline = time.time() + catchers_settle
    while time.time() < deadline and (int(psql("SELECT count(*) FROM outbox") or 0) or
                                      int(psql("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'") or 0)):
        time.sleep(1)
    present = set(psql("SELECT email FROM accounts WHERE status = 'active'").split("\n"))
    for email in ledger.active:
        if email not in present and email not in ledger.uncertain:
            lost.append(f"activated, acknowledged, missing: {email}")
    for email in ledger.deleted:
        if email in present:
            lost.append(f"deleted, acknowledged, still there: {email}")
    for email in ledger.changed & set(ledger.active):
        status, _ = client.until_answered("POST", "/login", {"email": email, "password": ledger.active[email]})
        if status != 200:
            lost.append(f"password change acknowledged, new password refused ({status}): {email}")
    hooks = {(kind, email) for kind, email in ledger.hooks}
    for email in list(ledger.active) + list(ledger.deleted):
        if ("user.created", email) not in hooks:
            lost.append(f"no user.created webhook: {email}")
    for email in ledger.deleted:
        if ("user.deleted", email) not in hooks:
            lost.append(f"no user.deleted webhook: {email}")
    for email in ledger.updated:
        if ("user.updated", email) not in hooks:
            lost.append(f"no user.updated webhook: {email}")
    return lost


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--rate", type=float, default=1.0, help="actions per second per virtual user")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--faults", default="kill,pg-restart,pg-kill,mail,webhooks")
    parser.add_argument("--debug", action="store_true", help="run target/debug/beefirst (CI's smoke, after cargo test)")
    args = parser.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    os.makedirs(OUT, exist_ok=True)
    subprocess.run([os.path.join(ROOT, ".ci", "pg-up")], check=True)
    if args.debug:
        os.environ["BEEFIRST_BIN"] = os.path.join(ROOT, "target", "debug", "beefirst")
    else:
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    subprocess.run(["psql", f"{PG}/postgres", "-Xqc", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)",
                    "-c", f"CREATE DATABASE {DB}"], check=True, capture_output=True)

    ledger = Ledger()
    def mail(body, headers):
        with ledger.lock:
            ledger.mails.setdefault(body["To"][0]["Email"], []).append(body["Text"])
    def hook(body, headers):
        with ledger.lock:
            ledger.hooks.append((body["type"], body["data"].get("email")))
    mailbox, receiver = Catcher(mail), Catcher(hook)

    ports = []
    for _ in range(3):
        ports.append(scale_free_port())
    settings = dict(BCRYPT_COST="4", MAIL_API_URL=f"{mailbox.url}/api/v1/send", WEBHOOK_URLS=f"{receiver.url}/hooks",
                    WEBHOOK_SECRET=SECRET, TRUST_X_FORWARDED_FOR="true", DB_POOL_SIZE="8",
                    REAPER_INTERVAL_SECONDS="60", SESSION_TTL_SECONDS="300")
    start = lambda i: scale.Instance(ROOT, OUT, f"{PG}/{DB}", f"soak-{i}", BIND_ADDR=f"127.0.0.1:{ports[i]}", **settings)
    instances = [start(i) for i in range(3)]
    import run as bench_run
    addr, nginx = bench_run.nginx_front([f"127.0.0.1:{p}" for p in ports])

    stop = threading.Event()
    since = time.time()
    users = [threading.Thread(target=virtual_user, args=(Client(addr, ledger), ledger, stop, args.rate, u), daemon=True)
             for u in range(args.users)]
    for u in users:
        u.start()
    duration = args.minutes * 60
    schedule = []   # (at, name, action)
    if "kill" in faults:
        def kill():
            instances[1].proc.send_signal(signal.SIGKILL); instances[1].proc.wait()
            time.sleep(5)
            instances[1] = start(1)
        schedule.append((0.4 * duration, "instance kill -9, restarted after 5 s", kill))
    if "pg-restart" in faults:
        schedule.append((0.55 * duration, "PostgreSQL restarted (pg_ctl restart -m fast)", lambda: pg_ctl("restart", "fast")))
    if "pg-kill" in faults:
        def pg_kill():
            pg_ctl("stop", "immediate")  # no shutdown checkpoint: crash recovery at the start
            pg_ctl("start", None)
        schedule.append((0.85 * duration, "PostgreSQL killed (pg_ctl stop -m immediate), started again", pg_kill))
    if "mail" in faults:
        schedule.append((0.2 * duration, "mail API down for a minute", lambda: outage(mailbox, 60)))
    if "webhooks" in faults:
        schedule.append((0.7 * duration, "webhook receiver down for a minute", lambda: outage(receiver, 60)))
    schedule.sort()
    series, done_faults = [], []
    next_sample = time.time()
    try:
        while time.time() - since < duration:
            if schedule and time.time() - since >= schedule[0][0]:
                at, name, action = schedule.pop(0)
                began = time.time()
                action()
                done_faults.append({"name": name, "at": round(began - since, 1), "took": round(time.time() - began, 1)})
            if time.time() >= next_sample:
                series.append(sample(instances, ledger, since))
                next_sample += 10
            time.sleep(0.2)
    finally:
        stop.set()
        for u in users:
            u.join(timeout=60)
    lost = account(ledger, Client(addr, Ledger()))
    for inst in instances:
        inst.stop()
    nginx.terminate()
    subprocess.run(["psql", f"{PG}/postgres", "-Xqc", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"],
                   capture_output=True)
    report(args, series, done_faults, ledger, lost, since)
    return 1 if lost or bad_answers(ledger) else 0


def scale_free_port():
    import socket
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    return port


def pg_ctl(command, mode):
    cluster = sorted(os.listdir("/etc/postgresql"))[-1]
    extra = ["-m", mode] if mode else []
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", command, *extra], check=True)


def outage(catcher, seconds):
    catcher.down = True
    threading.Timer(seconds, lambda: setattr(catcher, "down", False)).start()


def bad_answers(ledger):
    """Answers that break the rule: any 5xx but a 503 with Retry-After, and no answer at all."""
    return [(t, s) for t, s, retry, _ in ledger.answers if s == 0 or (s >= 500 and not (s == 503 and retry))]


def report(args, series, faults, ledger, lost, since):
    per_minute = {}
    for t, s, _, _ in ledger.answers:
        m = int((t - since) // 60)
        ok, total = per_minute.get(m, (0, 0))
        per_minute[m] = (ok + (1 if 0 < s < 500 else 0), total + 1)
    # A fault's failures: those from its start until the next fault's, or two minutes at most.
    for i, fault in enumerate(faults):
        end = min(fault["at"] + 120, faults[i + 1]["at"] if i + 1 < len(faults) else float("inf"))
        failed = [t - since for t, s, _, _ in ledger.answers
                  if (s == 0 or s >= 500) and fault["at"] <= t - since < end]
        fault["requests_failed"] = len(failed)
        fault["healed_after_s"] = round(max(failed, default=fault["at"]) - fault["at"], 1)
    keys = [k for k in (series[-1] if series else {}) if k != "t"]
    slopes = {k: slope_per_hour(series, k) for k in keys}
    result = {
        "minutes": args.minutes, "users": args.users, "rate": args.rate,
        "requests": len(ledger.answers), "bad_answers": len(bad_answers(ledger)),
        "answers_503": sum(1 for _, s, _, _ in ledger.answers if s == 503),
        "activated_acknowledged": len(ledger.active) + len(ledger.deleted), "deleted_acknowledged": len(ledger.deleted),
        "lost": lost, "faults": faults,
        "availability_per_minute": {m: round(ok / total, 4) for m, (ok, total) in sorted(per_minute.items())},
        "slopes_per_hour": slopes, "series": series,
    }
    with open(os.path.join(OUT, "soak.json"), "w") as f:
        json.dump(result, f, indent=1)
    worst = min(result["availability_per_minute"].values(), default=1.0)
    print(f"soak: {args.minutes} min, {result['requests']} requests, {result['answers_503']} answered 503, "
          f"{result['bad_answers']} other 5xx or unanswered; {result['activated_acknowledged']} accounts activated, "
          f"{result['deleted_acknowledged']} deleted; lost: {len(lost)}; worst minute {worst:.2%}")
    for fault in faults:
        print(f"  fault at {fault['at']} s: {fault['name']}: {fault['requests_failed']} requests failed, "
              f"healed after {fault['healed_after_s']} s")
    for key in ("rss_mib_0", "threads_0", "fds_0", "pg_connections", "sessions", "audit_events", "rate_limits"):
        if slopes.get(key) is not None:
            print(f"  slope {key}: {slopes[key]:+.1f} per hour")
    for line in lost[:20]:
        print(f"  LOST {line}")


if __name__ == "__main__":
    sys.exit(main())
