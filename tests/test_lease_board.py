"""The lease board a worker shares with its pulse process (jq.worker.lease_board)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import termios
import threading

import fakeredis
import pytest

from jq.testing.helpers import wait_for
from jq.worker.lease_board import IN_PIPE, LeaseBoard, decode_leases, encode_leases, read_frames
from jq.worker.pulse import LeasePulse
from jq_backends.redis import RedisBroker

LEASES = [("default", "job-1", "exec-1"), ("high", "job-2", "exec-2")]


@pytest.fixture
def pipe():
    read_end, write_end = os.pipe()
    yield read_end, write_end
    os.close(read_end)
    os.close(write_end)


def test_a_new_board_holds_no_lease():
    assert LeaseBoard().read() == []


def test_what_the_worker_writes_is_what_the_pulse_reads(pipe):
    board = LeaseBoard()
    board.write(LEASES, pipe[1])
    assert board.read() == LEASES
    board.write([], pipe[1])
    assert board.read() == []
    board.write(LEASES[:1], pipe[1])
    assert board.read() == LEASES[:1]


def test_a_forked_reader_sees_the_writes_made_after_the_fork(pipe):
    board = LeaseBoard()
    done_read, done_write = os.pipe()
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the pulse's side: wait until told, then report what the board holds
        try:
            os.read(go_read, 1)
            os.write(done_write, repr(board.read()).encode())
        finally:
            os._exit(0)
    board.write(LEASES, pipe[1])
    os.write(go_write, b"x")
    seen = os.read(done_read, 4096).decode()
    os.waitpid(pid, 0)
    for fd in (done_read, done_write, go_read, go_write):
        os.close(fd)
    assert seen == repr(LEASES)


def test_a_write_seen_half_done_is_not_used(pipe):
    board = LeaseBoard()
    board.write(LEASES, pipe[1])
    memory = board._memory
    generation, length, crc = struct.unpack_from("<QII", memory, 0)
    # The writer stopped between marking the write and finishing it: an odd generation.
    struct.pack_into("<QII", memory, 0, generation + 1, length, crc)
    assert board.read() is None
    # A payload changed under a finished header (what a torn read looks like): its CRC fails.
    struct.pack_into("<QII", memory, 0, generation, length, crc)
    memory[16] = ord("{")
    assert board.read() is None
    # A header whose length is beyond the board (read half written).
    struct.pack_into("<QII", memory, 0, generation, board.capacity + 1, crc)
    assert board.read() is None


def test_leases_too_many_for_the_board_go_through_the_pipe(pipe):
    board = LeaseBoard(capacity=64)
    many = [("default", f"job-{n}", f"exec-{n}") for n in range(10)]
    board.write(many, pipe[1])
    assert board.read() == IN_PIPE
    messages, rest = read_frames(os.read(pipe[0], 65536))
    assert rest == b""
    assert [decode_leases(message) for message in messages] == [many]
    # A short list afterwards is on the board again.
    board.write(many[:1], pipe[1])
    assert board.read() == many[:1]


def test_leases_with_any_text_come_back_unchanged(pipe):
    board = LeaseBoard()
    odd = [('queue "with" quotes\n', "ünïcode-id", "exec,with,commas")]
    board.write(odd, pipe[1])
    assert board.read() == odd


def test_a_pulse_killed_from_outside_is_noticed_once(caplog):
    pulse = LeasePulse("w1", _broker(), interval=60, ttl=120, fork_guard=contextlib.nullcontext())
    pulse.start()
    try:
        assert pulse.check() is True
        pulse.running(LEASES)  # a board write: no system call that would notice anything
        os.kill(pulse.pid, signal.SIGKILL)
        os.waitid(os.P_PID, pulse.pid, os.WEXITED | os.WNOWAIT)  # dead, not reaped yet
        with caplog.at_level("WARNING", logger="jq.worker"):
            assert pulse.check() is False
            assert pulse.check() is False
        assert [r.getMessage() for r in caplog.records] == ["worker w1: the lease pulse process is gone"]
        pulse.running([])  # forgotten: nothing to tell, no error
    finally:
        pulse.stop()


def test_a_pulse_being_stopped_is_not_reported_gone(caplog):
    pulse = LeasePulse("w1", _broker(), 60, 120, contextlib.nullcontext())
    pulse.start()
    with caplog.at_level("WARNING", logger="jq.worker"):
        pid = pulse.pid
        pulse.stop()
        pulse.pid = pid  # the heartbeat thread read it just before stop() reaped the process
        assert pulse.check() is False
    assert not caplog.records


def _broker() -> RedisBroker:
    """A store for a pulse that never beats in these tests (its interval is a minute)."""
    return RedisBroker(fakeredis.FakeRedis())


def test_pipe_messages_are_read_whole_however_the_bytes_arrive():
    first, second = encode_leases(LEASES), encode_leases([("q", "j\n", "e")])
    stream = b"".join(len(m).to_bytes(4, "little") + m for m in (first, second))
    for cut in range(len(stream) + 1):
        messages, rest = read_frames(stream[:cut])
        more, rest = read_frames(rest + stream[cut:])
        assert [decode_leases(m) for m in messages + more] == [LEASES, [("q", "j\n", "e")]]
        assert rest == b""


def test_a_signal_during_a_long_pipe_write_does_not_cut_the_message():
    """A signal (a warm shutdown's SIGTERM) that reaches the worker while its write waits for the
    pulse to make room in the pipe ends the system call early: the rest must still be written,
    else the pulse reads the next message's bytes as this one's."""
    read_end, write_end = os.pipe()
    board = LeaseBoard(capacity=64)
    many = [("default", f"job-{n:06d}", f"exec-{n:06d}") for n in range(20000)]  # ~600 kB
    main = threading.get_ident()
    received = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: received.append(signum))
    got = bytearray()

    def pulse_side() -> None:
        # Once the pipe is full (the write waits), interrupt it; then read to end of file.
        assert wait_for(lambda: _unread(read_end) >= 4096, timeout=10)
        signal.pthread_kill(main, signal.SIGUSR1)
        while chunk := os.read(read_end, 1 << 20):
            got.extend(chunk)

    reader = threading.Thread(target=pulse_side)
    reader.start()
    try:
        board.write(many, write_end)
    finally:
        os.close(write_end)
        reader.join()
        os.close(read_end)
        signal.signal(signal.SIGUSR1, previous)
    assert received == [signal.SIGUSR1]
    messages, rest = read_frames(bytes(got))
    assert rest == b""
    assert [decode_leases(message) for message in messages] == [many]


def _unread(fd: int) -> int:
    """Bytes waiting in the pipe ``fd`` (FIONREAD)."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
