"""bench/capacity: what one request of each endpoint family costs, for an operator's sizing.

Usage: python3 bench/capacity.py [--cost 12]

One release instance (`BCRYPT_COST` as given, rate limits off), its mail API and webhook
receiver in this process, and PostgreSQL reached through a counting relay
(soaklib/delayline.py). For each family a few hundred (bcrypt: a few dozen) requests on two
connections, then, once the mail and webhooks they caused are sent, the differences of: the
service's CPU time (utime + stime of the process), PostgreSQL's CPU time (the postmaster and
its children, the exited ones too), the statements and round trips the relay counted, less what
ten idle seconds measured before cost per second (the background workers' polls). Per request:
CPU-milliseconds and statements (BEGIN and COMMIT count: each is a message to the server), and
what one vCPU serves per second. Results: bench/out/capacity.json and a
Markdown table on stdout (BENCHMARKS.md, "Capacity").
"""
import argparse, json, os, signal, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import users as scale
from soaklib.account import PG, psql
from soaklib.actors import Account, PASSWORD
from soaklib.load import Client, Ledger
from run import free_port
from soak import SECRET, receivers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
DB = f"beefirst_capacity_{os.getpid()}"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pids):
    total = 0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total * 1000 / TICK


def postgres_cpu_ms():
    """PostgreSQL's CPU time so far: the postmaster's own and that of its children, living
    (backends, background workers) and exited (the postmaster's cutime and cstime)."""
    directory = psql("postgres", "SHOW data_directory")
    postmaster = open(os.path.join(directory, "postmaster.pid")).readline().strip()
    fields = open(f"/proc/{postmaster}/stat").read().rsplit(")", 1)[1].split()
    exited = (int(fields[13]) + int(fields[14])) * 1000 / TICK
    children = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1] == postmaster:
                children.append(pid)
        except (OSError, IndexError):
            pass
    return cpu_ms([postmaster] + children) + exited


class Meter:
    """Reads the three counters before and after a family's requests."""
    def __init__(self, instance, relay):
        self.instance, self.relay = instance, relay

    def read(self):
        self.relay.send_signal(signal.SIGHUP)
        counts = json.loads(self.relay.stdout.readline())
        return (cpu_ms([self.instance.proc.pid]), postgres_cpu_ms(),
                counts.get("statements", 0), counts.get("round_trips", 0), time.time())

    def idle(self, seconds=10):
        """What the service and PostgreSQL spend per second with no request (the background
        workers' polls, PostgreSQL's own housekeeping): subtracted from every family."""
        settle()
        before = self.read()
        time.sleep(seconds)
        after = self.read()
        self.idle_rate = [(a - b) / (after[-1] - before[-1]) for a, b in zip(after[:-1], before[:-1])]


def settle():
    """Until the mail and webhooks already caused are sent."""
    for _ in range(600):
        if psql(DB, "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM webhook_deliveries "
                    "WHERE status = 'pending')") == "0":
            return
        time.sleep(0.05)


def measure(meter, name, items, step, threads=2):
    """Runs `step(client, item)` over `items` on `threads` connections; the per-item costs."""
    settle()
    before = meter.read()
    chunks = [items[i::threads] for i in range(threads)]
    def work(chunk):
        client = Client(meter.addr, Ledger())
        for item in chunk:
            step(client, item)
    workers = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    settle()
    after = meter.read()
    n, seconds = len(items), after[-1] - before[-1]
    service, database, statements, trips = ((a - b - rate * seconds) / n
                                            for a, b, rate in zip(after[:-1], before[:-1], meter.idle_rate))
    return {"family": name, "requests": n, "service_cpu_ms": round(service, 3), "postgres_cpu_ms": round(database, 3),
            "statements": round(statements, 2), "round_trips": round(trips, 2),
            "per_vcpu_per_s": round(1000 / service, 1) if service else None,
            "per_vcpu_per_s_with_postgres": round(1000 / (service + database), 1) if service + database else None}


def expect(status, wanted, what):
    if status != wanted:
        raise RuntimeError(f"{what}: {status}, expected {wanted}")


