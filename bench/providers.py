"""Target 11: the cost of a sign-in with another provider on beefirst's side (bench/run;
BENCHMARKS.md "Sign-in with another provider"). `python3 bench/providers.py` runs it alone (after
`cargo build --release`).

A provider's share of a sign-in is its pages, its token endpoint and the network to it; none of
that is ours. So the provider here is a stand-in inside this bench process (discovery, JWKS, a
token endpoint issuing ES256 ID tokens with the `cryptography` package), and the figures are
taken so that its share is left out, in two ways:

- CPU: the service's and PostgreSQL's CPU seconds during the run (from /proc), divided by the
  sign-ins. The provider runs in this process, so none of its work is counted.
- Time: `GET /idp/corp/callback` includes the service's call to the token endpoint; the stand-in
  times its own handling of each call, and that is subtracted (what remains is the service's work,
  the loopback round trip to the provider included).

Each sign-in is the whole round trip: `GET /idp/corp/authorize` (a state row), the provider's
consent (in this process), `GET /idp/corp/callback` (the state taken, the code exchanged, the ID
token verified, an account found, a login code stored) and `POST /idp/exchange` (a session).
"""
import base64, hashlib, http.client, json, os, struct, subprocess, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
import users as scale
from passkeys import cpu_seconds, postgres_pids

SIGN_INS = 300
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"

def b64(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")

class Provider:
    """An OpenID Connect stand-in on loopback, timing its own token endpoint."""
    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.grants, self.token_ms, self.lock = {}, [], threading.Lock()
        provider = self
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass
            def answer(self, value):
                body = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def do_GET(self):
                if self.path.startswith("/.well-known/openid-configuration"):
                    self.answer({"issuer": provider.issuer, "authorization_endpoint": f"{provider.issuer}/authorize",
                                 "token_endpoint": f"{provider.issuer}/token", "jwks_uri": f"{provider.issuer}/jwks"})
                else:
                    n = provider.key.public_key().public_numbers()
                    self.answer({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
                                           "x": b64(n.x.to_bytes(32, "big")), "y": b64(n.y.to_bytes(32, "big"))}]})
            def do_POST(self):
                started = time.perf_counter()
                form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                with provider.lock:
                    nonce, subject = provider.grants.pop(form["code"][0])
                self.answer({"access_token": "x", "token_type": "Bearer", "id_token": provider.id_token(nonce, subject)})
                with provider.lock:
                    provider.token_ms.append((time.perf_counter() - started) * 1000)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def id_token(self, nonce, subject):
        now = int(time.time())
        header = b64(json.dumps({"alg": "ES256", "typ": "JWT", "kid": "k1"}).encode())
        claims = b64(json.dumps({"iss": self.issuer, "aud": CLIENT_ID, "sub": subject, "iat": now, "exp": now + 600,
                                 "nonce": nonce, "email": f"{subject}@providers.bench", "email_verified": True}).encode())
        r, s = decode_dss_signature(self.key.sign(f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256())))
        return f"{header}.{claims}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def consent(self, authorize_url, subject):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(authorize_url).query)
        code = b64(os.urandom(12))
        with self.lock:
            self.grants[code] = (q["nonce"][0], subject)
        return f"{q['redirect_uri'][0]}?code={code}&state={q['state'][0]}"

def run(root, out, db_url, seconds_unused=None):
    """Target 11: {per endpoint: summary, token_ms: the provider's own time, cpu_ms per sign-in}."""
    provider = Provider()
    inst = scale.Instance(root, out, db_url, "providers", BCRYPT_COST=12, IDENTITY_PROVIDERS="corp",
                          IDP_CORP_CLIENT_ID=CLIENT_ID, IDP_CORP_CLIENT_SECRET=CLIENT_SECRET,
                          IDP_CORP_ISSUER=provider.issuer)
    stats = scale.Stats()
    host, port = inst.addr.rsplit(":", 1)
    client = http.client.HTTPConnection(host, int(port), timeout=30)
    def timed(method, path, body=None):
        started = time.perf_counter()
        client.request(method, path, json.dumps(body) if body is not None else None, {"Content-Type": "application/json"})
        answer = client.getresponse()
        raw = answer.read()
        name = path.split("?")[0].replace("/corp/", "/{name}/")
        stats.add(f"{method} {name}", (time.perf_counter() - started) * 1000, answer.status in (200, 302), answer.status)
        return answer, raw
    try:
        for i in range(5):  # warm-up: discovery and keys fetched, connections made
            sign_in(provider, timed, f"warm{i}")
        provider.token_ms.clear()
        pg = postgres_pids()
        before = (cpu_seconds([inst.proc.pid]), cpu_seconds(pg))
        started = time.perf_counter()
        for i in range(SIGN_INS):
            sign_in(provider, timed, f"person{i % 50}")  # 50 people: new accounts, then returning
        elapsed = time.perf_counter() - started
        after = (cpu_seconds([inst.proc.pid]), cpu_seconds(pg))
    finally:
        inst.stop()
        provider.server.shutdown()
    summary = stats.summary(elapsed)
    token = sorted(provider.token_ms)
    return {"endpoints": summary, "token_ms_p50": token[len(token) // 2],
            "cpu_ms": {"service": (after[0] - before[0]) * 1000 / SIGN_INS, "postgres": (after[1] - before[1]) * 1000 / SIGN_INS}}

def sign_in(provider, timed, subject):
    answer, _ = timed("GET", "/idp/corp/authorize")
    callback = provider.consent(answer.getheader("Location"), subject)
    path = callback[callback.index("/idp/"):]
    answer, _ = timed("GET", path)
    fragment = answer.getheader("Location").split("#", 1)[1]
    assert fragment.startswith("login_code="), fragment
    _, raw = timed("POST", "/idp/exchange", {"login_code": fragment.split("=", 1)[1]})
    assert b"access_token" in raw, raw

def rows(r):
    e, cpu = r["endpoints"], r["cpu_ms"]
    callback = e["GET /idp/{name}/callback"]
    out = [(f"11 provider sign-in, beefirst's CPU per sign-in (authorize + callback + exchange)",
            f"service {cpu['service']:.2f} ms, PostgreSQL {cpu['postgres']:.2f} ms",
            "the provider's own work is in the bench process, not counted", None,
            cpu["service"] + cpu["postgres"] < 10, "< 10 ms together")]
    for name in ("GET /idp/{name}/authorize", "GET /idp/{name}/callback", "POST /idp/exchange"):
        s = e[name]
        extra = (f"; minus the provider's token endpoint (p50 {r['token_ms_p50']:.2f} ms): "
                 f"{s['p50'] - r['token_ms_p50']:.2f} ms") if name == "GET /idp/{name}/callback" else ""
        out.append((f"11 {name} unloaded", f"p50 {s['p50']:.2f}, p99 {s['p99']:.2f} ms, {s['errors']} errors{extra}",
                    "one after another, keep-alive", None, s["errors"] == 0 and s["p50"] < 10, "p50 < 10 ms, no errors"))
    return out

if __name__ == "__main__":
    scale.alone("beefirst_bench_providers", run, rows)
