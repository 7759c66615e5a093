"""A stand-in for a platform API: prints every action the runtime POSTs to it.

    PLATFORM_SECRET=... python examples/live/fake_platform.py [PORT]

It checks each request's X-Engage-Signature with PLATFORM_SECRET (when set), answers
200 with a made-up message id, and prints one line per call.  See docs/running.md.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ.get("PLATFORM_SECRET", "").encode()
_ids = itertools.count(1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        timestamp = self.headers.get("X-Engage-Timestamp", "")
        delivery = self.headers.get("X-Engage-Delivery", "")
        signed = "unsigned"
        if SECRET:
            # Version 2: HMAC of "v2\n<timestamp>\n<delivery>\n<body>" (docs/running.md).
            text = f"v2\n{timestamp}\n{delivery}\n".encode() + body
            mac = hmac.new(SECRET, text, hashlib.sha256)
            good = hmac.compare_digest(
                "v2=" + mac.hexdigest(), self.headers.get("X-Engage-Signature", "")
            )
            signed = "signature ok" if good else "BAD SIGNATURE"
        action = json.loads(body)
        print(
            f"{self.path} {action['type']:>14} member={action['member']} "
            f"params={json.dumps(action['params'], ensure_ascii=False)} ({signed}, "
            f"delivery {self.headers.get('X-Engage-Delivery')})",
            flush=True,
        )
        answer = json.dumps({"ok": True, "id": f"msg-{next(_ids)}"}).encode()
        self.send_response(200 if signed != "BAD SIGNATURE" else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    print(f"fake platform listening on http://127.0.0.1:{port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