def families(meter, ledger, admin_token, accounts, cost):
    """Each family measured in turn; the order keeps what one needs (tokens, factors) alive."""
    emails = [a.email for a in accounts]
    rows = []
    def register(client, email):
        expect(client.call("POST", "/register", {"email": email, "password": PASSWORD})[0], 201, "register")
        ledger.code(email, 0, wait=10)
    rows.append(measure(meter, "POST /register (+ its mail)", emails, register))
    def activate(client, email):
        basic = f"{email}:{PASSWORD}"
        expect(client.call("POST", "/activate", {"code": ledger.code(email, 0)}, basic=basic)[0], 200, "activate")
    rows.append(measure(meter, "POST /activate (Basic Auth + code)", emails, activate))
    rows.append(measure(meter, "POST /login (password)", emails, lambda c, e: expect(
        c.call("POST", "/login", {"email": e, "password": PASSWORD})[0], 200, "login")))
    for account in accounts[:8]:
        token, _ = account.sign_in()
        account.turn_on_totp(token)
    sessions = [accounts[8].sign_in(), accounts[9].sign_in()]
    token = sessions[0][0]
    rows.append(measure(meter, "GET /health", [None] * 2000, lambda c, _: expect(c.call("GET", "/health")[0], 200, "health")))
    rows.append(measure(meter, "GET /.well-known/jwks.json", [None] * 2000,
                        lambda c, _: expect(c.call("GET", "/.well-known/jwks.json")[0], 200, "jwks")))
    rows.append(measure(meter, "GET /me", [token] * 2000, lambda c, t: expect(c.call("GET", "/me", token=t)[0], 200, "me")))
    rows.append(measure(meter, "PATCH /me (+ its webhook)", [(token, i) for i in range(400)], lambda c, item: expect(
        c.call("PATCH", "/me", {"display_name": f"name {item[1]}"}, token=item[0])[0], 200, "patch")))
    holders = [{"refresh": sessions[0][1]}, {"refresh": sessions[1][1]}]
    def refresh(client, holder):
        status, tokens = client.call("POST", "/token/refresh", {"refresh_token": holder["refresh"]})
        expect(status, 200, "refresh")
        holder["refresh"] = tokens["refresh_token"]
    rows.append(measure(meter, "POST /token/refresh", holders * 500, refresh))
    rows.append(measure(meter, "GET /admin/users?limit=50", [admin_token] * 500, lambda c, t: expect(
        c.call("GET", "/admin/users?limit=50", token=t)[0], 200, "admin list")))
    by_code = [accounts[8 + i % 8] for i in range(96)]   # each connection its own four accounts
    def sign_in_by_code(client, account):
        account.client = client
        expect(account.sign_in(by_code=True)[0] is not None, True, "sign-in by code")
    rows.append(measure(meter, "sign-in by mailed code (2 requests + its mail)", by_code, sign_in_by_code))
    def totp_sign_in(client, account):
        account.client = client
        expect(account.sign_in()[0] is not None, True, "TOTP sign-in")
    time.sleep(max(0.0, (max(a.last_step for a in accounts[:8]) + 1) * 30 - time.time() + 0.3))  # a fresh step
    rows.append(measure(meter, "sign-in with TOTP (/login + /login/mfa)", accounts[:8], totp_sign_in))
    def change(client, account):
        token, _ = Account(client, ledger, account.email).sign_in()
        status, _ = client.call("POST", "/me/password", {"current_password": PASSWORD,
                                                          "new_password": PASSWORD + " 2"}, token=token)
        expect(status, 204, "password change")
    rows.append(measure(meter, "POST /me/password (+ the sign-in before it)", accounts[8:16], change))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cost", type=int, default=12, help="BCRYPT_COST (the default is 12)")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    subprocess.run([os.path.join(ROOT, ".ci", "pg-up")], check=True)
    subprocess.run(["psql", f"{PG}/postgres", "-Xqc", f"CREATE DATABASE {DB}"], check=True, capture_output=True)
    port = free_port()
    relay = subprocess.Popen([sys.executable, os.path.join(ROOT, "bench", "soaklib", "delayline.py"), "127.0.0.1",
                              str(port), "127.0.0.1", "5432"], stdout=subprocess.PIPE, text=True)
    relay.stdout.readline()
    ledger = Ledger()
    mailbox, receiver = receivers(ledger, "127.0.0.1")
    instance = scale.Instance(ROOT, OUT, f"postgres://postgres@127.0.0.1:{port}/{DB}", "capacity",
                              BCRYPT_COST=str(args.cost), MAIL_API_URL=f"{mailbox.url}/api/v1/send",
                              WEBHOOK_URLS=f"{receiver.url}/hooks", WEBHOOK_SECRET=SECRET, DB_POOL_SIZE="4",
                              WORKERS="8")
    try:
        meter = Meter(instance, relay)
        meter.addr = instance.addr
        meter.idle()
        client = Client(instance.addr, ledger)
        admin = Account(client, ledger, "admin@capacity.example")
        admin.activate()
        subprocess.run([os.path.join(ROOT, "target", "release", "beefirst"), "admin", "grant", admin.email],
                       check=True, capture_output=True, env=dict(os.environ, DATABASE_URL=f"{PG}/{DB}"))
        accounts = [Account(client, ledger, f"c{i}@capacity.example") for i in range(16)]
        rows = families(meter, ledger, admin.sign_in()[0], accounts, args.cost)
    finally:
        instance.stop()
        relay.terminate()
        subprocess.run(["psql", f"{PG}/postgres", "-Xqc", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"],
                       capture_output=True)
    with open(os.path.join(OUT, "capacity.json"), "w") as f:
        json.dump({"bcrypt_cost": args.cost, "idle_per_second": meter.idle_rate, "families": rows}, f, indent=1)
    print(f"idle, per second: service {meter.idle_rate[0]:.2f} CPU-ms, PostgreSQL {meter.idle_rate[1]:.2f} CPU-ms, "
          f"{meter.idle_rate[2]:.2f} statements (subtracted below)")
    print("| family | requests | service CPU-ms | PostgreSQL CPU-ms | statements | round trips | per vCPU per s (service) | with PostgreSQL |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['family']} | {r['requests']} | {r['service_cpu_ms']} | {r['postgres_cpu_ms']} | {r['statements']} | "
              f"{r['round_trips']} | {r['per_vcpu_per_s']} | {r['per_vcpu_per_s_with_postgres']} |")


if __name__ == "__main__":
    main()
