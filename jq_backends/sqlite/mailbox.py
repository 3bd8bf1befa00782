"""Wake-ups and commands between the processes sharing one SQLite database, without polling.

SQLite has no notifications, so each queue watch and each command subscription binds a unix
datagram socket (a *mailbox*) in one directory per database. A block that pushed onto a queue
sends an empty datagram to every watch's mailbox once it committed; a publish sends the payload
to the mailboxes of that channel's subscriptions. A mailbox nobody listens to any more (its
process died) refuses datagrams and is deleted by the first sender that finds it so.

The directory sits beside the database (``jobs.db.wake``), where every process that can open the
database finds it. A socket's path must fit in 108 bytes, so for a long database path it is
``/tmp/jq-<hash of the database path>`` instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from jq.base.threads import start_background_thread

__all__ = ["Mailboxes", "QueueWatch", "Subscription"]

logger = logging.getLogger("jq.broker.sqlite")

#: Longest directory beside the database: leaves room for a mailbox name in a socket path.
_MAX_DIRECTORY = 60
#: Largest datagram read: a command is a few hundred bytes; the kernel caps a datagram near this.
_MAX_DATAGRAM = 1 << 18
#: How long a publish waits for a subscription whose queue of datagrams is full.
_SEND_WAIT = 1.0
#: A watch reads the push counter this often, in case a pusher died before sending its wake-up.
FALLBACK_INTERVAL = 1.0
#: Marks a published payload; an empty datagram only wakes a listener (close, liveness probes).
_MESSAGE = b"m"


def channel_prefix(channel: str) -> str:
    """Mailbox names of ``channel``'s subscriptions start with this (hashed: names are short)."""
    return f"c-{hashlib.sha256(channel.encode()).hexdigest()[:16]}-"


#: Mailbox names of queue watches start with this.
WATCH_PREFIX = "q-"


class Mailboxes:
    """The directory of one database's mailboxes."""

    def __init__(self, database: str) -> None:
        real = os.path.realpath(database)
        directory = real + ".wake"
        if len(directory) > _MAX_DIRECTORY:
            directory = f"/tmp/jq-{hashlib.sha256(real.encode()).hexdigest()[:16]}"
        self.directory = directory

    def bind(self, prefix: str) -> tuple[socket.socket, str]:
        """A new mailbox named ``prefix`` plus a unique suffix: its socket and its path."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        if os.stat(self.directory).st_uid != os.getuid():  # /tmp is everyone's: trust only ours
            raise PermissionError(f"{self.directory} belongs to another user; jq will not use it")
        path = os.path.join(self.directory, prefix + uuid.uuid4().hex[:12])
        mailbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        mailbox.bind(path)
        return mailbox, path

    def send(self, prefix: str, payload: bytes, wait: float = 0.0) -> int:
        """Send ``payload`` to every mailbox whose name starts with ``prefix``; how many took it.

        A full mailbox is skipped at once (``wait`` 0: a watch with a wake-up pending needs no
        other) or after ``wait`` seconds.
        """
        try:
            names = [entry.name for entry in os.scandir(self.directory) if entry.name.startswith(prefix)]
        except FileNotFoundError:  # nobody ever listened
            return 0
        delivered = 0
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.settimeout(wait)
            for name in names:
                path = os.path.join(self.directory, name)
                try:
                    sender.sendto(payload, path)
                    delivered += 1
                except ConnectionRefusedError:  # its listener is gone for good
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                except (FileNotFoundError, BlockingIOError, TimeoutError):  # closed, or full
                    pass
        return delivered

    def publish(self, channel: str, payload: bytes) -> int:
        """Deliver ``payload`` to the live subscriptions of ``channel``; how many got it."""
        return self.send(channel_prefix(channel), _MESSAGE + payload, _SEND_WAIT)


class Subscription:
    """A mailbox for one channel and the listener thread that hands its payloads to a handler."""

    def __init__(self, mailboxes: Mailboxes, channel: str, handler: Callable[[bytes], None]) -> None:
        # Dead subscriptions' mailboxes would otherwise stay until someone published to them.
        mailboxes.send("c-", b"")
        self._socket, self._path = mailboxes.bind(channel_prefix(channel))
        self._channel = channel
        self._handler = handler
        self._closed = threading.Event()
        start_background_thread(self._listen, f"jq-commands-{channel}")

    def _listen(self) -> None:
        with self._socket:
            while True:
                datagram = self._socket.recv(_MAX_DATAGRAM)
                if self._closed.is_set():
                    return
                if not datagram.startswith(_MESSAGE):  # a probe: not a payload
                    continue
                try:
                    self._handler(datagram[len(_MESSAGE) :])
                except Exception:
                    logger.exception("a command handler on %s failed", self._channel)

    def close(self) -> None:
        """Stop delivering; the listener thread ends (an empty datagram wakes it)."""
        if self._closed.is_set():
            return
        self._closed.set()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as waker, contextlib.suppress(OSError):
            waker.setblocking(False)  # a full mailbox wakes its listener anyway
            waker.sendto(b"", self._path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)


class QueueWatch:
    """A claimer's watch on queue pushes (:meth:`jq.broker.store.Store.watch_queues`)."""

    def __init__(self, mailboxes: Mailboxes, pushes: Callable[[], int]) -> None:
        # Bound before the counter is read and before this returns: a push that commits later
        # finds this mailbox when its block sends the wake-ups, which it does after committing.
        self._socket, self._path = mailboxes.bind(WATCH_PREFIX)
        self._pushes = pushes
        self._seen = pushes()

    def wait(self, timeout: float) -> None:
        """Return on a wake-up, on a push counted since the last return, or after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            self._socket.settimeout(min(remaining, FALLBACK_INTERVAL))
            try:
                self._socket.recv(_MAX_DATAGRAM)
            except TimeoutError:
                if self._pushes() == self._seen:
                    continue
            else:  # pushes since are all committed: one return covers every wake-up pending
                self._socket.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    while True:
                        self._socket.recv(_MAX_DATAGRAM)
            self._seen = self._pushes()
            return

    def close(self) -> None:
        """Stop watching: the mailbox goes."""
        self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)
