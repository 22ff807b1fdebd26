"""A running hub per database kind, with accounts of every role, shared by the functional tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import zeep
from zeep.wsse.username import UsernameToken

from hub import masterkey
from hub.accounts.service import ACCOUNT_SECRETS, add_user
from hub.audit import ADMIN, AuditTrail, Event
from hub.codes import Role
from hub.db import migrate
from hub.db.engine import Database
from hub.runner import GatewayProcess, HubServer, SwitchServer, Tls, carpos_environment
from tests.conftest import PASSWORD, empty_database

USERS = {
    "clerk": ("CA019015J", Role.QUERY_UPDATE),
    "sealed-clerk": ("CA019015J", Role.QUERY_UPDATE_SEALED),
    "reader": ("CA019015J", Role.QUERY_ONLY),
    "sealed-reader": ("CA0190000", Role.QUERY_ONLY_SEALED),
    "admin": ("CA019015J", Role.ADMINISTRATOR),
    "sd-clerk": ("CA037015J", Role.QUERY_UPDATE),
    "lockme": ("CA019015J", Role.QUERY_ONLY),
    "la-deputy": ("CA0190000", Role.QUERY_UPDATE),  # Los Angeles Sheriff: shared entry with LA courts
    "sd-deputy": ("CA0370000", Role.QUERY_UPDATE),  # San Diego Sheriff
    "or-deputy": ("CA0300000", Role.QUERY_UPDATE),  # Orange Sheriff
    # Imperial's FACCTS (court number 13, as in DSP917's official sample): a court's system account.
    "imperial-faccts": ("CA013013J", Role.QUERY_UPDATE_SEALED),
    "kern-faccts": ("CA015013J", Role.QUERY_UPDATE_SEALED),
}
#: CLETS-certified accounts: they see what DOJ answers (/ws/carpos, GetOrder's CarposStatus).
CLETS_USERS = {
    "clets-clerk": ("CA019015J", Role.QUERY_UPDATE),
    "clets-reader": ("CA019015J", Role.QUERY_ONLY),
    "clets-sd-clerk": ("CA037015J", Role.QUERY_UPDATE),
    "clets-admin": ("CA019015J", Role.ADMINISTRATOR),
}


@dataclass
class RunningHub:
    server: HubServer
    db_url: str
    sessions: list[requests.Session] = field(default_factory=list)

    def client(
        self, user: str = "clerk", password: str = PASSWORD, huge: bool = False, digest: bool = False
    ) -> zeep.Client:
        # Sessions are kept and closed at teardown, so no socket is left for the garbage collector.
        session = requests.Session()
        self.sessions.append(session)
        # Partners fetching images over 10 MB need zeep's xml_huge_tree (libxml2's text-node cap).
        return zeep.Client(
            self.server.wsdl,
            wsse=UsernameToken(user, password, use_digest=digest),
            transport=zeep.Transport(session=session),
            settings=zeep.Settings(xml_huge_tree=huge),
        )

    def close(self) -> None:
        for session in self.sessions:
            session.close()

    @property
    def endpoint(self) -> str:
        return f"{self.server.url}/ws/orders"

    def admin_client(self, user: str = "admin", password: str = PASSWORD) -> zeep.Client:
        session = requests.Session()
        self.sessions.append(session)
        return zeep.Client(
            f"{self.server.url}/ws/admin?wsdl",
            wsse=UsernameToken(user, password),
            transport=zeep.Transport(session=session),
        )


#: The shared test hubs listen on plain HTTP on loopback, where PasswordText needs the development
#: setting (tests/functional/test_tls.py and tests/integration/test_password_text.py run without it).
LOOPBACK_PASSWORD_TEXT = {"CCPOR_DEV_ALLOW_PASSWORD_TEXT_OVER_HTTP": "1", "CCPOR_CONSOLE_REFRESH_SECONDS": "1"}

#: A system account allowed to use WS-Security PasswordDigest (its password is kept sealed).
DIGEST_USER = "digest-dms"


def _start_db(data_dir: Path, url: str = "") -> str:
    """Migrate ``url`` (default: a SQLite file in ``data_dir``), create the data directory's master
    key and the test accounts -- each audited as ``users add`` would, so the chain vouches for them."""
    url = url or f"sqlite:///{data_dir / 'hub.db'}"
    migrate.upgrade(url)
    key_file = data_dir / "master.key"
    key = masterkey.load(key_file) if key_file.exists() else masterkey.create(key_file)
    trail = AuditTrail(key)
    db = Database(url)
    accounts = [(name, ori, role, False) for name, (ori, role) in USERS.items()]
    accounts += [(name, ori, role, True) for name, (ori, role) in CLETS_USERS.items()]
    accounts.append((DIGEST_USER, "CA019015J", Role.QUERY_UPDATE, False))
    for name, ori, role, clets in accounts:
        with db.unit_of_work() as s:
            # System accounts (the DMS, the courts' FACCTS) may prove themselves with PasswordDigest.
            sealer = key.sealer(ACCOUNT_SECRETS) if name == DIGEST_USER or name.endswith("-faccts") else None
            add_user(s, name, ori=ori, role=role, clets=clets, password=PASSWORD, digest_sealer=sealer)
            event = Event(datetime.now(UTC), "cli:tests", "", "users add", "OK", name, "local", category=ADMIN)
            trail.record(s.connection(), event)
    db.dispose()
    return url


def _start(data_dir: Path, url: str) -> HubServer:
    return HubServer(data_dir, _start_db(data_dir, url), **LOOPBACK_PASSWORD_TEXT).start()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    data_dir = tmp_path_factory.mktemp(f"hub-{request.param}")
    with empty_database(request.param, data_dir) as url:
        server = _start(data_dir, url)
        running = RunningHub(server, url)
        yield running
        running.close()
        server.stop()
    shutil.rmtree(data_dir / "images", ignore_errors=True)


@dataclass
class CarposWorld:
    """The hub, the mock DOJ switch and the CARPOS gateway as separate processes on one database."""

    running: RunningHub
    env: dict[str, str]
    switch: SwitchServer
    gateway: GatewayProcess

    def client(self, user: str = "clets-clerk") -> zeep.Client:
        return self.running.client(user)

    @contextmanager
    def switch_with(self, workers: int = 2, **faults: str) -> Iterator[SwitchServer]:
        """The switch restarted with ``faults`` (its data kept; the hub and the gateway stay up), and
        restarted as it was afterwards: a test gets a slow or odd DOJ without a world of its own."""
        usual = self.switch
        usual.stop()
        self.switch = SwitchServer(usual.env, workers, **faults).start()
        try:
            yield self.switch
        finally:
            self.switch.stop()
            self.switch = usual.start()

    def carpos_client(self, user: str = "clets-clerk", password: str = PASSWORD) -> zeep.Client:
        session = requests.Session()
        self.running.sessions.append(session)
        return zeep.Client(
            f"{self.running.server.url}/ws/carpos?wsdl",
            wsse=UsernameToken(user, password),
            transport=zeep.Transport(session=session),
        )


def carpos_processes(
    data_dir: Path, url: str, **switch_env: str
) -> tuple[dict[str, str], SwitchServer, GatewayProcess]:
    """Keys, the switch and the gateway for a hub whose database is ``url`` (started)."""
    env = {**carpos_environment(data_dir), "CCPOR_DATABASE_URL": url, "CCPOR_GATEWAY_POLL_SECONDS": "0.5"}
    switch = SwitchServer(env, CCPOR_DOJ_SEED_RECORDS="60", **switch_env).start()
    gateway = GatewayProcess(env).start()
    return env, switch, gateway


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def carpos(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CarposWorld]:
    data_dir = tmp_path_factory.mktemp(f"carpos-{request.param}")
    with empty_database(request.param, data_dir) as url:
        carpos_environment(data_dir)  # the master key first: the accounts below use it
        server = HubServer(data_dir, _start_db(data_dir, url), **LOOPBACK_PASSWORD_TEXT)
        env, switch, gateway = carpos_processes(data_dir, url)
        server.env.update({k: v for k, v in env.items() if k != "CCPOR_DATA_DIR"})
        server.start()
        world = CarposWorld(RunningHub(server, url), env, switch, gateway)
        yield world
        world.running.close()
        for process in (gateway, server, switch):
            process.stop()


@dataclass
class PartnerWorld:
    """A hub of its own (HTTP, or HTTPS with ``tls``) with the DOJ switch and the gateway, for a
    partner adapter's module: it may stop and start the hub without disturbing the session's hubs."""

    root: Path
    hub: HubServer
    switch: SwitchServer
    gateway: GatewayProcess
    session: requests.Session
    tls: Tls | None = None

    def client(self, user: str = "clets-clerk") -> zeep.Client:
        return zeep.Client(
            self.hub.wsdl, wsse=UsernameToken(user, PASSWORD), transport=zeep.Transport(session=self.session)
        )


@contextmanager
def partner_world(
    data_dir: Path, tls: Tls | None = None, certificates: dict[str, Path] | None = None
) -> Iterator[PartnerWorld]:
    """The processes of :class:`PartnerWorld` on a fresh SQLite database in ``data_dir``;
    ``certificates``: account -> client certificate registered to it (``users set-cert``)."""
    import os
    import subprocess

    from hub.runner import cli_path

    carpos_environment(data_dir)
    url = _start_db(data_dir, "")
    hub = HubServer(data_dir, url, tls=tls, **({} if tls else LOOPBACK_PASSWORD_TEXT))
    env, switch, gateway = carpos_processes(data_dir, url)
    hub.env.update({k: v for k, v in env.items() if k != "CCPOR_DATA_DIR"})
    for account, certificate in (certificates or {}).items():
        done = subprocess.run(
            [cli_path(), "users", "set-cert", account, str(certificate)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "CCPOR_DATABASE_URL": url, "CCPOR_DATA_DIR": str(data_dir)},
        )
        assert done.returncode == 0, done.stderr
    hub.start()
    session = requests.Session()
    if tls is not None:  # a court's case system's certificate; REQUESTS_CA_BUNDLE would override the CA
        session.trust_env, session.verify = False, str(tls.ca)
        session.cert = (str(data_dir / "court-faccts.pem"), str(data_dir / "court-faccts.key"))
    try:
        yield PartnerWorld(data_dir, hub, switch, gateway, session, tls)
    finally:
        session.close()
        for process in (gateway, hub, switch):
            process.stop()
