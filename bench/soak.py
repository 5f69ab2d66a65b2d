"""bench/soak: hours of mixed traffic with faults, compressed (issue "A week without critical errors").

Usage: bench/soak [--minutes N] [--rate R] [--users U] [--debug]
                  [--faults mail,network,kill,pg-restart,webhooks,pg-kill]

Three instances behind the shipped nginx (deploy/nginx.conf) on one PostgreSQL database made for
the run, a mail API and a webhook receiver in this process, a load of virtual users at a steady
rate and one administrator (soaklib/actors.py): registering and activating (the code read from
the mail), signing in by password, by mailed code and with TOTP, reading and changing the
profile, refreshing, changing password and email, being disabled, enabled and deleted. Every
10 s it samples each instance (RSS, threads, open files), PostgreSQL (connections, table rows,
the outbox and webhook backlogs) and the window's latency. Faults come at known times
(soaklib/faults.py): the mail API down for a minute (20 % of the run); 200 ms more latency and
5 % packet loss between the instances and PostgreSQL for a minute (30 %; the instances then run
in a network namespace for the whole run); an instance `kill -9`'d and started again 5 s later
(40 %); PostgreSQL restarted (55 %); the webhook receiver down for a minute (70 %); PostgreSQL
killed and started again (85 %). At the end (soaklib/account.py) every acknowledged write is
checked against the database and the receivers. Exit 1 on a lost write or on any 5xx other than
503 with Retry-After. Results: bench/out/soak.json and a summary.
"""
import argparse, os, signal, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench_run
import users as scale
from soaklib.account import PG, account, bad_answers, proxy_503s_outside_faults, report, sample
from soaklib.actors import Account, administrator, virtual_user
from soaklib.faults import Namespace, outage, pg_ctl
from soaklib.load import Catcher, Client, Ledger

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
DB = f"beefirst_soak_{os.getpid()}"   # one per run: two runs on one server never meet
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FAULTS = "mail,network,kill,pg-restart,webhooks,pg-kill"


def receivers(ledger, host):
    """The mail API and the webhook receiver, recording into the ledger."""
    def mail(body, headers):
        with ledger.lock:
            ledger.mails.setdefault(body["To"][0]["Email"], []).append(body["Text"])
    def hook(body, headers):
        with ledger.lock:
            ledger.hooks.setdefault((body["type"], body["data"].get("email")), set()).add(headers["webhook-id"])
    return Catcher(mail, host), Catcher(hook, host)


def schedule(faults, duration, instances, start, mailbox, receiver, network):
    """(at, name, action) for each chosen fault, in time order."""
    plan = []
    if "mail" in faults:
        plan.append((0.2, "mail API down for a minute", lambda: outage(mailbox, 60)))
    if "network" in faults:
        plan.append((0.3, "200 ms more latency and 5 % packet loss to PostgreSQL for a minute",
                     lambda: network.impair(60)))
    if "kill" in faults:
        def kill():
            instances[1].proc.send_signal(signal.SIGKILL); instances[1].proc.wait()
            time.sleep(5)
            instances[1] = start(1, "-restarted")
        plan.append((0.4, "instance kill -9, restarted after 5 s", kill))
    if "pg-restart" in faults:
        plan.append((0.55, "PostgreSQL restarted (pg_ctl restart -m fast)", lambda: pg_ctl("restart", "fast")))
    if "webhooks" in faults:
        plan.append((0.7, "webhook receiver down for a minute", lambda: outage(receiver, 60)))
    if "pg-kill" in faults:
        def pg_kill():
            pg_ctl("stop", "immediate")  # no shutdown checkpoint: crash recovery at the start
            pg_ctl("start", None)
        plan.append((0.85, "PostgreSQL killed (pg_ctl stop -m immediate), started again", pg_kill))
    return sorted((share * duration, name, action) for share, name, action in plan)


def make_admin(addr, ledger):
    """The administrator's account: registered, activated, and granted the role by the CLI."""
    admin = Account(Client(addr, ledger), ledger, "admin@soak.example")
    if not admin.activate():
        sys.exit("bench/soak: could not make the administrator's account")
    subprocess.run([os.environ["BEEFIRST_BIN"], "admin", "grant", admin.email], check=True, capture_output=True,
                   env=dict(os.environ, DATABASE_URL=f"{PG}/{DB}"))
    with ledger.lock:
        del ledger.accounts[admin.email]   # not part of the accounting: its role changed outside the API
        ledger.expected.pop(("user.created", admin.email), None)
    return admin


