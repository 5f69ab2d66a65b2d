"""Every endpoint added since the first benchmark, at saturation, each next to its ceiling
(bench/run, target 9; BENCHMARKS.md "Every endpoint added since, at saturation").

Requests-lane endpoints (no bcrypt): wrk in a closed loop at CONNS connections, against pgbench
running the endpoint's main statement (bench/sql/) at as many clients: what PostgreSQL alone does
with that work on this machine. Hashing-lane endpoints: a closed loop at HASH_CONNS connections
(the hashing lane's queue), against the bcrypt ceiling divided by the hashes per request.

Setup, as in users.py: an instance at BCRYPT_COST=4 makes the accounts (users with sessions, an
administrator, accounts with TOTP on, accounts with a reset code mailed), then the measured
instance copies a hash of its own cost into them, so every password check costs what it would.
"""
import base64, hmac, http.client, json, os, re, struct, subprocess, threading, time
from concurrent.futures import ThreadPoolExecutor
import users as scale

USERS = 400
CONNS = 16                  # wrk connections and pgbench clients
HASH_CONNS = 16             # at most the hashing lane's capacity (4 x HASH_THREADS workers +
                            # HASH_QUEUE_DEPTH), with room for a client that asks again before
                            # its slot is released
DOMAIN = "@bench.example"

def totp_code(secret, step):
    """RFC 6238 with SHA-1, 6 digits, for the 30-second `step`."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), "sha1").digest()
    offset = mac[-1] & 15
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"

def now_step():
    return int(time.time()) // 30

def prepare(root, out, db_url, psql, resets, totps):
    """The accounts, sessions, factors and reset codes the measured endpoints use: `resets`
    accounts with a reset code mailed, `totps` with TOTP on."""
    setup = scale.Instance(root, out, db_url, "endpoints-setup", BCRYPT_COST=4)
    try:
        scale.active_account(setup, f"ep-seed{DOMAIN}")
        psql(f"INSERT INTO accounts (email, password_hash, status, activated_at) "
             f"SELECT 'ep-' || k || g || '{DOMAIN}', password_hash, 'active', now() "
             f"FROM accounts, (VALUES ('u', {USERS}), ('r', {resets}), ('t', {totps}), ('admin', 1)) AS kinds(k, n), "
             f"generate_series(1, n) g WHERE email = 'ep-seed{DOMAIN}'")
        subprocess.run([os.path.join(root, "target/release/beefirst"), "admin", "grant", f"ep-admin1{DOMAIN}"],
                       env=dict(os.environ, DATABASE_URL=db_url), check=True, capture_output=True)
        login = lambda email: scale.call(setup.addr, "POST", "/login", {"email": email, "password": scale.PASSWORD})
        with ThreadPoolExecutor(8) as pool:
            sessions = list(pool.map(lambda i: login(f"ep-u{i}{DOMAIN}"), range(1, USERS + 1)))
            factors = list(pool.map(lambda i: enrol(setup.addr, login(f"ep-t{i}{DOMAIN}")["access_token"], f"ep-t{i}{DOMAIN}"),
                                    range(1, totps + 1)))
            list(pool.map(lambda i: scale.call(setup.addr, "POST", "/password/forgot", {"email": f"ep-r{i}{DOMAIN}"}),
                          range(1, resets + 1)))
        return {"sessions": sessions, "admin": login(f"ep-admin1{DOMAIN}")["access_token"],
                "factors": factors, "resets": reset_codes(setup, resets)}
    finally:
        setup.stop()

def enrol(addr, token, email):
    """Turns TOTP on for the account of `token`: {email, secret, last: the step used}."""
    secret = scale.call(addr, "POST", "/me/totp", {"password": scale.PASSWORD}, token=token)["secret"]
    step = now_step()
    scale.call(addr, "POST", "/me/totp/confirm", {"code": totp_code(secret, step)}, token=token)
    return {"email": email, "secret": secret, "last": step + 1}  # the server may have taken step + 1

def reset_codes(setup, expected):
    """[(email, code)] of the reset mails the setup instance logged (the outbox sends them)."""
    for _ in range(600):
        codes = {}
        for line in setup.lines():
            mail = json.loads(line)
            m = re.search(r"reset code is (\d+)", mail.get("text", ""))
            if mail.get("event") == "mail" and m:
                codes[mail["to"]] = m.group(1)
        if len(codes) >= expected:
            return sorted(codes.items())
        time.sleep(0.1)
    raise RuntimeError(f"only {len(codes)} of {expected} reset codes were mailed")

def wrk(addr, script, path, seconds, **env):
    """A closed loop of CONNS connections: {ok, errors, rps, avg, p50, p99, max} (ms)."""
    r, pct = scale.wrk(addr, script, CONNS, seconds, path, env)
    ok = r["ok"] if "ok" in r else r["requests"] - r["non2xx"]
    errors = (r["other"] if "other" in r else r["non2xx"]) + r["timeouts"] + r["socket"]
    return {"ok": ok, "errors": int(errors), "rps": ok / r["seconds"], "avg": r["avg"], "p50": pct[50],
            "p99": pct[99], "max": r["max"]}

def drain(psql, limit=300):
    """Waits until the background worker has taken every queued forgot-password request: the
    seconds it took, or None if some were still queued after `limit` seconds."""
    started = time.perf_counter()
    while int(psql("SELECT count(*) FROM code_requests")):
        if time.perf_counter() - started > limit:
            return None
        time.sleep(0.2)
    return time.perf_counter() - started

class ClosedLoop:
    """HASH_CONNS threads, each on a keep-alive connection, running `job(client, record)` until
    `seconds` pass or the job returns False; `record(endpoint, ms, ok, status)` collects. A job
    that raises (a timeout, a reset connection, an answer without the expected field) is
    recorded as an error under "`name`: exception" and the thread goes on with a new connection."""
    def __init__(self, name, addr, seconds, job):
        self.stats, self.lock, self.done = scale.Stats(), threading.Lock(), 0
        host, port = addr.rsplit(":", 1)
        deadline = time.time() + seconds
        def record(endpoint, ms, ok, status):
            with self.lock:
                self.stats.add(endpoint, ms, ok, status)
        def worker():
            client = http.client.HTTPConnection(host, int(port), timeout=30)
            while time.time() < deadline:
                try:
                    if not job(client, record):
                        break
                except Exception as e:
                    record(f"{name}: exception", 0.0, False, type(e).__name__)
                    client.close()
                    client = http.client.HTTPConnection(host, int(port), timeout=30)
        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(HASH_CONNS)]
        for t in threads: t.start()
        for t in threads: t.join()
        self.seconds = time.perf_counter() - started

    def summary(self):
        return self.stats.summary(self.seconds)

def timed(client, record, endpoint, method, path, body, expect, token=None):
    """One request on `client`: (status, parsed body); recorded under `endpoint`."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.perf_counter()
    client.request(method, path, json.dumps(body), headers)
    response = client.getresponse()
    raw = response.read()
    record(endpoint, (time.perf_counter() - started) * 1000, response.status == expect, response.status)
    return response.status, json.loads(raw) if raw else {}

