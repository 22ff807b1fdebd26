"""The ccpor-hub command line: migrations, accounts, serving, WSDL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import zeep
from zeep.wsse.username import UsernameToken

from hub.runner import HubServer
from tests.functional.conftest import LOOPBACK_PASSWORD_TEXT
from tests.support.orders import order

CLI = str(Path(sys.executable).with_name("ccpor-hub"))


def run(*args: str, data_dir: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "CCPOR_DATA_DIR": str(data_dir), **env},
    )


@pytest.mark.functional
@pytest.mark.parametrize(
    ("command", "variable", "value", "expected"),
    [
        (["serve"], "CCPOR_PAGE_SIZE", "ten", "an integer"),
        (["gateway"], "CCPOR_GATEWAY_POLL_SECONDS", "soon", "a number"),
        (["mock-doj"], "CCPOR_DOJ_ERROR_RATE", "1.5", "a share between 0 and 1"),
        (
            ["db", "upgrade"],
            "CCPOR_DEV_ALLOW_PASSWORD_TEXT_OVER_HTTP",
            "maybe",
            "1 or 0 (or true/false, yes/no, on/off)",
        ),
        (["demo"], "CCPOR_TRUSTED_PROXIES", "proxy.local", "IP addresses or networks, comma-separated"),
    ],
)
def test_a_wrong_setting_stops_a_command_with_its_name_and_no_traceback(
    tmp_path: Path, command, variable, value, expected
):
    done = run(*command, data_dir=tmp_path, **{variable: value})
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {variable}: expected {expected}") and done.stderr.endswith(
        f", got {value!r}\n"
    )
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.functional
def test_fresh_hub_from_the_command_line(tmp_path: Path):
    assert run("db", "upgrade", data_dir=tmp_path).returncode == 0
    assert run("db", "upgrade", data_dir=tmp_path).returncode == 0  # idempotent
    assert run("db", "check", data_dir=tmp_path).returncode == 0
    secret = "a long demo passphrase"  # noqa: S105 - test account
    keyless = run("users", "add", "u", "--org", "CA019015J", "--role", "QUERY_ONLY", data_dir=tmp_path, stdin=secret)
    assert keyless.returncode == 1 and "ccpor-hub keys master" in keyless.stderr
    assert run("serve", data_dir=tmp_path).returncode == 1  # refuses to start without its key
    made_key = run("keys", "master", data_dir=tmp_path)
    assert made_key.returncode == 0 and (tmp_path / "master.key").stat().st_mode & 0o077 == 0
    assert run("keys", "master", data_dir=tmp_path).returncode == 1  # never overwritten
    made = run(
        "users",
        "add",
        "dms-la",
        "--org",
        "CA019015J",
        "--role",
        "QUERY_UPDATE",
        "--clets",
        data_dir=tmp_path,
        stdin=secret + "\n",
    )
    assert made.returncode == 0, made.stderr
    assert "dms-la" in made.stdout and secret not in made.stdout
    dup = run(
        "users", "add", "dms-la", "--org", "CA019015J", "--role", "QUERY_ONLY", data_dir=tmp_path, stdin=secret + "\n"
    )
    assert dup.returncode == 1 and "already exists" in dup.stderr
    assert (
        run(
            "users", "add", "x", "--org", "CA019015J", "--role", "KING", data_dir=tmp_path, stdin=secret + "\n"
        ).returncode
        == 2
    )
    bad_org = run(
        "users", "add", "y", "--org", "CA099ABCD", "--role", "QUERY_ONLY", data_dir=tmp_path, stdin=secret + "\n"
    )
    assert bad_org.returncode == 1 and "county code 99" in bad_org.stderr
    db_file = tmp_path / "ccpor.db"
    assert secret.encode() not in db_file.read_bytes()
    engine = sa.create_engine(f"sqlite:///{db_file}")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("select password_hash from accounts")).scalar_one()
    engine.dispose()
    assert stored.startswith("scrypt$")

    server = HubServer(tmp_path, **LOOPBACK_PASSWORD_TEXT)  # default SQLite file in the data dir
    server.env["PATH"] = "/usr/bin:/bin"
    server.start()
    try:
        client = zeep.Client(server.wsdl, wsse=UsernameToken("dms-la", secret))
        receipt = client.service.SubmitOrder(Order=order())
        assert receipt.OrderStatus == "ACTIVE"
        client.transport.session.close()
    finally:
        assert server.stop() == 0  # SIGTERM: graceful shutdown, clean exit
    log = server.log.read_text()
    assert "Shutting down" in log and secret not in log

    admin = ("users", "add", "jc-admin", "--org", "CA019015J", "--role", "ADMINISTRATOR")
    assert run(*admin, data_dir=tmp_path, stdin=secret).returncode == 0  # the expiry is recorded in its name
    expire = run("orders", "expire", data_dir=tmp_path)  # the daily job: nothing due, and audited all the same
    assert expire.returncode == 0 and "0 order(s) expired" in expire.stdout, expire.stderr
    # Five operator actions (three done, two refused) and one call were audited, in one intact chain ...
    verified = run("audit", "verify", data_dir=tmp_path)
    assert verified.returncode == 0 and "6 events checked" in verified.stdout, verified.stdout + verified.stderr
    engine = sa.create_engine(f"sqlite:///{db_file}")
    with engine.connect() as conn:
        last = conn.execute(sa.text("select category, operation, outcome from audit_events order by seq desc")).first()
    engine.dispose()
    assert tuple(last) == ("ADMIN", "orders expire", "OK")
    head = verified.stdout.split("head: ")[1].strip()  # what an operator keeps outside the database
    assert run("audit", "verify", "--anchor", head, data_dir=tmp_path).returncode == 0
    short = run("audit", "purge", "--older-than-days", "30", data_dir=tmp_path)
    assert short.returncode == 2 and "at least 365 days" in short.stderr  # CJIS AU-11
    assert "purged 0 audit event(s)" in run("audit", "purge", data_dir=tmp_path).stdout
    # ... which shows an edited event.
    engine = sa.create_engine(f"sqlite:///{db_file}")
    with engine.begin() as conn:
        conn.execute(sa.text("update audit_events set username = 'someone-else' where seq = 3"))
    engine.dispose()
    broken = run("audit", "verify", data_dir=tmp_path)
    assert broken.returncode == 3 and "event 3: the event was changed" in broken.stderr, broken.stderr
    assert run("audit", "verify", "--anchor", head, data_dir=tmp_path).returncode == 3


def test_wsdl_command_prints_the_contract(tmp_path: Path):
    out = subprocess.run([CLI, "wsdl"], capture_output=True, timeout=60)
    assert out.returncode == 0 and out.stdout == (Path(__file__).parents[2] / "wsdl" / "ccpor-orders.wsdl").read_bytes()


def test_the_demo_runs_to_a_clean_end(tmp_path: Path):
    """`make demo`'s session, in a scratch directory: every step works, the hub stops cleanly and
    the audit chain it leaves verifies."""
    out = subprocess.run([CLI, "demo"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "ccpor-hub run exited with status 0" in out.stdout, out.stdout[-3000:]  # hub, worker, switch stopped
    overview = out.stdout.split("signed in as jc-admin: the queue overview says ", 1)[1].split("\n", 1)[0]
    assert int(overview.split(" ACCEPTED")[0].split()[-1]) >= 3, overview  # the console saw what DOJ accepted
    assert "audit chain intact" in out.stdout
    assert "UnlockOrder CCP" in out.stdout and "Traceback" not in out.stderr
    # Entered in CARPOS: each order accepted with an FCN from the switch; a query found another agency's order.
    assert out.stdout.count(": CARPOS ACCEPTED after") == 3 and out.stdout.count("EPO -> ACK FCN ") == 3
    assert "ANSWERED: FCN " in out.stdout
    # A FACCTS court on DSP917: its notification accepted, the held sample, the court told both and the FCN.
    assert "ISB receipt: received: CCPOR order CCP" in out.stdout and "450100" in out.stdout
    responses = out.stdout.split("gets its business responses", 1)[1].split("\n==", 1)[0]
    assert "CorrelationId 130000217093" in responses and " FCN " in responses and "- 450100" in responses
    # The DMS adapter took a scan batch to CARPOS; the sheriff's RMS adapter completed a court draft.
    assert "(3-page TIFF attached): DOJ answered ACCEPTED" in out.stdout and "SENT  QUICK_ATTACH QAT" in out.stdout
    assert "submitted by the sheriff: CCP" in out.stdout and "DOJ answered ACCEPTED; it is no longer in" in out.stdout


def test_carpos_encode_prints_the_text_or_the_reasons(tmp_path: Path):
    from lxml import etree

    from tests.support.orders import order, order_element

    good = tmp_path / "order.xml"
    good.write_bytes(
        etree.tostring(
            order_element(order(CaseDocketID="24FL777"), tag="{urn:ca:courts:ccpor:order-profiles:1}ActiveOrder")
        )
    )
    out = run("carpos", "encode", str(good), "--oca", "CCP0000000007", data_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (
        out.stdout.startswith("EPO.ORI/CA019015J.OCA/CCP0000000007.NAM/MOUSE,MICKEY.") and ".PNO/24FL777." in out.stdout
    )
    mpo = run("carpos", "encode", str(good), "--mke", "MPO", data_dir=tmp_path)
    assert mpo.returncode == 1 and "REJECT - MANDATORY FIELD MISSING (FCN)" in mpo.stderr
    hostile = tmp_path / "hostile.xml"
    hostile.write_bytes(b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    refused = run("carpos", "encode", str(hostile), data_dir=tmp_path)
    assert refused.returncode == 1 and "DOCTYPE" in refused.stderr
