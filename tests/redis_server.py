"""Start and stop private ``redis-server`` processes for tests.

Tests never touch a Redis they did not start: each server listens on a free loopback port, keeps
nothing on disk, and is killed at the end. Fault tests stop and restart one on the same port. A
server given :class:`TLSFiles` (see :func:`make_tls_files`) listens for TLS only.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.005
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


@dataclass(frozen=True)
class TLSFiles:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate it signed, and
    a second CA that signed nothing here (for wrong-CA tests). Paths to PEM files."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca_cert: Path
    other_client_cert: Path
    other_client_key: Path

    def query(self, *, ca: Path | None = None, client: bool = True) -> str:
        """The TLS query arguments of a ``rediss://`` URL: trust ``ca`` (this CA unless given),
        present this CA's client certificate with ``client``, require the server's certificate."""
        options = {"ssl_ca_certs": str(ca or self.ca_cert)}
        if client:
            options |= {"ssl_certfile": str(self.client_cert), "ssl_keyfile": str(self.client_key)}
        options["ssl_cert_reqs"] = "required"
        return urlencode(options, safe="/")

    def client_kwargs(self) -> dict[str, object]:
        """``redis.Redis`` keyword arguments for a TLS client that trusts this CA."""
        return {"ssl": True, "ssl_ca_certs": str(self.ca_cert), "ssl_cert_reqs": "required"}


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=30)


def _issue(directory: Path, name: str, subject: str, ca: tuple[Path, Path] | None) -> tuple[Path, Path]:
    """A P-256 key and a certificate valid one day: self-signed (a CA) or signed by ``ca``."""
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    new_key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key)
    if ca is None:
        _openssl("req", "-x509", *new_key, "-out", cert, "-days", "1", "-subj", subject)
        return cert, key
    request = directory / f"{name}.csr"
    _openssl("req", "-new", *new_key, "-out", request, "-subj", subject)
    extensions = directory / f"{name}.ext"
    # Python's ssl checks the server's name against subjectAltName only, never the CN.
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    serial = f"0x{secrets.token_hex(8)}"
    _openssl("x509", "-req", "-in", request, "-CA", ca[0], "-CAkey", ca[1], "-set_serial", serial,
             "-out", cert, "-days", "1", "-extfile", extensions)  # fmt: skip
    return cert, key


def make_tls_files(directory: Path) -> TLSFiles:
    """Generate a CA, a server and a client certificate, and a second, unrelated CA with a client
    certificate of its own, in ``directory`` (``openssl`` must be installed)."""
    ca = _issue(directory, "ca", "/CN=jq test CA", None)
    server = _issue(directory, "server", "/CN=127.0.0.1", ca)
    client = _issue(directory, "client", "/CN=jq test client", ca)
    other_ca = _issue(directory, "other-ca", "/CN=another CA", None)
    other_client = _issue(directory, "other-client", "/CN=a stranger", other_ca)
    return TLSFiles(
        ca_cert=ca[0],
        server_cert=server[0],
        server_key=server[1],
        client_cert=client[0],
        client_key=client[1],
        other_ca_cert=other_ca[0],
        other_client_cert=other_client[0],
        other_client_key=other_client[1],
    )


@dataclass
class RedisServer:
    """One private redis-server process on a loopback port (its TLS port when ``tls`` is given:
    it then takes no plain connections)."""

    port: int = field(default_factory=free_port)
    extra_args: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = None
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="jq-redis-"))
    tls: TLSFiles | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``, or with ``tls`` ``rediss://`` with the TLS options."""
        if self.tls is not None:
            return f"rediss://127.0.0.1:{self.port}/0?{self.tls.query()}"
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, **kwargs: object) -> redis.Redis:
        """A new client of this server (as the default user)."""
        if self.tls is not None:
            kwargs = {**self.tls.client_kwargs(), **kwargs}
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)  # type: ignore[arg-type]

    def _listen_args(self) -> list[str]:
        if self.tls is None:
            return ["--port", str(self.port)]
        tls = self.tls
        return [
            "--port", "0",
            "--tls-port", str(self.port),
            "--tls-cert-file", str(tls.server_cert),
            "--tls-key-file", str(tls.server_key),
            "--tls-ca-cert-file", str(tls.ca_cert),
            # A client certificate is checked when presented, and not required.
            "--tls-auth-clients", "optional",
        ]  # fmt: skip

    def _answers(self) -> bool:
        try:
            return bool(self.client(socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def _started(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server on port {self.port} exited with {self.process.returncode}")
        return self._answers()

    def start(self) -> RedisServer:
        """Start the server and wait until it answers PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; install it (apt install redis-server)")
        args = [
            binary,
            *self._listen_args(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.workdir,
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            *self.extra_args,
        ]
        log_path = os.path.join(self.workdir, "redis-server.log")
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until(self._started, 10.0, f"redis-server on port {self.port}")
        except (TimeoutError, RuntimeError) as error:
            # Never leave a server that did not come up running behind the test that asked.
            self.stop(kill=True)
            with open(log_path, "rb") as log:
                output = log.read().decode(errors="replace").strip()
            raise type(error)(f"{error}; redis-server said: {output or '(nothing)'}") from None
        return self

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGKILL with ``kill``) and wait for it to exit."""
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        """Stop the server and start it again on the same port, empty."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server and remove its working directory."""
        self.stop(kill=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


def short_socket_dir() -> str:
    """A new directory for a unix socket, under ``/tmp``: a socket's path must fit in ~104 bytes,
    and ``tempfile``'s default can be deep (nox points ``TMPDIR`` into its session folder)."""
    return tempfile.mkdtemp(prefix="jq-sock-", dir="/tmp")


def env_without_jq_url() -> dict[str, str]:
    """The environment for a child process, without a ``JQ_URL`` inherited from the test runner."""
    env = dict(os.environ)
    env.pop("JQ_URL", None)
    return env
