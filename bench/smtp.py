"""Target 14: registrations through SMTP (bench/run; BENCHMARKS.md "Mail through SMTP").
`python3 bench/smtp.py [--quick]` runs it alone (after `cargo build --release --example
bcrypt_ceiling` and `cargo build --release`).

A registration is delivered before its 201, so with SMTP every one of them waits for a real SMTP
exchange (MAIL, RCPT, DATA and the server's 250). Three instances at BCRYPT_COST 12, one after
another, each saturated with registrations by wrk for the same time: the console mailer (the
reference), SMTP in plain text to a server on loopback, and SMTP with STARTTLS (test CA). The
server is the tests' aiosmtpd (tests/external/smtp_server.py), which parses every message with
Python's `email` package; its CPU is on the same two cores and counts against beefirst. Each
instance's RSS is read after its load; the messages the server got are counted against the 201s.

And the outbox through SMTP: a backlog of queued mail (rows as the unit of work writes them),
sent by one instance's one sender, one after another, timed until the outbox is empty.
"""
import os, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import users as scale

COST = 12
CORES = os.cpu_count() or 2

class SmtpServer:
    """tests/external/smtp_server.py serve ARGS, its stdout (one line per message) in a file."""
    def __init__(self, root, out, name, *args):
        self.path = os.path.join(out, f"{name}.out")
        self.file = open(self.path, "w")
        script = os.path.join(root, "tests", "external", "smtp_server.py")
        self.proc = subprocess.Popen([sys.executable, script, "serve", *args], stdout=self.file)
        while not self.lines():
            time.sleep(0.05)
        self.port = int(self.lines()[0].split()[1])
    def lines(self):
        with open(self.path) as f:
            return f.read().splitlines()
    def messages(self):
        return sum(1 for l in self.lines()[1:] if '"refused"' not in l)
    def cpu_seconds(self):
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    def stop(self):
        self.proc.terminate(); self.proc.wait(timeout=10); self.file.close()

def saturate(root, out, db_url, name, seconds, server=None, **settings):
    inst = scale.Instance(root, out, db_url, name, BCRYPT_COST=COST, **settings)
    server_cpu = server.cpu_seconds() if server else 0
    try:
        reg, pct = scale.wrk(inst.addr, "register.lua", CORES + 16, seconds, "/register")
        time.sleep(0.5)
        result = {"per_second": reg["created"] / reg["seconds"], "created": int(reg["created"]),
                  "shed": int(reg["shed"]), "other": int(reg["other"]), "rss_mib": inst.rss_mib(),
                  "p99_ms": pct.get(99.0)}
        if server:
            result["mailed"] = server.messages()
            result["server_cpu_share"] = (server.cpu_seconds() - server_cpu) / reg["seconds"] / CORES
        return result
    finally:
        inst.stop()

BACKLOG = 2000

def outbox(root, out, db_url, server, **settings):
    """Mails per second the outbox of one instance delivers through `server`."""
    scale.Instance(root, out, db_url, "smtp-schema").stop()
    psql = lambda sql: subprocess.run(["psql", db_url, "-XAtqc", sql], check=True, text=True,
                                      capture_output=True).stdout.strip()
    psql("TRUNCATE outbox")
    psql(f"""INSERT INTO outbox (kind, recipient, subject, body, html)
             SELECT 'password_changed', 'u' || i || '@example.com', 'Your password was changed',
                    'The password of your account was just changed.', '<p>The password was changed.</p>'
               FROM generate_series(1, {BACKLOG}) i""")
    before = server.messages()
    started = time.perf_counter()
    inst = scale.Instance(root, out, db_url, "smtp-outbox", **settings)
    try:
        while int(psql("SELECT count(*) FROM outbox")) > 0:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        inst.stop()
    return {"per_second": BACKLOG / elapsed, "mailed": server.messages() - before}

def run(root, out, db_url, seconds=15, ceiling=None):
    if ceiling is None:
        binary = os.path.join(root, "target/release/examples/bcrypt_ceiling")
        ceiling = float(subprocess.run([binary, str(COST), str(CORES), str(seconds)], check=True,
                                       capture_output=True, text=True).stdout)
    result = {"ceiling": ceiling, "console": saturate(root, out, db_url, "smtp-console", seconds)}
    plain = SmtpServer(root, out, "smtp-plain-server", "--mode", "plain")
    try:
        url = f"smtp://127.0.0.1:{plain.port}?tls=off"
        result["plain"] = saturate(root, out, db_url, "smtp-plain", seconds, plain, SMTP_URL=url)
        result["outbox"] = outbox(root, out, db_url, plain, SMTP_URL=url)
    finally:
        plain.stop()
    with tempfile.TemporaryDirectory() as certs:
        script = os.path.join(root, "tests", "external", "smtp_server.py")
        subprocess.run([sys.executable, script, "certs", certs], check=True)
        tls = SmtpServer(root, out, "smtp-starttls-server", "--mode", "starttls", "--certs", certs)
        try:
            result["starttls"] = saturate(root, out, db_url, "smtp-starttls", seconds, tls,
                                          SMTP_URL=f"smtp://localhost:{tls.port}",
                                          SMTP_CA_FILE=os.path.join(certs, "ca.pem"))
        finally:
            tls.stop()
    return result

def rows(r):
    ceiling, console = r["ceiling"], r["console"]
    out = []
    for key, label in (("plain", "plain to loopback"), ("starttls", "STARTTLS, verified")):
        m = r[key]
        out.append((f"14 register throughput through SMTP ({label}) vs bcrypt ceiling",
                    f"{m['per_second']:.2f}/s",
                    f"{ceiling:.2f}/s; console mailer {console['per_second']:.2f}/s; {m['mailed']} mailed for "
                    f"{m['created']} created, {m['other']} other answers",
                    m["per_second"] / ceiling,
                    m["per_second"] >= 0.95 * ceiling and m["other"] == 0 and m["mailed"] >= m["created"],
                    ">= 95 %, every 201 mailed"))
        out.append((f"14 RSS after the load through SMTP ({label})", f"{m['rss_mib']:.1f} MiB",
                    f"console mailer {console['rss_mib']:.1f} MiB", m["rss_mib"] / console["rss_mib"],
                    m["rss_mib"] <= console["rss_mib"] + 5, "<= console + 5 MiB"))
    o = r["outbox"]
    out.append(("14 outbox mails per second through SMTP (one instance, plain to loopback)",
                f"{o['per_second']:.0f}/s", f"{o['mailed']} of {BACKLOG} mailed", None,
                o["per_second"] >= 100 and o["mailed"] >= BACKLOG, ">= 100/s, every one mailed"))
    return out

if __name__ == "__main__":
    seconds = 5 if "--quick" in sys.argv else 15
    scale.alone("beefirst_bench_smtp", lambda root, out, db: run(root, out, db, seconds), rows)
