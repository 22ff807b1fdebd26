"""Run the real hub (``ccpor-hub serve``: gunicorn), the mock DOJ switch (``ccpor-hub mock-doj``),
the mock court (``ccpor-hub mock-court serve``) and the CARPOS gateway (``ccpor-hub gateway``) as
child processes: used by the demo, the benchmarks and the functional tests, so all of them exercise
exactly what operators run."""

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
from hub.clock import utcnow
from hub.contract import dsp917_binding


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


def development_tls(directory: Path, *, mutual: bool = False, days: int = 1) -> Tls:
    """A throwaway TLS set in ``directory`` for the demo and the tests: a CA (its key is not kept), a
    server certificate for 127.0.0.1 and localhost, and with ``mutual`` a client certificate
    ("sheriff-rms", the one in :class:`Tls`), one tied to no account ("stranger"), a court case
    system's ("court-faccts") and the hub gateway's for courts ("ccpor-gateway"), all from that CA
    (``DIR/NAME.pem``, ``DIR/NAME.key``). EC P-256.

    The server's and clients' private keys are written unencrypted (gunicorn's ``--keyfile`` takes no
    passphrase), mode 0600, in a directory the caller throws away: development only -- production
    certificates come from the court's PKI and live where its operations keep them.
    """
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = utcnow()

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write(stem: str, key: ec.EllipticCurvePrivateKey | None, cert: x509.Certificate) -> tuple[Path, Path]:
        pem, key_file = directory / f"{stem}.pem", directory / f"{stem}.key"
        pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        if key is not None:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(
                    key.private_bytes(
                        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                    )
                )
        return pem, key_file

    def certificate(cn: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        certificate("CCPOR development CA", ca_key, name("CCPOR development CA"))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, _ = write("ca", None, ca)

    def leaf(cn: str, usage: x509.ObjectIdentifier, names: list[x509.GeneralName]) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = certificate(cn, key, ca.subject).add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return write(cn, key, builder.sign(ca_key, hashes.SHA256()))

    loopback = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    cert, key = leaf("hub", ExtendedKeyUsageOID.SERVER_AUTH, loopback)
    if not mutual:
        return Tls(cert=cert, key=key, ca=ca_pem)
    client_cert, client_key = leaf("sheriff-rms", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    leaf("stranger", ExtendedKeyUsageOID.CLIENT_AUTH, [])  # issued by the CA, tied to no account
    leaf("court-faccts", ExtendedKeyUsageOID.CLIENT_AUTH, [])  # a court's case system (DSP917)
    leaf("ccpor-gateway", ExtendedKeyUsageOID.CLIENT_AUTH, [])  # the hub's, to courts requiring mutual TLS
    return Tls(cert=cert, key=key, ca=ca_pem, client_ca=ca_pem, client_cert=client_cert, client_key=client_key)


def cli_path() -> str:
    return str(Path(sys.executable).with_name("ccpor-hub"))


def carpos_environment(data_dir: Path, *, switch_port: int | None = None) -> dict[str, str]:
    """Settings for a development hub, switch and gateway sharing ``data_dir``: the hub's master key,
    a development key set (``keys init``) in ``data_dir/carpos-keys``, the switch's data in
    ``data_dir/doj`` and its address. Made once; later calls only return the settings."""
    key_dir, doj_dir = data_dir / "carpos-keys", data_dir / "doj"
    port = switch_port or free_port()
    env = {
        "CCPOR_DATA_DIR": str(data_dir),
        "CCPOR_CARPOS_KEY_DIR": str(key_dir),
        "CCPOR_DOJ_DATA_DIR": str(doj_dir),
        "CCPOR_DOJ_URL": f"http://127.0.0.1:{port}/doj/switch",
        "CCPOR_DOJ_PORT": str(port),
    }
    if not (key_dir / "hub.pem").exists():
        master = data_dir / "master.key"
        if not master.exists():
            masterkey.create(master)
        subprocess.run(  # noqa: S603 - our own CLI
            [cli_path(), "keys", "init", str(key_dir)], env={**os.environ, **env}, check=True, capture_output=True
        )
    return env


class _Child:
    """A child process with its output in a log file; stopped at exit whatever happens."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.argv = argv
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        atexit.register(self.stop)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603

    def died(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.argv[1]} exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no cleanup at all (the crash the reliability tests need)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 30.0) -> int:
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


def _wait_healthy(child: _Child, url: str, timeout: float, context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # readiness poll: the server answers or has died
        child.died()
        try:
            with urllib.request.urlopen(url, timeout=1, context=context) as r:  # noqa: S310
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{child.argv[1]} did not answer within {timeout}s:\n{child.log.read_text()[-3000:]}")


class SwitchServer(_Child):
    """The mock DOJ switch on the port of ``env["CCPOR_DOJ_PORT"]`` (see :func:`carpos_environment`)."""

    def __init__(self, env: dict[str, str], workers: int = 2, **extra: str) -> None:
        self.port = int(env["CCPOR_DOJ_PORT"])
        self.url = env["CCPOR_DOJ_URL"]
        log = Path(env["CCPOR_DOJ_DATA_DIR"])
        log.mkdir(parents=True, exist_ok=True)
        argv = [cli_path(), "mock-doj", "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)]
        super().__init__(argv, {**os.environ, **env, **extra}, log / "switch.log")

    def start(self, timeout: float = 90.0) -> SwitchServer:
        self.spawn()
        _wait_healthy(self, f"http://127.0.0.1:{self.port}/health", timeout)
        return self


class CourtServer(_Child):
    """The mock court's DSP917CAJUDResp service on a free loopback port, its data (SQLite database,
    log) in ``data_dir``; it expects the hub's UsernameToken with ``username`` and ``password``.
    ``env`` adds or overrides settings (``CCPOR_COURT_DATABASE_URL`` for PostgreSQL, ...). Read and
    change what it holds with ``mocks.court.store.CourtStore.existing(court.database_url)``."""

    def __init__(
        self,
        data_dir: Path,
        password: str,
        username: str = "ccpor-hub",
        workers: int = 2,
        *,
        tls: Tls | None = None,
        **env: str,
    ) -> None:
        self.port = free_port()
        self.tls = tls
        scheme = "https" if tls else "http"
        #: The service's full URL: the path of the official concrete WSDL's address.
        self.url = f"{scheme}://127.0.0.1:{self.port}{dsp917_binding('DSP917CAJUDResp').path}"
        self.database_url = env.get("CCPOR_COURT_DATABASE_URL") or f"sqlite:///{(data_dir / 'court.db').resolve()}"
        data_dir.mkdir(parents=True, exist_ok=True)
        environment = {
            **os.environ,
            "CCPOR_COURT_DATA_DIR": str(data_dir),
            "CCPOR_COURT_USERNAME": username,
            "CCPOR_COURT_PASSWORD": password,
            **env,
            "CCPOR_COURT_DATABASE_URL": self.database_url,
        }
        argv = [cli_path(), "mock-court", "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)]
        super().__init__(argv + (tls.serve_args() if tls else []), environment, data_dir / "court.log")

    @property
    def wsdl(self) -> str:
        return f"{self.url}?wsdl"

    def start(self, timeout: float = 90.0) -> CourtServer:
        self.spawn()
        scheme, context = ("https", self.tls.client_context()) if self.tls else ("http", None)
        _wait_healthy(self, f"{scheme}://127.0.0.1:{self.port}/health", timeout, context)
        return self


class GatewayProcess(_Child):
    """``ccpor-hub gateway`` against the hub database and switch of ``env``."""

    READY = b"CARPOS gateway "
    COMMAND: tuple[str, ...] = ("gateway",)

    def __init__(self, env: dict[str, str], name: str = "gateway", *options: str, **extra: str) -> None:
        data_dir = Path(env["CCPOR_DATA_DIR"])
        argv = [cli_path(), *self.COMMAND, *options]
        super().__init__(argv, {**os.environ, **env, **extra}, data_dir / f"{name}.log")

    def start(self, timeout: float = 90.0) -> GatewayProcess:
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # readiness poll: its start line is in the log, or it died
            self.died()
            with self.log.open("rb") as log:
                log.seek(offset)
                if self.READY in log.read():
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"the gateway did not start within {timeout}s:\n{self.log.read_text()[-3000:]}")


class WorkerProcess(GatewayProcess):
    """``ccpor-hub worker [--only PARTS]`` (``options``) against the hub database of ``env``."""

    READY = b": jobs "
    COMMAND = ("worker",)


class HubServer(_Child):
    """A hub process on a free loopback port, with its own data directory and database."""

    def __init__(
        self, data_dir: Path, database_url: str = "", workers: int = 2, tls: Tls | None = None, **env: str
    ) -> None:
        self.port = free_port()
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.workers = workers
        environment = {**os.environ, "CCPOR_DATA_DIR": str(data_dir), "CCPOR_DATABASE_URL": database_url, **env}
        argv = [cli_path(), "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)]
        super().__init__(argv + (tls.serve_args() if tls else []), environment, data_dir / "server.log")
        key_file = Path(environment.get("CCPOR_MASTER_KEY_FILE") or data_dir / "master.key")
        if not key_file.exists():  # a development/test hub gets its own key; operators make theirs
            masterkey.create(key_file)

    @property
    def wsdl(self) -> str:
        return f"{self.url}/ws/orders?wsdl"

    def start(self, timeout: float = 90.0) -> HubServer:
        self.spawn()
        _wait_healthy(self, f"{self.url}/health", timeout, self.tls.client_context() if self.tls else None)
        return self


class HubRun(_Child):
    """``ccpor-hub run --mock-doj``: hub, worker and mock switch as one process tree (the demo), on a
    free loopback port; the switch on ``env["CCPOR_DOJ_PORT"]`` (:func:`carpos_environment`)."""

    def __init__(self, data_dir: Path, env: dict[str, str], tls: Tls | None = None, workers: int = 2) -> None:
        self.port = free_port()
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        argv = [cli_path(), "run", "--mock-doj", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)]
        argv += ["--doj-port", env["CCPOR_DOJ_PORT"], *(tls.serve_args() if tls else [])]
        super().__init__(argv, {**os.environ, **env, "CCPOR_DATA_DIR": str(data_dir)}, data_dir / "run.log")

    @property
    def wsdl(self) -> str:
        return f"{self.url}/ws/orders?wsdl"

    def start(self, timeout: float = 120.0) -> HubRun:
        self.spawn()
        _wait_healthy(self, f"{self.url}/health", timeout, self.tls.client_context() if self.tls else None)
        return self