def hashing_jobs(data):
    """The closed-loop jobs of the hashing-lane endpoints, by name."""
    lock, resets, counter = threading.Lock(), list(data["resets"]), iter(range(10**9))
    factors = list(data["factors"])
    def reset(client, record):
        with lock:
            if not resets:
                return False
            email, code = resets.pop()
        timed(client, record, "POST /password/reset", "POST", "/password/reset",
              {"email": email, "code": code, "new_password": "another horse"}, 204)
        return True
    def email_change(client, record):
        with lock:
            n = next(counter)
        token = data["sessions"][n % len(data["sessions"])]["access_token"]
        timed(client, record, "POST /me/email", "POST", "/me/email",
              {"new_email": f"ep-new{n}{DOMAIN}", "password": scale.PASSWORD}, 202, token)
        return True
    def totp_sign_in(client, record):
        with lock:  # an idle account with a code newer than its last one (the server refuses replays)
            current = now_step()
            factor = next((f for f in factors if not f.get("busy") and f["last"] < current + 1), None)
            if factor is not None:
                factor["busy"], factor["last"] = True, max(current, factor["last"] + 1)
        if factor is None:  # every account used up this step's codes: wait for the next step
            time.sleep(max(0.05, (current + 1) * 30 - time.time()))
            return True
        try:
            status, body = timed(client, record, "POST /login (TOTP on)", "POST", "/login",
                                 {"email": factor["email"], "password": scale.PASSWORD}, 200)
            if status == 200:
                timed(client, record, "POST /login/mfa", "POST", "/login/mfa",
                      {"mfa_token": body["mfa_token"], "code": totp_code(factor["secret"], factor["last"])}, 200)
        finally:
            factor["busy"] = False
        return True
    return {"reset": reset, "email change": email_change, "TOTP sign-in": totp_sign_in}

