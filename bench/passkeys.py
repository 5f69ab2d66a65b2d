"""Target 10: passkey sign-in (`POST /login/passkey/options` then `POST /login/passkey`) at
saturation against its ceiling, and its latency unloaded (bench/run; BENCHMARKS.md "Passkeys").
`python3 bench/passkeys.py` runs it alone (after `cargo build --release`).

The ceiling has two halves, both measured here: the CPU of one verification (webauthn-rs checking
an ES256 assertion: `cargo run --release --example passkey_ceiling`, per core times the cores)
and the database work of one sign-in (pgbench of bench/sql/passkey_sign_in.sql: the ceremony
stored, then taken, the account locked, the passkey read and updated, the session, its refresh
token and two audit events written) at as many clients as the load has connections. The smaller
is the ceiling; no bcrypt is on this path.

Setup: an instance at BCRYPT_COST=4 makes USERS accounts and adds a passkey to each through the
API, from a software authenticator written here (ES256 with the `cryptography` package, the
authenticator data and CBOR built by hand, as the Rust tests' authenticator does). Credential
IDs are `int8send(BASE + i) || int8send(0)`, so the pgbench script can name them.
"""
import base64, hashlib, http.client, json, os, struct, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
import users as scale

USERS = 64
CONNS = 16
BASE = 7_000_000_000
DOMAIN = "@passkey.bench"
ORIGIN, RP_ID = "http://localhost:8080", "localhost"   # the service's defaults (PUBLIC_URL)

def b64(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")

def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

def cbor(value):
    """The CBOR (RFC 8949) of ints, bytes, text and dicts: what an attestation object needs."""
    def head(major, n):
        if n < 24: return bytes([major << 5 | n])
        for extra, size in ((24, 1), (25, 2), (26, 4)):
            if n < 1 << (8 * size): return bytes([major << 5 | extra]) + n.to_bytes(size, "big")
        raise ValueError(n)
    if isinstance(value, int): return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes): return head(2, len(value)) + value
    if isinstance(value, str): return head(3, len(value.encode())) + value.encode()
    return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())

class Authenticator:
    """One discoverable ES256 credential with user verification; its counter counts up."""
    def __init__(self, n):
        self.key, self.credential_id = ec.generate_private_key(ec.SECP256R1()), struct.pack(">qq", BASE + n, 0)
        self.user_handle, self.counter = b"", 0

    def auth_data(self, extra=0):
        return hashlib.sha256(RP_ID.encode()).digest() + bytes([0x05 | extra]) + struct.pack(">I", self.counter)

    def client_data(self, kind, options):
        return json.dumps({"type": kind, "challenge": options["challenge"], "origin": ORIGIN, "crossOrigin": False}).encode()

    def create(self, options):
        self.user_handle = unb64(options["user"]["id"])
        numbers = self.key.public_key().public_numbers()
        cose = cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
        data = self.auth_data(0x40) + bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + cose
        attestation = cbor({"fmt": "none", "attStmt": {}, "authData": data})
        return {"id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
                "clientExtensionResults": {},
                "response": {"clientDataJSON": b64(self.client_data("webauthn.create", options)),
                             "attestationObject": b64(attestation)}}

    def get(self, options):
        self.counter += 1
        client, data = self.client_data("webauthn.get", options), self.auth_data()
        signature = self.key.sign(data + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        return {"id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
                "clientExtensionResults": {},
                "response": {"clientDataJSON": b64(client), "authenticatorData": b64(data),
                             "signature": b64(signature), "userHandle": b64(self.user_handle)}}

def prepare(root, out, db_url, psql):
    """USERS accounts, each with one passkey: their authenticators, by index 1..USERS."""
    setup = scale.Instance(root, out, db_url, "passkeys-setup", BCRYPT_COST=4)
    try:
        scale.active_account(setup, f"pk-seed{DOMAIN}")
        psql(f"INSERT INTO accounts (email, password_hash, status, activated_at) "
             f"SELECT 'pk-' || g || '{DOMAIN}', password_hash, 'active', now() FROM accounts, "
             f"generate_series(1, {USERS}) g WHERE email = 'pk-seed{DOMAIN}'")
        def add(i):
            email, key = f"pk-{i}{DOMAIN}", Authenticator(i)
            token = scale.call(setup.addr, "POST", "/login", {"email": email, "password": scale.PASSWORD})["access_token"]
            started = scale.call(setup.addr, "POST", "/me/passkeys/options", {"password": scale.PASSWORD}, token=token)
            scale.call(setup.addr, "POST", "/me/passkeys",
                       {"ceremony": started["ceremony"], "credential": key.create(started["publicKey"])}, token=token)
            return key
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(add, range(1, USERS + 1)))
    finally:
        setup.stop()

def sign_in(client, key, record=None):
    """One passkey sign-in on the keep-alive `client`; `record(endpoint, ms, ok, status)` times
    each request."""
    def post(path, body, expect):
        started = time.perf_counter()
        client.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = client.getresponse()
        raw = response.read()
        if record:
            record(path, (time.perf_counter() - started) * 1000, response.status == expect, response.status)
        return json.loads(raw)
    options = post("/login/passkey/options", {}, 200)
    post("/login/passkey", {"ceremony": options["ceremony"], "credential": key.get(options["publicKey"])}, 200)

