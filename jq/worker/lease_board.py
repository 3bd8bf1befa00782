"""The leases a worker's running jobs hold, as its lease pulse reads them: a board in memory the
two processes share.

A worker that runs its jobs in its own interpreter tells its pulse process (see
:mod:`jq.worker.pulse`) which leases to renew each time a job starts and ends. Through a pipe, each
of those messages was a system call in the worker and a wake-up of the pulse, twice a job: about
120 µs of CPU a job on the 2-core test machine, a fifth of a no-op job's cost, for news the pulse
only needs when it next beats (every heartbeat interval, seconds later). On the board, telling is a
memory write; the pulse reads the board when it beats and is woken by nothing else.

The board is an anonymous shared mapping made before the pulse is forked. One process writes it
(the worker), one reads it (the pulse), and neither waits for the other: a write first marks the
board as being written (an odd generation), then the payload, then the finished header (the next,
even generation, the payload's length and its CRC-32). A read that finds an odd generation, a
generation that changed while it read, or a payload whose CRC does not match (a write seen half
done) is not used: the pulse keeps the leases it read last and reads again at its next beat.

A list of leases too long for the board (thousands of jobs at once) goes through the pipe instead,
and the board says so (:data:`IN_PIPE`): the pipe's message is written before the board's
header, so a pulse that sees the mark already has the message to read.
"""

from __future__ import annotations

import mmap
import os
import pickle
import struct
import zlib
from collections.abc import Sequence
from typing import Final

__all__ = [
    "DEFAULT_CAPACITY",
    "IN_PIPE",
    "Lease",
    "LeaseBoard",
    "decode_leases",
    "encode_leases",
    "read_frames",
]

#: A running job's lease, as the pulse renews it: (queue, job id, execution id).
Lease = tuple[str, str, str]

#: The payload bytes a board holds: about 2,500 leases of 100 bytes (pages are only used as touched).
DEFAULT_CAPACITY: Final = 256 * 1024
#: The length a header gives when the leases were sent through the pipe.
IN_PIPE: Final = 0xFFFFFFFF
# generation (odd while a write is under way), payload length, payload CRC-32.
_HEADER: Final = struct.Struct("<QII")
#: How many times a read looks again at a board it found mid-write, before giving up until the
#: next beat (a write takes microseconds; the writer may have been descheduled in the middle).
_READ_TRIES: Final = 3
# A message in the pipe: its length, then the leases.
_FRAME: Final = struct.Struct("<I")


def read_frames(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The whole messages at the start of ``buffer`` (bytes read from the pipe), and what is left
    of a message not yet read in full."""
    messages = []
    while len(buffer) >= _FRAME.size:
        (length,) = _FRAME.unpack_from(buffer)
        end = _FRAME.size + length
        if len(buffer) < end:
            break
        messages.append(buffer[_FRAME.size : end])
        buffer = buffer[end:]
    return messages, buffer


def _write_all(fd: int, message: bytes) -> None:
    """Write all of ``message`` to the pipe ``fd``. A write longer than the pipe holds waits for
    the reader; a signal handled meanwhile (a warm shutdown's SIGTERM) ends the system call with
    part of it written, and a message cut short would make the reader take the next message's
    bytes for the rest of this one."""
    view = memoryview(message)
    while view:
        view = view[os.write(fd, view) :]


def encode_leases(leases: Sequence[Lease]) -> bytes:
    """``leases`` as the board and the pipe carry them: pickled, which is several times cheaper
    than JSON for the worker (it writes twice a job) and safe here, since what is read is what the
    same worker's process wrote into memory only the two of them map, or into their own pipe."""
    return pickle.dumps(list(leases), protocol=pickle.HIGHEST_PROTOCOL)


# No job runs: what a worker writes after each job, encoded once.
_NONE: Final = encode_leases([])
_NONE_CRC: Final = zlib.crc32(_NONE)


def decode_leases(data: bytes) -> list[Lease]:
    """The leases :func:`encode_leases` wrote."""
    return [(str(queue), str(job_id), str(execution)) for queue, job_id, execution in pickle.loads(data)]


class LeaseBoard:
    """A board of leases shared by a worker and its pulse (see the module): made before the fork,
    written by the worker with :meth:`write`, read by the pulse with :meth:`read`."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        # MAP_SHARED | MAP_ANONYMOUS (mmap's default for -1): a forked child sees the same pages.
        self._memory = mmap.mmap(-1, _HEADER.size + capacity)
        self._generation = 0

    def write(self, leases: Sequence[Lease], pipe: int) -> None:
        """Put ``leases`` on the board (in the worker): the pulse renews them from its next beat.
        Too many for the board: they are written to ``pipe`` (a file descriptor the pulse reads),
        then the board says so. Raises OSError when the pipe is needed and broken."""
        data = encode_leases(leases) if leases else _NONE
        generation = self._generation
        if len(data) > self.capacity:
            # Before the header: a pulse that sees IN_PIPE has the message to read.
            _write_all(pipe, _FRAME.pack(len(data)) + data)
            _HEADER.pack_into(self._memory, 0, generation + 1, 0, 0)
            _HEADER.pack_into(self._memory, 0, generation + 2, IN_PIPE, 0)
        else:
            _HEADER.pack_into(self._memory, 0, generation + 1, 0, 0)
            self._memory[_HEADER.size : _HEADER.size + len(data)] = data
            crc = _NONE_CRC if data is _NONE else zlib.crc32(data)
            _HEADER.pack_into(self._memory, 0, generation + 2, len(data), crc)
        self._generation = generation + 2

    def read(self) -> list[Lease] | int | None:
        """What the board holds (in the pulse): the leases; :data:`IN_PIPE` when the newest list
        is the pipe's last message; None when no whole write could be read (the caller keeps
        what it read before). An empty list: no job runs (also before the first write)."""
        for _ in range(_READ_TRIES):
            generation, length, crc = _HEADER.unpack_from(self._memory, 0)
            if generation % 2:
                os.sched_yield()  # the worker is mid-write: let it finish
                continue
            if length == IN_PIPE:
                return IN_PIPE
            if length > self.capacity:
                continue  # a header read half written
            data = self._memory[_HEADER.size : _HEADER.size + length]
            if _HEADER.unpack_from(self._memory, 0)[0] != generation or zlib.crc32(data) != crc:
                continue
            return decode_leases(data) if data else []
        return None

    def close(self) -> None:
        """Unmap the board (each process unmaps its own view)."""
        self._memory.close()
