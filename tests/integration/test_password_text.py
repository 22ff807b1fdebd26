"""PasswordText only over TLS (docs/SECURITY.md, Authentication 4): what counts as TLS -- a TLS
connection, or a configured reverse proxy saying it terminated TLS -- and the development setting
for loopback callers. Through the whole WSGI application in-process, so the transport details
(peer address, forwarded header) can be set exactly; tests/functional/test_tls.py shows the same
over real sockets."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub import masterkey
from hub.accounts.service import ACCOUNT_SECRETS, add_user
from hub.api.app import Services, create_app
from hub.codes import Role
from hub.settings import Settings
from tests.conftest import PASSWORD
from tests.support.audit import events_after, head
from tests.support.orders import SVC, envelope
from tests.support.wsgi import call, fault_of

SEARCH = [("Criteria", {"PersonSurName": "X%"}, SVC)]


@dataclass
class Hub:
    url: str
    apps: dict[str, Any]

    def search(self, app: str, *, digest: bool = False, **environ: str) -> tuple[str, str] | None:
        user = "digest-dms" if digest else "clerk"
        body = envelope("SearchOrders", SEARCH, username=user, password=PASSWORD, digest=digest)
        return fault_of(call(self.apps[app], body, **environ)[1])

    def failed_logons(self) -> int:
        engine = sa.create_engine(self.url)
        with engine.connect() as conn:
            count = conn.execute(sa.text("select failed_logons from accounts where username = 'clerk'")).scalar_one()
        engine.dispose()
        return int(count)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Hub]:
    data = tmp_path_factory.mktemp("tls-rule")
    shutil.copy(sqlite_template, data / "hub.db")
    key = masterkey.create(data / "master.key")
    url = f"sqlite:///{data / 'hub.db'}"
    built = {
        "production": Services.build(Settings(data_dir=data, database_url=url)),
        "behind a proxy": Services.build(Settings(data_dir=data, database_url=url, trusted_proxies=("10.0.0.0/8",))),
        "development": Services.build(Settings(data_dir=data, database_url=url, dev_password_text_over_http=True)),
    }
    db = built["production"].db
    with db.unit_of_work() as s:
        add_user(s, "clerk", ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
        add_user(s, "digest-dms", ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD,
                 digest_sealer=key.sealer(ACCOUNT_SECRETS))  # fmt: skip
    yield Hub(url, {name: create_app(services) for name, services in built.items()})
    for services in built.values():
        services.db.dispose()


def test_passwordtext_over_plain_http_is_refused_before_the_password_is_tried(hub: Hub):
    before = head(hub.url)
    code, message = hub.search("production")
    assert code == "Client.Authentication" and "only over TLS" in message
    assert hub.failed_logons() == 0  # never tried, so never counted towards the lockout
    (event,) = events_after(hub.url, before)
    assert (event.category, event.username, event.outcome) == ("LOGON", "clerk", "Client.Authentication")


def test_passworddigest_needs_no_tls(hub: Hub):
    assert hub.search("production", digest=True) is None


@pytest.mark.parametrize(
    ("app", "environ", "accepted"),
    [
        ("production", {"HTTP_X_FORWARDED_PROTO": "https"}, False),  # anyone can send the header
        ("behind a proxy", {"REMOTE_ADDR": "10.20.30.40", "HTTP_X_FORWARDED_PROTO": "https"}, True),
        ("behind a proxy", {"REMOTE_ADDR": "10.20.30.40"}, False),  # the proxy says it was plain HTTP
        ("behind a proxy", {"REMOTE_ADDR": "10.20.30.40", "HTTP_X_FORWARDED_PROTO": "http"}, False),
        ("behind a proxy", {"REMOTE_ADDR": "192.168.1.9", "HTTP_X_FORWARDED_PROTO": "https"}, False),
        ("development", {}, True),  # loopback, with the development setting
        ("development", {"REMOTE_ADDR": "::1"}, True),
        ("development", {"REMOTE_ADDR": "10.20.30.40"}, False),  # the setting never reaches beyond loopback
        # A dual-stack bind shows IPv4 peers as IPv4-mapped IPv6 addresses: the same peers.
        ("behind a proxy", {"REMOTE_ADDR": "::ffff:10.20.30.40", "HTTP_X_FORWARDED_PROTO": "https"}, True),
        ("behind a proxy", {"REMOTE_ADDR": "::ffff:192.168.1.9", "HTTP_X_FORWARDED_PROTO": "https"}, False),
        ("development", {"REMOTE_ADDR": "::ffff:127.0.0.1"}, True),
        ("development", {"REMOTE_ADDR": "::ffff:10.20.30.40"}, False),
    ],
)
def test_what_counts_as_tls(hub: Hub, app: str, environ: dict[str, str], accepted: bool):
    fault = hub.search(app, **environ)
    assert (fault is None) == accepted, fault
    if not accepted:
        assert fault is not None and "only over TLS" in fault[1]


@pytest.mark.parametrize(("proxies", "trusted"), [("", ""), ("10.0.0.5, 10.1.0.0/16", "10.0.0.5,10.1.0.0/16")])
def test_gunicorn_believes_forwarded_headers_from_the_configured_proxies_only(monkeypatch, proxies, trusted):
    """gunicorn's own default trusts X-Forwarded-* from loopback; `ccpor-hub serve` hands it the
    hub's list instead (empty: nobody), so its idea of the scheme agrees with the hub's."""
    from hub.cli.processes import gunicorn

    monkeypatch.setenv("CCPOR_TRUSTED_PROXIES", proxies)
    argv = gunicorn("127.0.0.1:8443", 2, "hub.server:wsgi_app()")
    assert argv[argv.index("--forwarded-allow-ips") + 1] == trusted
