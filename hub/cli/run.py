"""``ccpor-hub run [--mock-doj]``: the whole hub on one machine -- the SOAP server (``serve``), the
worker (``worker``: the CARPOS exchange and every scheduled job) and, with ``--mock-doj``, the mock
DOJ switch with a development key set -- started together, stopped together.

The embedded default's one command: it migrates the database first, then starts each part as its
own process (their output is this terminal's), waits until the hub answers ``/health``, and says
where it is. Ctrl-C, a hang-up or SIGTERM to this process stops every part cleanly with SIGTERM
(requests and batches in flight finish; each part runs in its own session, so the terminal's
signals reach only ``run``); a part whose ``run`` was killed outright gets SIGTERM from the kernel;
if one part exits on its own, the others are stopped and ``run`` exits 1 naming it. For several
machines, run ``serve`` and ``worker`` apart.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import time
import urllib.request

from hub.cli.common import Exit, master_key, settings
from hub.cli.processes import add_tls_arguments

#: How long a part may take to stop after the signal before it is killed.
STOP_SECONDS = 40.0


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("run", help="hub, worker (and --mock-doj: the mock DOJ switch) together; Ctrl-C stops all")
    r.add_argument("--bind", default="127.0.0.1:8080")
    r.add_argument("--workers", type=int, default=2, help="the hub's gunicorn workers")
    r.add_argument(
        "--mock-doj",
        action="store_true",
        help="also run the mock DOJ switch (a development CARPOS key set is made in $CCPOR_DATA_DIR if missing)",
    )
    r.add_argument("--doj-port", type=int, default=8090, help="the mock switch's loopback port")
    add_tls_arguments(r)
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hub.db import migrate
    from hub.runner import cli_path

    config = settings()
    env = dict(os.environ)
    if args.mock_doj:
        from hub.runner import carpos_environment

        env |= carpos_environment(config.data_dir.resolve(), switch_port=args.doj_port)
    master_key()  # the hub and the worker refuse to start without it: say so once, here
    migrate.upgrade(config.resolved_database_url)
    tls = ["--tls-cert", args.tls_cert, "--tls-key", args.tls_key] if args.tls_cert or args.tls_key else []
    tls += ["--client-ca", args.client_ca] if args.client_ca else []
    parts: list[tuple[str, list[str]]] = []
    if args.mock_doj:
        parts.append(("mock DOJ switch", [cli_path(), "mock-doj", "serve", "--bind", f"127.0.0.1:{args.doj_port}"]))
    parts.append(("hub", [cli_path(), "serve", "--bind", args.bind, "--workers", str(args.workers), *tls]))
    parts.append(("worker", [cli_path(), "worker"]))
    return Parts(parts, env, mutual_tls=bool(args.client_ca)).run(
        f"{'https' if args.tls_cert else 'http'}://{args.bind}"
    )


def _die_with_parent() -> None:
    """In each part, before it starts (Linux): SIGTERM when ``run`` itself dies, even by SIGKILL, so
    no part is left holding its port."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Parts:
    """The child processes of ``run``: started in order, watched, stopped together."""

    def __init__(self, parts: list[tuple[str, list[str]]], env: dict[str, str], *, mutual_tls: bool = False) -> None:
        self.parts = parts
        self.mutual_tls = mutual_tls
        self.env = env
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stopping = False

    def run(self, url: str) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._stop_signal)
        try:
            for name, argv in self.parts:
                # Each part in its own session: a Ctrl-C (SIGINT to the terminal's process group) or a
                # hang-up reaches this process alone, which stops the parts with SIGTERM -- gunicorn's
                # graceful stop; SIGINT would be its quick one, cutting requests in flight.
                proc = subprocess.Popen(argv, env=self.env, start_new_session=True, preexec_fn=_die_with_parent)  # noqa: S603, PLW1509 - our own CLI; no threads here
                self.procs.append((name, proc))
                if name == "hub":
                    self._wait_ready(url)
            pids = ", ".join(f"{name} {proc.pid}" for name, proc in self.procs)
            print(f"ccpor-hub run: the hub is at {url}/ws/orders?wsdl ({pids}); Ctrl-C stops all", flush=True)
            while not self.stopping:
                for name, proc in self.procs:
                    if proc.poll() is not None and not self.stopping:
                        self.stop()
                        raise Exit(f"the {name} exited with status {proc.returncode}: every part was stopped")
                time.sleep(0.2)
        finally:
            self.stop()
        return 0

    def _stop_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def _wait_ready(self, url: str, timeout: float = 60.0) -> None:
        """Until the hub answers ``/health`` -- or, when it requires client certificates (mutual TLS,
        which this process has none for), accepts connections on its port."""
        import socket
        import ssl
        from urllib.parse import urlsplit

        context = ssl._create_unverified_context()  # noqa: S323 - our own child on the bound address, readiness only
        deadline = time.monotonic() + timeout
        health = url.replace("0.0.0.0", "127.0.0.1") + "/health"  # noqa: S104 - reaching a wildcard bind locally
        address = urlsplit(health)
        while time.monotonic() < deadline and not self.stopping:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise Exit(f"the {name} exited with status {proc.returncode} while starting")
            try:
                if self.mutual_tls:
                    socket.create_connection((address.hostname, address.port), timeout=1).close()
                    return
                with urllib.request.urlopen(health, timeout=1, context=context) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        if not self.stopping:
            raise Exit(f"the hub did not answer {health} within {timeout:g} s")

    def stop(self) -> None:
        """SIGTERM to every part still running (in reverse order), then wait; kill what will not stop."""
        self.stopping = True
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
