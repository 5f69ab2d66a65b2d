#!/usr/bin/env python3
"""A webhook receiver for the tests, verifying every delivery with the official Standard Webhooks
library (PyPI `standardwebhooks`), not with beefirst's code.

Usage: webhook_receiver.py SECRET [PORT]   (PORT 0 or absent: any free port)
Prints `listening PORT` on stdout once it accepts. Then:
- POST any path: a delivery. It is verified as sent (`verified`), with one byte of the body
  changed (`tampered_refused`: the library must refuse it) and with its timestamp ten minutes
  old (`stale_refused`: outside the library's tolerance); then answered as the mode says.
- GET /received: every delivery so far, as JSON: path, headers, body, the three checks, answer.
- POST /mode {"fail": N, "hang_seconds": S}: answer 500 to the next N deliveries; hold each
  delivery S seconds before answering (a receiver that hangs).
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

SECRET = sys.argv[1]
WEBHOOK = Webhook(SECRET)
LOCK = threading.Lock()
RECEIVED = []
MODE = {"fail": 0, "hang_seconds": 0}


def refused(body, headers):
    try:
        WEBHOOK.verify(body, headers)
        return False
    except WebhookVerificationError:
        return True


def check(body, headers):
    try:
        WEBHOOK.verify(body, headers)
        verified, error = True, None
    except WebhookVerificationError as e:
        verified, error = False, str(e)
    tampered = bytearray(body)
    if tampered:
        tampered[len(tampered) // 2] ^= 0x01
    stale = dict(headers)
    stale["webhook-timestamp"] = str(int(headers.get("webhook-timestamp", "0")) - 600)
    return {
        "verified": verified,
        "error": error,
        "tampered_refused": refused(bytes(tampered), headers),
        "stale_refused": refused(body, stale),
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, payload=b""):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_GET(self):
        with LOCK:
            payload = json.dumps(RECEIVED).encode()
        self.answer(200, payload)

    def do_POST(self):
        body = self.body()
        if self.path == "/mode":
            with LOCK:
                MODE.update(json.loads(body))
            return self.answer(204)
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = {"path": self.path, "headers": headers, "body": body.decode(), "at": time.time()}
        record.update(check(body, headers))
        with LOCK:
            failing = MODE["fail"] > 0
            if failing:
                MODE["fail"] -= 1
            hang = MODE["hang_seconds"]
            record["answered"] = 500 if failing else 204
            record["hung"] = hang
            RECEIVED.append(record)
        if hang:
            time.sleep(hang)
        self.answer(record["answered"])


def main():
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
