"""The 1,000-concurrent-users benchmark (bench/run, BENCHMARKS.md "Scale"): 1,000 keep-alive
connections, each a signed-in user calling GET /me about once a second and refreshing its token
when due, while registrations and logins arrive at the bcrypt ceiling; then the same behind nginx
with three instances on one PostgreSQL; and /login latency unloaded at BCRYPT_COST 10 and 12.

Setting up 1,000 signed-in users through the API at cost 12 would take minutes of bcrypt, so a
setup instance at cost 4 (same database, same JWT_SIGNING_KEY) registers one account, copies its
hash to 1,000 more in SQL and logs them in; the measured instances then run at cost 12 and accept
those tokens (same key).
"""
import asyncio, base64, json, os, random, re, subprocess, time, urllib.request

PASSWORD = "correct horse"
USERS = 1000
SIGNING_KEY = base64.urlsafe_b64encode(b"bench-signing-key-0123456789abcd").decode().rstrip("=")

class Instance:
    """One `beefirst` process with its stdout in a file; rate limits off unless `settings` say.
    `wrap`: a command that runs it (`ip netns exec NAME`), which must exec the binary (same pid)."""
    def __init__(self, root, out, db_url, name, wrap=(), **settings):
        env = dict(os.environ, DATABASE_URL=db_url, BIND_ADDR="127.0.0.1:0", JWT_SIGNING_KEY=SIGNING_KEY,
                   RATE_LIMIT_IP_PER_MINUTE="0", RATE_LIMIT_EMAIL_PER_HOUR="0",
                   MAX_WRONG_CODES_PER_EMAIL_PER_DAY="0", LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR="0",
                   REAPER_INTERVAL_SECONDS="3600", DB_POOL_SIZE="10", WORKERS="32", QUEUE_DEPTH="1024")
        env.update({k: str(v) for k, v in settings.items()})
        self.log_path = os.path.join(out, f"{name}.log")
        self.log = open(self.log_path, "w")
        binary = os.environ.get("BEEFIRST_BIN", os.path.join(root, "target/release/beefirst"))
        self.proc = subprocess.Popen([*wrap, binary], env=env,
                                     stdout=self.log, stderr=self.log)
        while not self.lines():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited before listening: {open(self.log_path).read()[-2000:]}")
            time.sleep(0.01)
        self.addr = json.loads(self.lines()[0])["addr"]
    def lines(self):
        with open(self.log_path) as f:
            return [l for l in f.read().splitlines() if l.startswith("{")]
    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024
    def stop(self):
        self.proc.terminate(); self.proc.wait(timeout=15); self.log.close()

def wrk(addr, script, conns, seconds, path, env=None, threads=2):
    """wrk with `script` (a file of bench/; BENCH_DIR and THREADS are set for it): the numbers of
    its RESULT line by name, and its PCT lines as {percentile: ms}."""
    bench, threads = os.path.dirname(os.path.abspath(__file__)), min(threads, conns)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "20s", "-s",
                          os.path.join(bench, script), f"http://{addr}{path}"],
                         env=dict(os.environ, BENCH_DIR=bench, THREADS=str(threads), **(env or {})),
                         check=True, text=True, capture_output=True).stdout
    result = {k: float(v) for k, v in (kv.split("=") for kv in re.search(r"RESULT (.*)", out).group(1).split())}
    return result, {float(p): float(ms) for p, ms in re.findall(r"PCT (\S+) (\S+)", out)}

def pgbench(pgbench_bin, db, script, clients, seconds, mode="prepared", variables=None):
    """Transactions per second of the pgbench `script` at `clients` clients; raises if any failed."""
    defines = [a for k, v in (variables or {}).items() for a in ("-D", f"{k}={v}")]
    out = subprocess.run([pgbench_bin, "-h", "127.0.0.1", "-U", "postgres", "-n", "-M", mode, "-c", str(clients),
                          "-j", "2", "-T", str(seconds), *defines, "-f", script, db],
                         check=True, text=True, capture_output=True).stdout
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if failed and int(failed.group(1)):
        raise RuntimeError(f"pgbench {script}: {failed.group(1)} failed transactions")
    return float(re.search(r"tps = ([\d.]+)", out).group(1))

