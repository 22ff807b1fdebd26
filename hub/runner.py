"""Run the real hub (``ccpor-hub serve``: gunicorn) as a child process: used by the demo, the
benchmarks and the functional tests, so all three exercise exactly what operators run."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hub import masterkey


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Tls:
    """Files for serving HTTPS (``cert``, ``key``), trusting it (``ca``) and, for mutual TLS, the CA
    the server requires client certificates from and the client's own certificate and key."""

    cert: Path
    key: Path
    ca: Path
    client_ca: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None

    def serve_args(self) -> list[str]:
        args = ["--tls-cert", str(self.cert), "--tls-key", str(self.key)]
        return args + (["--client-ca", str(self.client_ca)] if self.client_ca else [])

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        if self.client_cert and self.client_key:
            context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context


class HubServer:
    """A hub process on a free loopback port, with its own data directory and database."""

    def __init__(
        self, data_dir: Path, database_url: str = "", workers: int = 2, tls: Tls | None = None, **env: str
    ) -> None:
        self.port = free_port()
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.log = data_dir / "server.log"
        self.env = {**os.environ, "CCPOR_DATA_DIR": str(data_dir), "CCPOR_DATABASE_URL": database_url, **env}
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        key_file = Path(self.env.get("CCPOR_MASTER_KEY_FILE") or data_dir / "master.key")
        if not key_file.exists():  # a development/test hub gets its own key; operators make theirs
            masterkey.create(key_file)

    @property
    def wsdl(self) -> str:
        return f"{self.url}/ws/orders?wsdl"

    def start(self, timeout: float = 30.0) -> HubServer:
        cli = Path(sys.executable).with_name("ccpor-hub")
        atexit.register(self.stop)  # never leave a server behind, even when the caller dies
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(cli), "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)]
                + (self.tls.serve_args() if self.tls else []),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # readiness poll: the server answers or has died
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                context = self.tls.client_context() if self.tls else None
                with urllib.request.urlopen(f"{self.url}/health", timeout=1, context=context) as r:  # noqa: S310
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"hub did not answer within {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (graceful) and wait; returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)