def run(root, out, db_url, db, psql, pgbench_bin, ceiling, seconds, cost):
    """Target 9: [{endpoint, lane, measured…, ceiling, reference}]."""
    bench = os.path.join(root, "bench")
    # Enough reset codes for the whole load at the ceiling, and TOTP accounts for a 30-s step of
    # sign-ins (each account signs in at most twice a step: the current code, then the next).
    data = prepare(root, out, db_url, psql, resets=int(1.5 * ceiling * seconds) + 20, totps=int(30 * ceiling) + 50)
    # The mail budget on (the default), so that a forgot-password request counts it.
    inst = scale.Instance(root, out, db_url, "endpoints", BCRYPT_COST=cost, RATE_LIMIT_EMAIL_PER_HOUR=10)
    rows = []
    try:
        scale.call(inst.addr, "POST", "/register", {"email": f"ep-hash{DOMAIN}", "password": scale.PASSWORD})
        psql(f"UPDATE accounts SET password_hash = (SELECT password_hash FROM accounts WHERE email = 'ep-hash{DOMAIN}') "
             f"WHERE email LIKE 'ep-%' AND email <> 'ep-hash{DOMAIN}'")
        tokens = os.path.join(out, "refresh_tokens.txt")
        with open(tokens, "w") as f:
            f.write("\n".join(s["refresh_token"] for s in data["sessions"]) + "\n")
        lane = [
            ("POST /token/refresh", "refresh.lua", "/token/refresh", {"TOKENS": tokens}, "refresh.sql", "prepared"),
            ("GET /verify (next to GET /me, same pgbench)", "latency.lua", "/verify", {"WRK_PATH": "/verify", "TOKEN": data["sessions"][0]["access_token"]}, "me.sql", "prepared"),
            ("GET /me", "latency.lua", "/me", {"WRK_PATH": "/me", "TOKEN": data["sessions"][0]["access_token"]}, "me.sql", "prepared"),
            ("GET /.well-known/jwks.json", "latency.lua", "/.well-known/jwks.json", {"WRK_PATH": "/.well-known/jwks.json"}, "jwks.sql", "prepared"),
            ("POST /password/forgot", "forgot.lua", "/password/forgot", {}, "forgot.sql", "prepared"),
            ("GET /admin/users", "latency.lua", "/admin/users", {"WRK_PATH": "/admin/users", "TOKEN": data["admin"]}, "admin_users.sql", "extended"),
            ("GET /admin/events", "latency.lua", "/admin/events", {"WRK_PATH": "/admin/events", "TOKEN": data["admin"]}, "admin_events.sql", "prepared"),
        ]
        base = 10**12 + int(time.time()) % 10**6 * 10**6
        psql(f"INSERT INTO refresh_tokens (token_hash, session_id) "
             f"SELECT sha256(int8send({base} + (n - 1) * 100000)), id FROM "
             f"(SELECT id, row_number() OVER (ORDER BY id) AS n FROM sessions "
             f"  WHERE account_id IN (SELECT id FROM accounts WHERE email LIKE 'ep-u%') ORDER BY id LIMIT {CONNS}) s")
        for endpoint, script, path, env, sql, mode in lane:
            print(f"  {endpoint} at saturation, then pgbench of its main statement ...", flush=True)
            measured = wrk(inst.addr, script, path, seconds, **env)
            if endpoint == "POST /password/forgot":
                queued, drained = int(psql("SELECT count(*) FROM code_requests")), drain(psql)
                worker = {"queued": queued, "seconds": drained}
            extra = {"base": base, "step": 0} if sql == "refresh.sql" else {}
            tps = scale.pgbench(pgbench_bin, db, os.path.join(bench, "sql", sql), CONNS, seconds, mode, extra)
            if drain(psql) is None:  # the worker also empties what pgbench queued
                raise RuntimeError("the forgot-password worker did not drain pgbench's requests")
            rows.append({"endpoint": endpoint, **measured, "ceiling": tps, "reference": f"pgbench bench/sql/{sql}"})
        rows.append({"endpoint": "forgot-password worker", **worker})
        for name, job in hashing_jobs(data).items():
            print(f"  {name} at saturation (bcrypt) ...", flush=True)
            for endpoint, e in sorted(ClosedLoop(name, inst.addr, seconds, job).summary().items()):
                bcrypt = endpoint != "POST /login/mfa"
                rows.append({"endpoint": endpoint, **e, "rps": e["rps"] * (e["n"] - e["errors"]) / e["n"],
                             "ceiling": ceiling if bcrypt else None,
                             "reference": "bcrypt: one hash each" if bcrypt else "after a /login: bcrypt-bound"})
    finally:
        inst.stop()
    return rows
