"""A TCP relay to PostgreSQL that can hold every byte going one way for a while, and counts what
the clients ask: the soak's latency between its instances and PostgreSQL, and the capacity
bench's statements per request. `python3 delayline.py LISTEN_HOST LISTEN_PORT TARGET_HOST
TARGET_PORT`; it prints `ready` once listening. SIGUSR1 holds what the clients send for 200 ms
before passing it on (so every round trip to the server takes 200 ms longer, as `tc netem delay
200ms` on the clients' side would), SIGUSR2 stops holding; SIGHUP prints one JSON line of the
counts so far: `statements` (Execute and simple Query messages of the PostgreSQL protocol) and
`round_trips` (Sync and simple Query: each waits for the server's ReadyForQuery). Bytes keep
their order; a relay of its own process, so the load never waits on it.
"""
import collections, json, signal, socket, struct, sys, threading, time

DELAY = [0.0]
COUNTS = collections.Counter()
COUNTS_LOCK = threading.Lock()


class Frontend:
    """Splits what a client sends into protocol messages and counts them by type. The first
    message has no type byte (the startup message, or an SSLRequest before it)."""
    def __init__(self):
        self.buffer, self.started = b"", False

    def feed(self, data):
        self.buffer += data
        seen = collections.Counter()
        while True:
            head = 4 if not self.started else 5
            if len(self.buffer) < head:
                break
            if self.started:
                kind, length = self.buffer[:1], struct.unpack(">I", self.buffer[1:5])[0] + 1
            else:
                kind, length = None, struct.unpack(">I", self.buffer[:4])[0]
            if len(self.buffer) < length:
                break
            if kind is None:
                # SSLRequest and GSSENCRequest come before the startup message, which then follows
                self.started = struct.unpack(">I", self.buffer[4:8])[0] not in (80877103, 80877104)
            else:
                seen[kind] += 1
            self.buffer = self.buffer[length:]
        with COUNTS_LOCK:
            COUNTS["statements"] += seen[b"E"] + seen[b"Q"]
            COUNTS["round_trips"] += seen[b"S"] + seen[b"Q"]


def report(*_):
    with COUNTS_LOCK:
        print(json.dumps(dict(COUNTS)), flush=True)


def relay(source, target, delayed):
    """Copies `source` to `target`; each chunk leaves at its arrival + DELAY (when `delayed`, the
    clients' side, whose messages are counted)."""
    queue, ready = collections.deque(), threading.Condition()
    frontend = Frontend() if delayed else None

    def sender():
        while True:
            with ready:
                while not queue:
                    ready.wait()
                due, data = queue.popleft()
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            try:
                if not data:
                    target.shutdown(socket.SHUT_WR)
                    return
                target.sendall(data)
            except OSError:
                source.close()
                return

    threading.Thread(target=sender, daemon=True).start()
    while True:
        try:
            data = source.recv(65536)
        except OSError:
            data = b""
        if frontend and data:
            frontend.feed(data)
        with ready:
            queue.append((time.monotonic() + (DELAY[0] if delayed else 0.0), data))
            ready.notify()
        if not data:
            return


def serve(client):
    try:
        server = socket.create_connection((sys.argv[3], int(sys.argv[4])), timeout=5)
        server.settimeout(None)
    except OSError:
        client.close()
        return
    for sock in (client, server):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=relay, args=(client, server, True), daemon=True).start()
    threading.Thread(target=relay, args=(server, client, False), daemon=True).start()


def main():
    signal.signal(signal.SIGUSR1, lambda *_: DELAY.__setitem__(0, 0.2))
    signal.signal(signal.SIGUSR2, lambda *_: DELAY.__setitem__(0, 0.0))
    signal.signal(signal.SIGHUP, report)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.create_server((sys.argv[1], int(sys.argv[2])), reuse_port=False)
    print("ready", flush=True)
    while True:
        client, _ = listener.accept()
        serve(client)


if __name__ == "__main__":
    main()
