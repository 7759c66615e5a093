"""The heartbeat of one gateway connection, on its own thread.

After HELLO the first heartbeat goes after ``interval * jitter`` (jitter in [0, 1)), then
one every ``interval``; each carries the last sequence number received.  When no
HEARTBEAT ACK came since the previous heartbeat, the connection is a "zombie": the
heartbeat closes it with code 4000 (so the session stays resumable) and marks it, and
the shard reconnects and resumes (https://discord.com/developers/docs/events/gateway#sending-heartbeats).
While the reader is busy handing a dispatch to the runtime (its queue is full), ACKs wait
unread in the socket: heartbeats go on, and a missing ACK is not taken for a zombie.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from .i18n import _

OP_HEARTBEAT = 1
ZOMBIE_CLOSE = 4000


class Heartbeat:
    """Sends heartbeats on ``conn`` until :meth:`stop` or a missing ACK."""

    def __init__(
        self,
        conn: ClientConnection,
        interval: float,
        jitter: float,
        seq: Callable[[], int | None],
        log: logging.Logger,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self._conn = conn
        self.interval = interval
        self.first = interval * jitter
        self._seq = seq
        self._log = log
        self._busy = busy
        self._acked = True
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="discord-heartbeat", daemon=True)
        #: True once the heartbeat closed the connection for want of an ACK.
        self.zombie = False
        self.sent = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def ack(self) -> None:
        with self._lock:
            self._acked = True

    def beat(self) -> None:
        """Send one heartbeat now (also when the gateway asks for one: op 1)."""
        with self._lock:
            self._acked = False
            self.sent += 1
        try:
            self._conn.send(json.dumps({"op": OP_HEARTBEAT, "d": self._seq()}))
        except ConnectionClosed:
            self._done.set()

    def _run(self) -> None:
        delay = self.first
        while not self._done.wait(delay):
            with self._lock:
                acked = self._acked
            if not acked and not self._busy():
                self._log.warning(
                    _("discord gateway: no heartbeat ACK within %(seconds).1f s: reconnecting"),
                    {"seconds": self.interval},
                )
                self.zombie = True
                self._conn.close(ZOMBIE_CLOSE, "no heartbeat ack")
                return
            self.beat()
            delay = self.interval