def call(addr, method, path, body=None, token=None, basic=None):
    req = urllib.request.Request(f"http://{addr}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    if token: req.add_header("Authorization", f"Bearer {token}")
    if basic: req.add_header("Authorization", "Basic " + base64.b64encode(basic.encode()).decode())
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")

def alone(db, run, rows):
    """A part of bench/run run by itself (`python3 bench/NAME.py`): a fresh database `db`, then
    `run(root, out, db_url)`, its raw result and its table rows printed."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "bench", "out")
    os.makedirs(out, exist_ok=True)
    subprocess.run(f"psql -h 127.0.0.1 -U postgres -Xqc 'DROP DATABASE IF EXISTS {db} WITH (FORCE)' "
                   f"-c 'CREATE DATABASE {db}' postgres", shell=True, check=True, capture_output=True)
    result = run(root, out, f"postgres://postgres@127.0.0.1:5432/{db}")
    print(json.dumps(result, indent=1))
    for name, measured, reference, ratio, ok, goal in rows(result):
        print(f"| {name} | {measured} | {reference} | {'' if ratio is None else f'{ratio:.0%}'} | {goal} | {'PASS' if ok else 'FAIL'} |")

def active_account(instance, email):
    """Registers and activates `email` through `instance` (console mailer: the code is read from
    its log)."""
    call(instance.addr, "POST", "/register", {"email": email, "password": PASSWORD})
    for _ in range(200):
        codes = [re.search(r"code is (\d+)", l).group(1) for l in instance.lines() if '"mail"' in l and email in l]
        if codes: break
        time.sleep(0.02)
    call(instance.addr, "POST", "/activate", {"code": codes[-1]}, basic=f"{email}:{PASSWORD}")

def seed(root, out, db_url, psql):
    """1,000 active accounts, each with a session: [(access, refresh, access expiry)]."""
    setup = Instance(root, out, db_url, "setup", BCRYPT_COST=4, ACCESS_TOKEN_TTL_SECONDS=60)
    try:
        active_account(setup, "seed@bench.example")
        psql(f"INSERT INTO accounts (email, password_hash, status, activated_at) "
             f"SELECT 'user' || g || '@bench.example', password_hash, 'active', now() "
             f"FROM accounts, generate_series(1, {USERS}) g WHERE email = 'seed@bench.example'")
        from concurrent.futures import ThreadPoolExecutor
        def login(i):
            pair = call(setup.addr, "POST", "/login", {"email": f"user{i}@bench.example", "password": PASSWORD})
            return [pair["access_token"], pair["refresh_token"], time.time() + pair["expires_in"]]
        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(login, range(1, USERS + 1)))
    finally:
        setup.stop()

class Stats:
    def __init__(self):
        self.samples, self.errors = {}, {}
    def add(self, endpoint, ms, ok, status):
        self.samples.setdefault(endpoint, []).append(ms)
        if not ok:
            self.errors.setdefault(endpoint, {}).setdefault(status, 0)
            self.errors[endpoint][status] += 1
    def summary(self, seconds):
        out = {}
        for endpoint, xs in self.samples.items():
            xs = sorted(xs)
            pick = lambda p: xs[min(len(xs) - 1, int(p / 100 * len(xs)))]
            out[endpoint] = {"rps": len(xs) / seconds, "avg": sum(xs) / len(xs), "p50": pick(50), "p99": pick(99),
                             "max": xs[-1], "n": len(xs), "errors": sum(self.errors.get(endpoint, {}).values()),
                             "error_kinds": self.errors.get(endpoint, {})}
        return out

async def exchange(reader, writer, request):
    """One request on a keep-alive connection: (status, body)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1)) if b"ontent-" in head else 0
    body = await reader.readexactly(length) if length else b""
    return status, body

