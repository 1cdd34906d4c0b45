"""A bank's webhook endpoint on a thread, for the tests of webhooks, worker faults and egress."""

from __future__ import annotations

import threading
import time
from collections import Counter
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from matchmaker.notifications import delivery as delivery_module


class Receiver:
    """A bank's webhook endpoint. Each request takes the next step of `script` (default 200):
    an HTTP status; "block" (hold the request until `release` is set, then drop the connection
    without an answer — a receiver whose caller died); or ("sleep", s) (answer 200 after at
    most s seconds or when released — a slow receiver); or ("redirect", url) (a 302 to url).

    `requests` is everything that arrived; `completed` the delivery ids answered 2xx; `handled`
    counts the business processing of a receiver that dedupes by X-GreenMatch-Delivery (it
    processes a delivery the first time it sees its id, whatever it then answers)."""

    def __init__(self, script=()):
        self.script = list(script)
        self.requests: list[tuple[Message, bytes]] = []
        self.completed: list[str] = []
        self.handled: Counter = Counter()
        self.release = threading.Event()
        self.arrived = threading.Condition()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = self.headers  # case-insensitive (urllib sends "X-greenmatch-…")
                delivery_id = headers.get(delivery_module.DELIVERY_HEADER, "")
                with receiver.lock:
                    step = receiver.script.pop(0) if receiver.script else 200
                    receiver.requests.append((headers, body))
                    if delivery_id not in receiver.handled:
                        receiver.handled[delivery_id] += 1
                with receiver.arrived:
                    receiver.arrived.notify_all()
                if step == "block":
                    receiver.release.wait(60)
                    self.close_connection = True
                    return
                if isinstance(step, tuple) and step[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", step[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if isinstance(step, tuple) and step[0] == "sleep":
                    receiver.release.wait(step[1])
                    step = 200
                if 200 <= step < 300:  # recorded before answering: the caller may be quicker
                    with receiver.lock:
                        receiver.completed.append(delivery_id)
                answer = b'{"ok": true}'
                self.send_response(step)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a caller that went away (timeout, killed worker) is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/greenmatch/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def wait_for(self, count: int, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.arrived.wait(left)
        return True

    def delivery_ids(self) -> list[str]:
        return [headers.get(delivery_module.DELIVERY_HEADER) for headers, _ in self.requests]
