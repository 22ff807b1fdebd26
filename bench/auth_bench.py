"""The cost of authentication on SubmitOrder throughput: PasswordText, PasswordDigest, X.509.

    make bench-auth            (or: .venv/bin/python bench/auth_bench.py [--orders N] [--clients C])

One hub (`ccpor-hub serve`, gunicorn, 2 workers, fresh SQLite database) receives N prepared
SubmitOrder envelopes per mode from C concurrent clients, the modes interleaved in rounds so that
the machine's drift hits them alike:

- text: a UsernameToken with PasswordText (after the first call per worker, the verified-password
  cache answers, so this is the hub's cheapest authentication);
- digest: PasswordDigest with a fresh nonce each (sealed password opened, SHA-1, nonce recorded
  in the shared table in its own transaction);
- x509: a WS-Security X.509 signature over Body and Timestamp (RSA-2048, verified with signxml
  against the account's registered certificate).

Envelopes are built (and signed) before the clock starts; their Created times stay inside the
5-minute window. Results go to bench/results/auth.json.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.serialization import Encoding  # noqa: E402
from lxml import etree  # noqa: E402

from bench.loadgen import LOOPBACK, run  # noqa: E402
from hub import masterkey, ns  # noqa: E402
from hub.accounts.service import ACCOUNT_SECRETS, add_user, register_certificate  # noqa: E402
from hub.api.wsse import PASSWORD_DIGEST  # noqa: E402
from hub.api.wssig import sign_envelope  # noqa: E402
from hub.codes import Role  # noqa: E402
from hub.db import migrate  # noqa: E402
from hub.db.engine import Database  # noqa: E402
from hub.runner import HubServer  # noqa: E402
from tests.support.certs import self_signed  # noqa: E402
from tests.support.orders import envelope, order  # noqa: E402

PASSWORD = "benchmark passphrase 1"  # noqa: S105 - throwaway benchmark account
KEY, CERT = self_signed("bench RMS")


def _digest(body: bytes) -> bytes:
    """Turn the PasswordText token of ``body`` into a PasswordDigest one with a fresh nonce."""
    tree = etree.fromstring(body)
    token = tree.find(f".//{{{ns.WSSE}}}UsernameToken")
    nonce, created = os.urandom(16), datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    password = token.find(f"{{{ns.WSSE}}}Password")
    password.set("Type", PASSWORD_DIGEST)
    password.text = base64.b64encode(hashlib.sha1(nonce + created.encode() + PASSWORD.encode()).digest()).decode()  # noqa: S324
    etree.SubElement(token, f"{{{ns.WSSE}}}Nonce").text = base64.b64encode(nonce).decode()
    etree.SubElement(token, f"{{{ns.WSU}}}Created").text = created
    return etree.tostring(tree)


def _signed(body: bytes) -> bytes:
    tree = etree.fromstring(body)
    header = tree.find(f"{{{ns.SOAP11_ENV}}}Header")
    tree.remove(header)  # no UsernameToken: the signature is the credential
    return etree.tostring(sign_envelope(tree, KEY, CERT))


def bodies(mode: str, n: int, tag: str) -> list[bytes]:
    plain = [
        envelope("SubmitOrder", [("Order", order(CaseDocketID=f"{tag}{i:08d}"))], username="bench", password=PASSWORD)
        for i in range(n)
    ]
    return {"text": plain, "digest": [_digest(b) for b in plain], "x509": [_signed(b) for b in plain]}[mode]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--orders", type=int, default=1500, help="per mode and round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--clients", type=int, default=8)
    args = p.parse_args()

    data = Path(tempfile.mkdtemp(prefix="ccpor-auth-bench-"))
    url = f"sqlite:///{data / 'ccpor.db'}"
    migrate.upgrade(url)
    hub = HubServer(data, url, **LOOPBACK)  # creates the data directory's master key
    key = masterkey.load(data / "master.key")
    db = Database(url)
    with db.unit_of_work() as s:
        add_user(s, "bench", ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD,
                 digest_sealer=key.sealer(ACCOUNT_SECRETS))  # fmt: skip
        add_user(s, "bench-rms", ori="CA019015J", role=Role.QUERY_UPDATE, clets=False, password=PASSWORD)
        register_certificate(s, "bench-rms", CERT.public_bytes(Encoding.PEM))
    db.dispose()
    hub.start()
    results: dict[str, list[dict[str, float]]] = {"text": [], "digest": [], "x509": []}
    try:
        endpoint = f"{hub.url}/ws/orders"
        for mode in results:
            run(endpoint, bodies(mode, 200, f"W{mode[0]}{os.getpid()}"), args.clients)  # warm-up
        for r in range(args.rounds):
            for mode in results:
                load = bodies(mode, args.orders, f"R{r}{mode[0]}{os.getpid()}")
                result = run(endpoint, load, args.clients)
                if result.errors:
                    print(f"{mode}: {result.errors} errors", file=sys.stderr)
                    return 1
                results[mode].append(result.summary())
    finally:
        hub.stop()
    best = {mode: max(rounds, key=lambda s: s["per_second"]) for mode, rounds in results.items()}
    report = {
        "clients": args.clients,
        "orders_per_mode_and_round": args.orders,
        "best_round": best,
        "relative_to_text": {m: round(best[m]["per_second"] / best["text"]["per_second"], 2) for m in best},
        "all_rounds": results,
        "cpus": os.cpu_count(),
    }
    print(json.dumps({k: report[k] for k in ("best_round", "relative_to_text")}, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "auth.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