def request_bytes(host, method, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Length: {len(data)}\r\n\r\n").encode() + data

async def user(addr, tokens, stats, deadline):
    """One signed-in user: GET /me about once a second on one keep-alive connection; refreshes
    its pair when its access token has less than a random 5-40 s left."""
    host, port = addr.rsplit(":", 1)
    await asyncio.sleep(random.random())  # spread the users over the first second
    reader, writer = await asyncio.open_connection(host, int(port))
    margin = random.uniform(5, 40)
    try:
        while time.time() < deadline:
            started = time.perf_counter()
            if tokens[2] - time.time() < margin:
                status, body = await exchange(reader, writer, request_bytes(host, "POST", "/token/refresh", body={"refresh_token": tokens[1]}))
                stats.add("POST /token/refresh", (time.perf_counter() - started) * 1000, status == 200, status)
                if status == 200:
                    pair = json.loads(body)
                    tokens[:] = [pair["access_token"], pair["refresh_token"], time.time() + pair["expires_in"]]
                started = time.perf_counter()
            status, _ = await exchange(reader, writer, request_bytes(host, "GET", "/me", token=tokens[0]))
            stats.add("GET /me", (time.perf_counter() - started) * 1000, status == 200, status)
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - started)) * random.uniform(0.9, 1.1))
    except (OSError, asyncio.IncompleteReadError) as e:
        stats.add("GET /me", 0.0, False, type(e).__name__)
    finally:
        writer.close()

async def hashing_traffic(addr, rate, stats, deadline, tag):
    """Registrations and logins (half each), `rate` per second in all, open loop, each on a
    connection of its own: the bcrypt-bound requests."""
    host, port = addr.rsplit(":", 1)
    async def one(i):
        started = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
            if i % 2:
                req, endpoint, ok = request_bytes(host, "POST", "/register", body={"email": f"{tag}{i}@bench.example", "password": PASSWORD}), "POST /register", 201
            else:
                req, endpoint, ok = request_bytes(host, "POST", "/login", body={"email": "bench@bench.example", "password": PASSWORD}), "POST /login", 200
            status, _ = await exchange(reader, writer, req)
            writer.close()
            stats.add(endpoint, (time.perf_counter() - started) * 1000, status == ok, status)
        except (OSError, asyncio.IncompleteReadError) as e:
            stats.add("bcrypt endpoints", 0.0, False, type(e).__name__)
    tasks, i, start = [], 0, time.perf_counter()
    while time.time() < deadline:
        tasks.append(asyncio.create_task(one(i))); i += 1
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
    await asyncio.gather(*tasks)

def run_load(addr, users, hashing_rate, seconds, tag, sample):
    """Runs the users and the hashing traffic for `seconds`; `sample()` is called every second
    (RSS, connections). Returns the per-endpoint summary."""
    stats = Stats()
    async def main():
        deadline = time.time() + seconds
        async def sampler():  # in a thread: psql must not stall the event loop
            while time.time() < deadline:
                await asyncio.to_thread(sample); await asyncio.sleep(1)
        await asyncio.gather(*(user(addr, t, stats, deadline) for t in users),
                             hashing_traffic(addr, hashing_rate, stats, deadline, tag), sampler())
    started = time.perf_counter()
    asyncio.run(main())
    return stats.summary(time.perf_counter() - started)

def login_latency(root, out, db_url, cost, n=20):
    """/login unloaded at `cost`: n sequential logins after one that re-hashes at this cost."""
    inst = Instance(root, out, db_url, f"cost{cost}", BCRYPT_COST=cost)
    try:
        email = f"latency{cost}@bench.example"
        active_account(inst, email)
        call(inst.addr, "POST", "/login", {"email": email, "password": PASSWORD})
        times = []
        for _ in range(n):
            t = time.perf_counter()
            call(inst.addr, "POST", "/login", {"email": email, "password": PASSWORD})
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        return {"avg": sum(times) / n, "p50": times[n // 2], "max": times[-1]}
    finally:
        inst.stop()
