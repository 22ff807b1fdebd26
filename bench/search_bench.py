"""SearchOrders on 1,000,000 generated orders: prefix, suffix and `_` patterns, p50/p95.

    make bench-search     (or: .venv/bin/python bench/search_bench.py [--orders N] [--database-url URL])

Generates N orders (default 1,000,000) with a realistic surname distribution (a Zipf-weighted pool:
a few very common names, a long tail) straight into a fresh database with bulk INSERTs, starts
the real hub on it, and times SearchOrders over HTTP (prepared envelopes, one client, so each
figure is one request's latency including SOAP and the count + page queries). Runs on SQLite by
default; --database-url postgresql+psycopg://... for PostgreSQL. The database is kept between runs
of the same size (bench/results/search-*.db or the given PostgreSQL database) unless --fresh.
Writes bench/results/search-<db>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.loadgen import LOOPBACK, process_tree, rss_kib, run  # noqa: E402
from hub.accounts.service import add_user  # noqa: E402
from hub.codes import Role  # noqa: E402
from hub.db import migrate  # noqa: E402
from hub.db.engine import Database  # noqa: E402
from hub.db.models import Order, OrderParty  # noqa: E402
from hub.runner import HubServer  # noqa: E402
from tests.support.orders import SVC, envelope  # noqa: E402

PASSWORD = "benchmark passphrase 1"  # noqa: S105 - throwaway benchmark account
COMMON = """SMITH JOHNSON WILLIAMS BROWN JONES GARCIA MILLER DAVIS RODRIGUEZ MARTINEZ HERNANDEZ LOPEZ
GONZALEZ WILSON ANDERSON THOMAS TAYLOR MOORE JACKSON MARTIN LEE PEREZ THOMPSON WHITE HARRIS SANCHEZ CLARK
RAMIREZ LEWIS ROBINSON WALKER YOUNG ALLEN KING WRIGHT SCOTT TORRES NGUYEN HILL FLORES GREEN ADAMS NELSON
BAKER HALL RIVERA CAMPBELL MITCHELL CARTER ROBERTS GOMEZ PHILLIPS EVANS TURNER DIAZ PARKER CRUZ EDWARDS
COLLINS REYES STEWART MORRIS MORALES MURPHY COOK ROGERS GUTIERREZ ORTIZ MORGAN COOPER PETERSON BAILEY REED
KELLY HOWARD RAMOS KIM COX WARD RICHARDSON WATSON BROOKS CHAVEZ WOOD JAMES BENNETT GRAY MENDOZA RUIZ HUGHES
PRICE ALVAREZ CASTILLO SANDERS PATEL MYERS LONG ROSS FOSTER JIMENEZ MOUSE MOOSE GEESE CLEESE MAJORS""".split()
GIVEN = """JAMES MARY JOHN PATRICIA ROBERT JENNIFER MICHAEL LINDA DAVID ELIZABETH WILLIAM BARBARA RICHARD SUSAN
JOSEPH JESSICA THOMAS SARAH CHRISTOPHER KAREN CHARLES LISA DANIEL NANCY MATTHEW BETTY ANTHONY MARGARET MARK
SANDRA DONALD ASHLEY STEVEN KIMBERLY PAUL EMILY ANDREW DONNA JOSHUA MICHELLE JOSE MARIA LUIS ANA CARLOS
SOFIA JUAN ELENA MIGUEL ROSA WEI MIN HUONG MINH ANH PRIYA RAJ""".split()
# Initial letters weighted roughly like US surnames; the rest alternate consonants and vowels.
INITIALS = "SSSSMMMMBBBBCCCCHHHHWWWGGGPPPRRRLLLDDDKKTTFFJJNNAAEVOYIZQU"
CONSONANTS, VOWELS = "BCDFGHJKLMNPRSTVWZ", "AEIOU"
ENDINGS = ["", "S", "SON", "EZ", "ER", "MAN", "TON", "LEY", "ICH", "SKI", "OV", "IAN", "ETTE", "O", "A"]


def surname_pool(rng: random.Random) -> tuple[list[str], list[float]]:
    def made_up() -> str:
        letters = [rng.choice(INITIALS)]
        for i in range(rng.randint(2, 6)):
            letters.append(rng.choice(VOWELS if (i % 2 == 0) == (letters[0] not in VOWELS) else CONSONANTS))
        return "".join(letters) + rng.choice(ENDINGS)

    tail = sorted({made_up() for _ in range(100000)})
    rng.shuffle(tail)  # ranks (and so frequencies) must not follow the alphabet
    names = COMMON + [n for n in tail if n not in COMMON]
    weights = [1 / (rank + 1) ** 0.75 for rank in range(len(names))]  # Zipf-like: SMITH ~1.5%, top 100 ~16%
    return names, weights


def document(
    form: str,
    otc: str,
    court: str,
    case: str,
    issued: date,
    expires: date,
    r: tuple[str, str],
    dob: date,
    p: tuple[str, str],
) -> str:
    return (
        f'<ord:Order xmlns:ord="urn:ca:courts:ccpor:order:1"><ord:CourtOrderFormCode>{form}</ord:CourtOrderFormCode>'
        f"<ord:ProtectionOrderTypeCode>{otc}</ord:ProtectionOrderTypeCode><ord:CourtOrderIssuingCourt>"
        f"<ord:OrganizationORIIdentification>{court}</ord:OrganizationORIIdentification></ord:CourtOrderIssuingCourt>"
        f"<ord:CaseDocketID>{case}</ord:CaseDocketID><ord:CourtOrderIssuingDate>{issued}</ord:CourtOrderIssuingDate>"
        f"<ord:CourtOrderExpirationDate>{expires}</ord:CourtOrderExpirationDate><ord:ProtectionOrderRestrictedPerson>"
        f"<ord:PersonName><ord:PersonGivenName>{r[1]}</ord:PersonGivenName><ord:PersonSurName>{r[0]}"
        f"</ord:PersonSurName></ord:PersonName><ord:PersonBirthDate>{dob}</ord:PersonBirthDate><ord:PersonSexCode>M"
        f"</ord:PersonSexCode><ord:PersonRaceCode>W</ord:PersonRaceCode></ord:ProtectionOrderRestrictedPerson>"
        f"<ord:ProtectionOrderProtectedPerson><ord:PersonName><ord:PersonGivenName>{p[1]}</ord:PersonGivenName>"
        f"<ord:PersonSurName>{p[0]}</ord:PersonSurName></ord:PersonName></ord:ProtectionOrderProtectedPerson>"
        f"<ord:ProtectionOrderCondition><ord:ProtectionOrderConditionCode>01</ord:ProtectionOrderConditionCode>"
        f"</ord:ProtectionOrderCondition><ord:ProtectionOrderBradyIndicator>Y</ord:ProtectionOrderBradyIndicator>"
        f"</ord:Order>"
    )


def generate(url: str, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    names, weights = surname_pool(rng)
    migrate.upgrade(url)
    db = Database(url)
    with db.unit_of_work() as s:
        account = add_user(s, "bench", ori="CA019015J", role=Role.QUERY_ONLY, clets=False, password=PASSWORD)
        org_id, account_id = account.organization_id, account.id
    forms = [("DV-130", "OAH"), ("DV-110", "TRO"), ("CH-130", "CHO"), ("CR-160", "CPO"), ("EA-130", "EAR")]
    now = datetime.now(UTC)
    batch = 20000
    start = time.perf_counter()
    for first in range(0, n, batch):
        with db.engine.begin() as conn:  # one transaction per batch keeps the WAL small
            orders, parties = [], []
            count = min(batch, n - first)
            surnames = rng.choices(names, weights, k=2 * count)
            for i in range(count):
                oid = first + i + 1
                county = rng.randint(1, 58)
                court = f"CA0{county:02d}015J"
                form, otc = rng.choice(forms)
                issued = date(2015, 1, 1) + timedelta(days=rng.randint(0, 3950))
                expires = issued + timedelta(days=rng.randint(20, 1800))
                r = (surnames[2 * i], rng.choice(GIVEN))
                p = (surnames[2 * i + 1], rng.choice(GIVEN))
                dob = date(1950, 1, 1) + timedelta(days=rng.randint(0, 20000))
                case = f"{issued.year % 100:02d}FL{oid:07d}"
                orders.append(
                    dict(
                        id=oid,
                        status="ACTIVE" if expires >= now.date() else "EXPIRED",
                        version=1,
                        sealed=rng.random() < 0.02,
                        served=rng.random() < 0.7,
                        owner_org_id=org_id,
                        court_ori=court,
                        county_code=f"{county:02d}",
                        case_number=case,
                        case_number_key=case,
                        form_code=form,
                        order_type_code=otc,
                        issue_date=issued,
                        expiration_date=expires,
                        non_expiring=False,
                        carpos_requested=False,
                        document=document(form, otc, court, case, issued, expires, r, dob, p),
                        created_by_id=account_id,
                        created_at=now,
                        updated_at=now,
                    )
                )
                for role, (sur, giv), birth in (("RESTRAINED", r, dob), ("PROTECTED", p, None)):
                    parties.append(
                        dict(
                            order_id=oid,
                            role=role,
                            alias=False,
                            surname_key=sur,
                            surname_rkey=sur[::-1],
                            given_key=giv,
                            given_rkey=giv[::-1],
                            birth_date=birth,
                            order_status=orders[-1]["status"],
                            sealed=orders[-1]["sealed"],
                            owner_org_id=org_id,
                        )
                    )
            conn.execute(sa.insert(Order.__table__), orders)
            conn.execute(sa.insert(OrderParty.__table__), parties)
            done = first + count
            if done % 200000 == 0 or done == n:
                print(f"  {done:,} orders ({time.perf_counter() - start:.0f} s)", flush=True)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('orders', 'id'), :n)"), {"n": n})
            conn.execute(sa.text("VACUUM ANALYZE"))  # statistics, and the visibility map index-only scans need
        else:
            conn.execute(sa.text("ANALYZE"))
    db.dispose()


def queries(rng: random.Random, names: list[str], weights: list[float], k: int) -> dict[str, list[str]]:
    picks = rng.choices(names, weights, k=k * 3)
    prefix = [n[:3] + "%" for n in picks[:k]]
    suffix = ["%" + n[-4:] for n in picks[k : 2 * k] if len(n) >= 4]
    under = []
    for n in picks[2 * k :]:
        if len(n) >= 4:
            i = rng.randint(1, len(n) - 2)
            under.append(n[:i] + "_" + n[i + 1 :] + "%")
    return {"prefix": prefix, "suffix": suffix, "underscore": under}


def body(pattern: str) -> bytes:
    return envelope(
        "SearchOrders", [("Criteria", {"PersonSurName": pattern}, SVC)], username="bench", password=PASSWORD
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--fresh", action="store_true", help="SQLite: regenerate the database file")
    args = ap.parse_args()
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    if args.database_url:
        url, kind = args.database_url, "postgresql"
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            have = conn.execute(sa.text("select to_regclass('orders') is not null")).scalar_one()
            existing = conn.execute(sa.text("select count(*) from orders")).scalar_one() if have else 0
        engine.dispose()
        if existing and existing != args.orders:
            raise SystemExit("give an empty PostgreSQL database (or one generated with the same --orders)")
        if not existing:
            print(f"generating {args.orders:,} orders into {url}")
            generate(url, args.orders)
    else:
        path = results / f"search-{args.orders}.db"
        url, kind = f"sqlite:///{path}", "sqlite"
        if args.fresh or not path.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            print(f"generating {args.orders:,} orders into {path}")
            generate(url, args.orders)
    rng = random.Random(11)
    names, weights = surname_pool(random.Random(7))
    server = HubServer(results, url, **LOOPBACK).start()
    report: dict[str, object] = {"database": kind, "orders": args.orders}
    try:
        assert server.proc is not None
        endpoint = f"{server.url}/ws/orders"
        run(endpoint, [body("SMI%")] * 20, 1, b"SearchResult")  # warm caches and the credential cache
        peak = 0
        for name, patterns in queries(rng, names, weights, args.queries).items():
            result = run(endpoint, [body(p) for p in patterns], 1, b"SearchResult")
            peak = max(peak, rss_kib(process_tree(server.proc.pid)))
            report[name] = result.summary() | {"example": patterns[:3]}
            print(name, json.dumps(report[name]))
        report["peak_rss_mib"] = round(peak / 1024, 1)
    finally:
        server.stop()
    (results / f"search-{kind}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