def closed_loop(addr, keys, seconds):
    """CONNS threads, each with a keep-alive connection and passkeys of its own, signing in until
    `seconds` pass: {endpoint: summary}."""
    stats, lock = scale.Stats(), threading.Lock()
    host, port = addr.rsplit(":", 1)
    def record(*sample):
        with lock:
            stats.add(*sample)
    def worker(mine):
        client, deadline, n = http.client.HTTPConnection(host, int(port), timeout=30), time.time() + seconds, 0
        while time.time() < deadline:
            try:
                sign_in(client, mine[n % len(mine)], record)
            except Exception as e:
                record(f"exception {type(e).__name__}", 0.0, False, 0)
                client.close()
                client = http.client.HTTPConnection(host, int(port), timeout=30)
            n += 1
    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(keys[i::CONNS],)) for i in range(CONNS)]
    for t in threads: t.start()
    for t in threads: t.join()
    return stats.summary(time.perf_counter() - started)

def unloaded(addr, keys, n=300):
    """`n` sign-ins one after another: {endpoint: summary}."""
    stats = scale.Stats()
    host, port = addr.rsplit(":", 1)
    client = http.client.HTTPConnection(host, int(port), timeout=30)
    started = time.perf_counter()
    for i in range(n):
        sign_in(client, keys[i % len(keys)], stats.add)
    return stats.summary(time.perf_counter() - started)

def cpu_seconds(pids):
    """User + system CPU seconds the processes `pids` have used so far."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except FileNotFoundError:
            pass  # a backend that ended: its time is lost, a small undercount
    return total

def postgres_pids():
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "postgres":
                    pids.append(int(pid))
        except FileNotFoundError:
            pass
    return pids

def run(root, out, db_url, db, psql, pgbench_bin, seconds, cost):
    """Target 10: {saturated, unloaded, verify_per_s, pgbench_tps}."""
    keys = prepare(root, out, db_url, psql)
    inst = scale.Instance(root, out, db_url, "passkeys", BCRYPT_COST=cost)
    try:
        print("  passkey sign-in unloaded, then at saturation ...", flush=True)
        quiet = unloaded(inst.addr, keys)
        pg = postgres_pids()
        before = (cpu_seconds([inst.proc.pid]), cpu_seconds(pg), cpu_seconds([os.getpid()]))
        busy = closed_loop(inst.addr, keys, seconds)
        after = (cpu_seconds([inst.proc.pid]), cpu_seconds(pg), cpu_seconds([os.getpid()]))
    finally:
        inst.stop()
    done = busy["/login/passkey"]["n"]
    cpu_ms = {who: (b - a) * 1000 / done for who, a, b in zip(("service", "postgres", "client"), before, after)}
    print("  its ceiling: verifications per second, pgbench of its statements ...", flush=True)
    cores = os.cpu_count() or 2
    verify = float(subprocess.run([os.path.join(root, "target/release/examples/passkey_ceiling"), str(cores), "3"],
                                  check=True, text=True, capture_output=True).stdout)
    tps = scale.pgbench(pgbench_bin, db, os.path.join(root, "bench", "sql", "passkey_sign_in.sql"), CONNS, seconds,
                        "prepared", {"base": BASE})
    return {"unloaded": quiet, "saturated": busy, "verify_per_s": verify, "pgbench_tps": tps, "cpu_ms": cpu_ms}

def rows(r):
    """Rows of target 10 for the report."""
    sat, quiet = r["saturated"], r["unloaded"]
    done = sat["/login/passkey"]
    signins = done["rps"] * (done["n"] - done["errors"]) / done["n"]
    ceiling = min(r["verify_per_s"], r["pgbench_tps"])
    reference = (f"{ceiling:.0f}/s: the smaller of pgbench of its statements ({r['pgbench_tps']:.0f}/s) and "
                 f"webauthn-rs verifications ({r['verify_per_s']:.0f}/s)")
    errors = sum(e["errors"] for e in sat.values())
    cpu = r["cpu_ms"]
    per = (f"CPU per sign-in: service {cpu['service']:.2f} ms, PostgreSQL {cpu['postgres']:.2f} ms, "
           f"load generator {cpu['client']:.2f} ms (all on the same {os.cpu_count()} cores)")
    out = [(f"10 passkey sign-ins at saturation (options + sign-in, {CONNS} connections)",
            f"{signins:.0f}/s, p50 {done['p50']:.1f}, p99 {done['p99']:.1f} ms, {errors} errors",
            f"{reference}; {per}", signins / ceiling, errors == 0 and signins >= 0.25 * ceiling,
            ">= 25 % of the ceiling, no errors")]
    for path in ("/login/passkey/options", "/login/passkey"):
        e = quiet[path]
        out.append((f"10 POST {path} unloaded", f"p50 {e['p50']:.2f}, p99 {e['p99']:.2f}, max {e['max']:.1f} ms",
                    "one after another, keep-alive", None, e["p50"] < 10 and e["errors"] == 0, "p50 < 10 ms"))
    return out

if __name__ == "__main__":
    import glob
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "bench", "out")
    os.makedirs(out, exist_ok=True)
    db, pg = "beefirst_bench_passkeys", "postgres://postgres@127.0.0.1:5432"
    psql = lambda sql: subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-XAtqc", sql, db],
                                      check=True, text=True, capture_output=True).stdout.strip()
    subprocess.run(f"psql -h 127.0.0.1 -U postgres -Xqc 'DROP DATABASE IF EXISTS {db} WITH (FORCE)' "
                   f"-c 'CREATE DATABASE {db}' postgres", shell=True, check=True)
    pgbench_bin = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))[-1]
    seconds = 5 if "--quick" in sys.argv else 15
    result = run(root, out, f"{pg}/{db}", db, psql, pgbench_bin, seconds, 12)
    for name, measured, reference, ratio, ok, goal in rows(result):
        print(f"| {name} | {measured} | {reference} | {'' if ratio is None else f'{ratio:.0%}'} | {goal} | {'PASS' if ok else 'FAIL'} |")