def guarded(ledger, actor, *args):
    """Runs an actor; an exception in it is the run's failure, not a thread dying quietly."""
    try:
        actor(*args)
    except Exception as e:
        with ledger.lock:
            ledger.errors.append(f"{actor.__name__}: {type(e).__name__}: {e}")


def drive(args, duration, plan, instances, ledger, addr):
    """The load, the faults and the samples until `duration` is over: (series, faults done, start)."""
    stop, since = threading.Event(), time.time()
    admin = make_admin(addr, ledger)
    actors = [threading.Thread(target=guarded, args=(ledger, virtual_user, Client(addr, ledger), ledger, stop,
                                                     args.rate, u), daemon=True) for u in range(args.users)]
    actors.append(threading.Thread(target=guarded, args=(ledger, administrator, Client(addr, ledger), ledger, stop,
                                                         admin, 4 / args.rate), daemon=True))
    for actor in actors:
        actor.start()
    series, done, next_sample = [], [], time.time()
    try:
        while time.time() - since < duration:
            if plan and time.time() - since >= plan[0][0]:
                at, name, action = plan.pop(0)
                began = time.time()
                action()
                done.append({"name": name, "at": round(began - since, 1), "took": round(time.time() - began, 1)})
            if time.time() >= next_sample:
                series.append(sample(instances, ledger, since, DB))
                next_sample += 10
            time.sleep(0.2)
    finally:
        stop.set()
        for actor in actors:
            actor.join(timeout=120)
        if any(actor.is_alive() for actor in actors):
            ledger.errors.append("an actor was still running 120 s after the end")
    return series, done, since


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--rate", type=float, default=1.0, help="actions per second per virtual user")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--faults", default=FAULTS, help=f"comma-separated, any of {FAULTS}")
    parser.add_argument("--control", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the third instance only (a control for the RSS slope, "
                             "e.g. MALLOC_ARENA_MAX=2 or GLIBC_TUNABLES=glibc.malloc.tcache_count=0); repeatable")
    parser.add_argument("--debug", action="store_true", help="run target/debug/beefirst (CI's smoke, after cargo test)")
    args = parser.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    os.makedirs(OUT, exist_ok=True)
    subprocess.run([os.path.join(ROOT, ".ci", "pg-up")], check=True)
    os.environ["BEEFIRST_BIN"] = os.path.join(ROOT, "target", "debug" if args.debug else "release", "beefirst")
    if not args.debug:
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    subprocess.run(["psql", f"{PG}/postgres", "-Xqc", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)",
                    "-c", f"CREATE DATABASE {DB}"], check=True, capture_output=True)
    network = Namespace() if "network" in faults else None
    try:
        return soak(args, faults, network)
    finally:
        if network:
            network.close()
        subprocess.run(["psql", f"{PG}/postgres", "-Xqc", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"],
                       capture_output=True)


def soak(args, faults, network):
    ledger = Ledger()
    host = network.host if network else "127.0.0.1"
    mailbox, receiver = receivers(ledger, host)
    inside = network.inside if network else "127.0.0.1"
    ports = [bench_run.free_port() for _ in range(3)]
    settings = dict(BCRYPT_COST="4", MAIL_API_URL=f"{mailbox.url}/api/v1/send", WEBHOOK_URLS=f"{receiver.url}/hooks",
                    WEBHOOK_SECRET=SECRET, TRUST_X_FORWARDED_FOR="true", DB_POOL_SIZE="8",
                    REAPER_INTERVAL_SECONDS="60", SESSION_TTL_SECONDS="300")
    control = dict(setting.split("=", 1) for setting in args.control)
    start = lambda i, suffix="": scale.Instance(
        ROOT, OUT, f"postgres://postgres@{host}:5432/{DB}", f"soak-{i}{suffix}", wrap=network.wrap if network else (),
        BIND_ADDR=f"{inside}:{ports[i]}", **settings, **(control if i == 2 else {}))
    instances, nginx = [], None
    try:
        instances.extend(start(i) for i in range(3))
        addr, nginx = bench_run.nginx_front([f"{inside}:{p}" for p in ports], mark_own_503=True)
        duration = args.minutes * 60
        plan = schedule(faults, duration, instances, start, mailbox, receiver, network)
        series, done, since = drive(args, duration, plan, instances, ledger, addr)
        lost = account(ledger, Client(addr, Ledger()), DB)
    finally:
        for inst in instances:
            try:
                inst.stop()
            except subprocess.TimeoutExpired:
                inst.proc.kill()
        if nginx:
            nginx.terminate()
    report(args, series, done, ledger, lost, since, OUT)
    return 1 if lost or bad_answers(ledger) or proxy_503s_outside_faults(ledger, done, since) or ledger.errors else 0


if __name__ == "__main__":
    sys.exit(main())
