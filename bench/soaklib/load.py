"""What the soak's clients see and remember: the receivers of mail and webhooks, the ledger of
acknowledged writes, and one HTTP client per virtual user."""
import base64, collections, json, re, threading, time
import http.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Catcher:
    """An HTTP server in this process that records what is POSTed to it (mail, webhooks); while
    `down`, it answers 503 (a receiver that is unavailable). Listens on `host` (the address the
    instances reach this machine at)."""
    def __init__(self, record, host="127.0.0.1"):
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
        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://{host}:{self.server.server_address[1]}"


class Ledger:
    """What the load generator was told. `accounts` holds each acknowledged account's last
    acknowledged state by its current email: {"password", "state": active|disabled|deleted}.
    `expected` counts the webhook events (type, email at the time) that acknowledged writes imply,
    `hooks` the distinct deliveries (webhook-id) of each; `uncertain` emails whose last write got
    no answer (it may or may not have happened); `errors` what went wrong in an actor itself."""
    def __init__(self):
        self.lock = threading.Lock()
        self.answers = []          # (time, status, retry_after, ms, made by the proxy)
        self.accounts = {}
        self.expected = collections.Counter()
        self.uncertain = set()
        self.retired = []          # emails a virtual user is done with: the administrator's to act on
        self.mails = {}            # recipient -> [text]
        self.hooks = {}            # (type, email) -> {webhook-id}
        self.errors = []

    def answer(self, status, retry_after, ms, by_proxy=False):
        with self.lock:
            self.answers.append((time.time(), status, retry_after, ms, by_proxy))

    def acknowledged(self, email, event, **state):
        """An acknowledged write: the account's new state, and the webhook event it implies."""
        with self.lock:
            self.accounts.setdefault(email, {}).update(state)
            self.expected[(event, email)] += 1
            self.uncertain.discard(email)

    def moved(self, old, new):
        """An acknowledged change of email: the account is known by `new` from now on."""
        with self.lock:
            self.accounts[new] = self.accounts.pop(old)
            self.accounts[old] = {"state": "moved"}
            self.expected[("user.email_changed", new)] += 1

    def mail_count(self, email):
        with self.lock:
            return len(self.mails.get(email, []))

    def code(self, email, after, wait=5.0):
        """The first number of the first mail to `email` past the first `after` ones (every mail
        puts its code first), or None if none came within `wait` seconds."""
        deadline = time.time() + wait
        while time.time() < deadline:
            with self.lock:
                texts = self.mails.get(email, [])[after:]
            if texts:
                return re.search(r"\d+", texts[0]).group(0)
            time.sleep(0.05)
        return None


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
            started, reused = time.perf_counter(), self.conn is not None
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=45)
                self.conn.request(method, path, json.dumps(body) if body is not None else None, headers)
                answer = self.conn.getresponse()
                data = answer.read()
                status, retry_after = answer.status, answer.getheader("Retry-After")
                by_proxy = answer.getheader("X-Soak-Proxy-Error") is not None
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected) if reused else ():
                self.conn = None
                continue  # a keep-alive connection nginx had closed before answering: once more, new
            except (OSError, http.client.HTTPException):
                self.conn = None
                status, retry_after, data, by_proxy = 0, None, b"", False
            self.ledger.answer(status, retry_after, (time.perf_counter() - started) * 1000, by_proxy)
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

