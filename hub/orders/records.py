"""How orders are written: a new order's rows, the next version of one, its history and names,
and the idempotency receipts -- the statements of the intake hot path, built once.

The use cases (:mod:`hub.orders.service`) decide what changes and check who may change it; the
functions here write it. Status and version change only in :func:`guarded_update`, guarded in SQL
(``UPDATE ... WHERE id = :id AND version = :expected AND status IN (...)``) so two writers can never
both move the same version; the loser gets ``Client.Conflict``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DatabaseError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from hub import ids
from hub.accounts.service import Principal
from hub.codes import OrderStatus, PartyRole, county_code_of_ori
from hub.db.models import IntakeReceipt, Order, OrderParty, OrderVersion
from hub.db.prepared import Prepared
from hub.errors import Conflict, HubError
from hub.orders import locks
from hub.orders.document import OrderDocument

# Statements built once: the intake hot path runs them through the connection (Core), which costs
# a fraction of the ORM unit of work for rows nothing reads back in the same transaction.
_INSERT_ORDER = Prepared(insert(Order.__table__).returning(Order.__table__.c.id))
_INSERT_VERSION = Prepared(insert(OrderVersion.__table__))
_INSERT_RECEIPT = insert(IntakeReceipt.__table__)
_INSERT_PARTY = Prepared(insert(OrderParty.__table__))
_PARTY_STATUS = (
    update(OrderParty.__table__)
    .where(OrderParty.__table__.c.order_id == bindparam("b_order_id"))
    .values(order_status=bindparam("b_order_status"))
)
_DELETE_PARTIES = delete(OrderParty.__table__).where(OrderParty.__table__.c.order_id == bindparam("order_id"))

#: The columns of a new order's row that ``insert_new`` sets; the others keep their defaults.
_NEW_ORDER_COLUMNS = (
    "status", "version", "carpos_requested", "owner_org_id", "created_by_id", "created_at", "updated_at",
    "cloned_from_id", "document", "sealed", "served", "court_ori", "county_code", "case_number",
    "case_number_key", "form_code", "order_type_code", "issue_date", "expiration_date", "non_expiring",
)  # fmt: skip


#: The columns of a name's ``order_parties`` row that ``party_keys`` derives from the document.
_PARTY_KEYS = ("role", "alias", "surname_key", "surname_rkey", "given_key", "given_rkey", "birth_date")


@functools.cache
def _insert_new_order() -> Prepared:
    """PostgreSQL: a new order's row, its names' rows and its first history row in one statement
    (data-modifying CTEs: the names and the history row take the order's id, and the history row
    its version, status, document, actor and time, from the row just inserted), so the document
    crosses the wire once and the call makes two round trips fewer; its order id. The names come
    as one array a key (``p_role``, ``p_alias`` ...), unnested into rows. Built on first use: SQLite
    workers never import the PostgreSQL dialect (~2.5 MiB each)."""
    from sqlalchemy.dialects.postgresql import ARRAY

    orders, versions, parties = Order.__table__, OrderVersion.__table__, OrderParty.__table__
    new = (
        insert(orders)
        .values({name: bindparam(f"o_{name}") for name in _NEW_ORDER_COLUMNS})
        .returning(
            *(
                orders.c[name]
                for name in ("id", "version", "status", "sealed", "owner_org_id", "document", "created_by_id")
            ),
            orders.c.created_at,
        )
        .cte("new_order")
    )
    names = (
        func.unnest(*(bindparam(f"p_{key}", type_=ARRAY(parties.c[key].type)) for key in _PARTY_KEYS))
        .table_valued(*_PARTY_KEYS)
        .render_derived()
    )
    party_rows = select(
        new.c.id, *(names.c[key] for key in _PARTY_KEYS), new.c.status, new.c.sealed, new.c.owner_org_id
    )
    new_parties = (
        insert(parties)
        .from_select(
            ["order_id", *_PARTY_KEYS, "order_status", "sealed", "owner_org_id"],
            party_rows.select_from(new.join(names, true())),
        )
        .cte("new_parties")
    )
    history = select(
        new.c.id,
        new.c.version,
        bindparam("h_action", type_=versions.c.action.type),
        new.c.status,
        new.c.document,
        bindparam("h_changed", type_=versions.c.changed.type),
        new.c.created_by_id,
        bindparam("h_actor_name", type_=versions.c.actor_name.type),
        bindparam("h_actor_ori", type_=versions.c.actor_ori.type),
        new.c.created_at,
    )
    columns = ("order_id", "version", "action", "status", "document", "changed", "actor_id", "actor_name", "actor_ori")
    return Prepared(
        insert(versions).from_select([*columns, "at"], history).add_cte(new_parties).returning(versions.c.order_id)
    )


@dataclass(frozen=True)
class Receipt:
    order_id: str
    version: int
    status: OrderStatus
    served: bool
    received_at: datetime
    duplicate: bool = False
    #: The order's seal and owner at this version (None on a replayed receipt, which reads no order),
    #: so that what the call's audit event notes about them needs no second look at the order.
    sealed: bool | None = None
    owner_org_id: int | None = None


@dataclass(frozen=True)
class NewOrder:
    """What the writes after a new order's INSERT read of its row (``insert_new`` makes no ORM object:
    nothing reads the new order back in its call, and the audit's note takes the receipt's facts)."""

    id: int
    version: int
    status: str
    sealed: bool
    served: bool
    owner_org_id: int
    document: str


@dataclass(frozen=True)
class Source:
    """Where a change came from, for idempotency: the partner system and its message id."""

    system: str | None
    message_id: str | None

    @property
    def keyed(self) -> bool:
        return bool(self.system and self.message_id)


def name_key(text: str | None) -> str:
    """The search form of a name: upper case, inner runs of spaces folded."""
    return " ".join((text or "").upper().split())


def insert_new(
    s: Session,
    who: Principal,
    doc: OrderDocument,
    status: OrderStatus,
    action: str,
    now: datetime,
    cloned_from: int | None = None,
    pending: PendingRows | None = None,
) -> NewOrder:
    """A new order's row, its names' rows and its first history row (version 1) -- written now, or,
    with ``pending``, held there to be written with the others' (:class:`PendingRows`)."""
    # Everything the writes need is derived from the document before the first of them: on
    # SQLite that statement takes the database's one write lock, held to COMMIT.
    parties, changed = party_keys(doc), doc.changed_elements(None)
    values = dict(
        status=status.value,
        version=1,
        carpos_requested=False,
        owner_org_id=who.organization_id,
        created_by_id=who.account_id,
        created_at=now,
        updated_at=now,
        cloned_from_id=cloned_from,
        **columns(doc),
    )
    # One Core INSERT ... RETURNING id instead of the ORM unit of work (the intake hot path), and
    # no ORM object for the new row: building one and joining it to the session cost ~5 % of a
    # SubmitOrder. Nothing in the call reads the order back; the audit's note of a privilege used
    # (OrdersApi._permission_note) takes the seal and owner from the receipt.
    if pending is not None:
        return pending.hold(who, values, parties, action, changed, now)
    connection = s.connection()
    if connection.dialect.name == "postgresql":  # the names and history in the same statement
        params = {f"o_{name}": value for name, value in values.items()}
        params |= {f"p_{key}": [party[key] for party in parties] for key in _PARTY_KEYS}
        params |= {"h_action": action, "h_changed": "\n".join(changed), "h_actor_name": who.username}
        (new_id,) = _insert_new_order().one(connection, params | {"h_actor_ori": who.ori})
        return NewOrder(new_id, 1, status.value, doc.sealed, doc.served, who.organization_id, values["document"])
    (new_id,) = _INSERT_ORDER.one(connection, values)
    order = NewOrder(new_id, 1, status.value, doc.sealed, doc.served, who.organization_id, values["document"])
    insert_parties(s, order, parties)
    history(s, who, order, action, changed, now)
    return order


def rewrite(
    s: Session,
    who: Principal,
    order: Order,
    doc: OrderDocument,
    previous: OrderDocument,
    action: str,
    allowed: set[OrderStatus],
    new_status: OrderStatus,
    now: datetime,
) -> None:
    """``order``'s next version: ``doc`` in ``new_status``, its names' rows replaced, its history row."""
    parties, changed, values = party_keys(doc), doc.changed_elements(previous), columns(doc)  # see insert_new
    guarded_update(s, order, allowed, now, editor=who, status=new_status.value, updated_at=now, **values)
    s.connection().execute(_DELETE_PARTIES, {"order_id": order.id})
    insert_parties(s, order, parties)
    history(s, who, order, action, changed, now)


def replay(s: Session, who: Principal, source: Source, operation: str, order_id: str | None = None) -> Receipt | None:
    """The original receipt if this message id was seen (for the same operation and order)."""
    if not source.keyed:
        return None
    row = s.scalar(
        select(IntakeReceipt).where(
            IntakeReceipt.organization_id == who.organization_id,
            IntakeReceipt.source_system == source.system,
            IntakeReceipt.source_message_id == source.message_id,
        )
    )
    if row is None:
        return None
    if order_id is not None and ids.public(ids.ORDER, row.order_id) != order_id:
        raise Conflict(
            f"message id {source.message_id} from {source.system} was already used for order "
            f"{ids.public(ids.ORDER, row.order_id)}; every message needs its own id"
        )
    if row.operation != operation:
        raise _used_for(source, row.operation)
    ver = s.scalar(
        select(OrderVersion).where(OrderVersion.order_id == row.order_id, OrderVersion.version == row.version)
    )
    assert ver is not None  # written in the same transaction as the receipt
    return Receipt(
        ids.public(ids.ORDER, row.order_id),
        row.version,
        OrderStatus(ver.status),
        served=OrderDocument.from_xml(ver.document).served,
        received_at=row.at,
        duplicate=True,
    )


def _used_for(source: Source, operation: str) -> Conflict:
    return Conflict(
        f"message id {source.message_id} from {source.system} was already used for {operation}; every "
        "message needs its own id"
    )


def guarded_update(
    s: Session,
    order: Order,
    allowed: Iterable[OrderStatus],
    now: datetime,
    editor: Principal | None = None,
    **values: object,
) -> None:
    """Move ``order`` to its next version if it is still at the version and in a state we read,
    and (for a user's change, ``editor``) nobody else holds an edit lock on it at ``now`` -- else
    ``Client.Conflict``. The one place an order's status and version change."""
    expected = order.version
    guards = [Order.id == order.id, Order.version == expected, Order.status.in_([a.value for a in allowed])]
    if editor is not None:
        guards.append(locks.unlocked_for(editor.account_id, now))
    result = s.execute(
        update(Order).where(*guards).values(version=expected + 1, **values).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"order {ids.public(ids.ORDER, order.id)} changed meanwhile: read it again and retry")
    if "status" in values:
        s.connection().execute(_PARTY_STATUS, {"b_order_id": order.id, "b_order_status": values["status"]})
    s.refresh(order)


def history(
    s: Session, who: Principal, order: Order | NewOrder, action: str, changed: list[str], now: datetime
) -> None:
    _INSERT_VERSION.rows(s.connection(), _version_row(who, order, action, changed, now))


def _version_row(
    who: Principal, order: Order | NewOrder, action: str, changed: list[str], now: datetime
) -> dict[str, object]:
    return dict(
        order_id=order.id,
        version=order.version,
        action=action,
        status=order.status,
        document=order.document,
        changed="\n".join(changed),
        actor_id=who.account_id,
        actor_name=who.username,
        actor_ori=who.ori,
        at=now,
    )


def receipt_for(
    s: Session,
    who: Principal,
    order: Order | NewOrder,
    source: Source,
    operation: str,
    now: datetime,
    pending: PendingRows | None = None,
) -> Receipt:
    if pending is not None:
        return pending.receipt(who, order, source, operation, now)
    if source.keyed:
        s.connection().execute(_INSERT_RECEIPT, _receipt_row(who, order, source, operation, now))
    s.flush()
    return _receipt_of(order, now)


def _receipt_row(
    who: Principal, order: Order | NewOrder, source: Source, operation: str, now: datetime
) -> dict[str, object]:
    return dict(
        organization_id=who.organization_id,
        source_system=source.system,
        source_message_id=source.message_id,
        operation=operation,
        order_id=order.id,
        version=order.version,
        at=now,
    )


def _receipt_of(order: Order | NewOrder, now: datetime) -> Receipt:
    return Receipt(
        ids.public(ids.ORDER, order.id),
        order.version,
        OrderStatus(order.status),
        order.served,
        now,
        sealed=order.sealed,
        owner_org_id=order.owner_org_id,
    )


def party_keys(doc: OrderDocument) -> list[dict[str, object]]:
    """The search keys of every name in ``doc`` (the rows of ``order_parties`` but the order's)."""
    keys = []
    for party in doc.parties():
        surname, given = name_key(party.name.surname), name_key(party.name.given)
        keys.append(
            dict(
                role=PartyRole(party.role).value,
                alias=party.alias,
                surname_key=surname,
                surname_rkey=surname[::-1],
                given_key=given,
                given_rkey=given[::-1],
                birth_date=party.birth_date,
            )
        )
    return keys


def insert_parties(s: Session, order: Order | NewOrder, keys: list[dict[str, object]]) -> None:
    """The order's ``order_parties`` rows: its names' keys, with its status, seal and owner repeated."""
    if keys:
        _INSERT_PARTY.many(s.connection(), _party_rows(order, keys))


def _party_rows(order: Order | NewOrder, keys: list[dict[str, object]]) -> list[dict[str, object]]:
    repeated = dict(order_id=order.id, order_status=order.status, sealed=order.sealed, owner_org_id=order.owner_org_id)
    return [{**k, **repeated} for k in keys]


def columns(doc: OrderDocument) -> dict[str, object]:
    """The searchable columns of ``orders`` derived from the document."""
    ori = doc.court_ori
    return dict(
        document=doc.to_xml(),
        sealed=doc.sealed,
        served=doc.served,
        court_ori=ori,
        county_code=county_code_of_ori(ori),
        case_number=doc.case_number,
        case_number_key=name_key(doc.case_number),
        form_code=doc.form_code,
        order_type_code=doc.order_type_code,
        issue_date=doc.issue_date,
        expiration_date=doc.expiration_date,
        non_expiring=doc.non_expiring,
    )


_OPERATIONS = {
    "SUBMIT": "SubmitOrder",
    "SAVE_DRAFT": "SaveDraft",
    "MODIFY": "ModifyOrder",
    "CLONE": "CloneOrder",
    "SERVE": "ServeOrder",
    "CANCEL": "CancelOrder",
    "HOLD": "Notify",
    "LOAD": "LoadHistoricalOrder",
}


class PendingRows:
    """New orders held back, so that a batch of them is written with one statement a table (hub.etl:
    one executemany -- on PostgreSQL one COPY -- a table for hundreds of historical records, instead
    of four statements and a savepoint each). Nothing is written until :meth:`write`, so a record
    refused before it leaves nothing to undo.

    A held order has a stand-in id (negative) until it is written: its real one is taken when it is
    written, with the others' in the order they were held -- from the sequence on PostgreSQL, after
    the table's highest on SQLite (under the write transaction's lock, BEGIN IMMEDIATE) -- so orders
    written in between (a record with a scan, after :meth:`write`) keep the records' order, and no
    id is taken for an order that is not written. What :meth:`write` answers for each held order
    (by its stand-in id) is its receipt with the real id.

    Idempotent as a submission: a message id already held is answered with its receipt
    (:meth:`replay`); one received before (an earlier batch, another writer) is found when the
    receipts' unique key refuses the rows, and that order is dropped and answered with the original
    receipt (or its refusal) instead."""

    def __init__(self) -> None:
        self._orders: list[dict[str, object]] = []
        self._parties: list[dict[str, object]] = []
        self._versions: list[dict[str, object]] = []
        self._receipts: list[dict[str, object]] = []
        #: stand-in id -> the held order's receipt (with the stand-in id)
        self._held: dict[int, Receipt] = {}
        #: message id (organization, system, id) -> what was held for it
        self._keys: dict[tuple[int, str, str], _Held] = {}
        self._stand_ins = 0  # never reused by this instance, so answers of two writes never mix

    def __len__(self) -> int:
        return len(self._orders)

    def hold(
        self,
        who: Principal,
        values: dict[str, Any],
        parties: list[dict[str, object]],
        action: str,
        changed: list[str],
        now: datetime,
    ) -> NewOrder:
        """What :func:`insert_new` would write for a new order of ``values``, held under a stand-in id."""
        self._stand_ins += 1
        order = NewOrder(
            -self._stand_ins, 1, values["status"], values["sealed"], values["served"], who.organization_id,
            values["document"],
        )  # fmt: skip
        self._orders.append({"id": order.id, **values})
        self._parties.extend(_party_rows(order, parties))
        self._versions.append(_version_row(who, order, action, changed, now))
        return order

    def receipt(self, who: Principal, order: NewOrder, source: Source, operation: str, now: datetime) -> Receipt:
        """What :func:`receipt_for` would write and answer for the held ``order`` (its stand-in id)."""
        receipt = _receipt_of(order, now)
        self._held[order.id] = receipt
        if source.keyed:
            assert source.system is not None and source.message_id is not None  # keyed
            self._receipts.append(_receipt_row(who, order, source, operation, now))
            key = (who.organization_id, source.system, source.message_id)
            self._keys[key] = _Held(who, operation, order.id, receipt)
        return receipt

    def replay(self, who: Principal, source: Source, operation: str) -> Receipt | None:
        """The receipt of the order held for this message id, as :func:`replay` answers one stored."""
        held = self._keys.get((who.organization_id, source.system or "", source.message_id or ""))
        if held is None:
            return None
        if held.operation != operation:
            raise _used_for(source, held.operation)
        return dataclasses.replace(held.receipt, duplicate=True)

    def write(self, s: Session) -> dict[str, Receipt | HubError]:
        """Write what is held; for each held order, by its stand-in id, its answer: its receipt with
        its real id, or -- for one whose message id was received before -- what :func:`replay` gives
        (the original receipt, or its refusal), that order dropped. A batch is mostly new orders, so
        the message ids are looked up only when the receipts' unique key refuses the rows (received
        before, or by another writer meanwhile); any other refusal is raised."""
        answers: dict[str, Receipt | HubError] = {}
        connection = s.connection()
        while self._orders:
            stand_ins = [int(row["id"]) for row in self._orders]  # type: ignore[call-overload]
            real = dict(zip(stand_ins, self._new_ids(connection), strict=True))
            connection.exec_driver_sql("SAVEPOINT held_orders")
            try:
                self._insert(connection, real)
            except IntegrityError:
                connection.exec_driver_sql("ROLLBACK TO SAVEPOINT held_orders")
                connection.exec_driver_sql("RELEASE SAVEPOINT held_orders")
                found = self._drop_received(s)
                if not found:
                    raise
                answers |= found
                continue
            connection.exec_driver_sql("RELEASE SAVEPOINT held_orders")
            for stand_in, order_id in real.items():
                receipt = self._held[stand_in]
                answers[receipt.order_id] = dataclasses.replace(receipt, order_id=ids.public(ids.ORDER, order_id))
            break
        self._orders, self._parties, self._versions, self._receipts = [], [], [], []
        self._held, self._keys = {}, {}
        return answers

    def _new_ids(self, connection: Connection) -> list[int]:
        """Ids for the held orders, ascending."""
        if connection.dialect.name == "postgresql":
            return sorted(connection.execute(_NEXT_ORDER_IDS, {"n": len(self._orders)}).scalars())
        highest = int(connection.execute(select(func.max(Order.__table__.c.id))).scalar() or 0)
        return list(range(highest + 1, highest + 1 + len(self._orders)))

    def _insert(self, connection: Connection, real: dict[int, int]) -> None:
        """The held rows with their orders' real ids, a table at a time: SQLite's executemany;
        PostgreSQL's COPY, the server's bulk path (an executemany there is a statement a row)."""
        tables = (
            (Order.__table__, [{**row, "id": real[row["id"]]} for row in self._orders]),
            *(
                (table, [{**row, "order_id": real[row["order_id"]]} for row in rows])
                for table, rows in (
                    (OrderParty.__table__, self._parties),
                    (OrderVersion.__table__, self._versions),
                    (IntakeReceipt.__table__, self._receipts),
                )
            ),
        )
        if connection.dialect.name != "postgresql":
            for table, rows in tables:
                if rows:
                    connection.execute(insert(table), rows)
            return
        for table, rows in tables:
            if rows:
                _copy(connection, table, rows)

    def _drop_received(self, s: Session) -> dict[str, Receipt | HubError]:
        """Drop the held orders whose message id has a receipt already; the answers for them."""
        by_source: dict[tuple[int, str], list[str]] = {}
        for organization, system, message in self._keys:
            by_source.setdefault((organization, system), []).append(message)
        received: list[tuple[int, str, str]] = []
        table = IntakeReceipt.__table__
        postgresql = s.connection().dialect.name == "postgresql"
        for (organization, system), messages in by_source.items():
            # one (organization, system) and a list of ids: the unique key's index answers each id
            if postgresql:  # one probe an id, whatever the statistics say (an IN list may become a filter)
                found = s.execute(
                    _RECEIVED_PG, {"organization": organization, "system": system, "messages": messages}
                ).scalars()
            else:
                found = s.execute(
                    select(table.c.source_message_id).where(
                        table.c.organization_id == organization,
                        table.c.source_system == system,
                        table.c.source_message_id.in_(messages),
                    )
                ).scalars()
            received.extend((organization, system, message) for message in found)
        answers: dict[str, Receipt | HubError] = {}
        gone: set[int] = set()
        for key in received:
            held = self._keys.pop(key)
            gone.add(held.stand_in)
            try:
                answer: Receipt | HubError | None = replay(s, held.who, Source(key[1], key[2]), held.operation)
            except HubError as refusal:
                answer = refusal
            assert answer is not None  # its receipt was just found
            answers[held.receipt.order_id] = answer
        if gone:
            self._held = {stand_in: r for stand_in, r in self._held.items() if stand_in not in gone}
            self._orders = [row for row in self._orders if row["id"] not in gone]
            self._parties = [row for row in self._parties if row["order_id"] not in gone]
            self._versions = [row for row in self._versions if row["order_id"] not in gone]
            self._receipts = [row for row in self._receipts if row["order_id"] not in gone]
        return answers


def _copy(connection: Connection, table: Table, rows: list[dict[str, object]]) -> None:
    """``rows`` into ``table`` by PostgreSQL's COPY, on the session's connection (its transaction),
    each value through its column type's bind processing, as a statement's parameters are. A
    refusal is raised as SQLAlchemy raises a statement's (IntegrityError for a broken constraint),
    saying only its SQLSTATE, table, column and constraint: the server's message, DETAIL and
    CONTEXT may quote the row -- names, dates of birth -- which no error or log may carry."""
    import psycopg
    from psycopg import sql

    names = list(rows[0])
    processors = [table.c[name].type.bind_processor(connection.dialect) for name in names]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    raw = connection.connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(
                    [
                        row[name] if process is None else process(row[name])
                        for name, process in zip(names, processors, strict=True)
                    ]
                )
    except psycopg.Error as failure:
        diag = failure.diag
        # where, from the server's CONTEXT ("COPY orders, line 3, column case_number_key: <value>"):
        # the line and the column's name only, never the value after them
        at = re.search(r"line (\d+), column (\w+)", diag.context or "")
        said = [f"row {at[1]}, column {at[2]}"] if at else []
        said += [f"constraint {diag.constraint_name}"] if diag.constraint_name else []
        message = f"COPY {table.name} refused: SQLSTATE {failure.sqlstate} ({type(failure).__name__})"
        message += "".join(f", {part}" for part in said)
        kind: type[DBAPIError] = DatabaseError
        if isinstance(failure, psycopg.IntegrityError):
            kind = IntegrityError
        elif isinstance(failure, psycopg.OperationalError):
            kind = OperationalError
        raise kind(f"COPY {table.name}", None, _Refused(message)) from None  # not chained: it quotes the row


class _Refused(Exception):
    """What a refused COPY is raised with in place of the driver's own error (see :func:`_copy`)."""


@dataclass(frozen=True)
class _Held:
    who: Principal
    operation: str
    stand_in: int
    receipt: Receipt


#: PostgreSQL: which of the message ids have a receipt. A LATERAL subquery with a LIMIT is never
#: flattened into a join, so each id is one probe of the unique key's index; ``IN (...)`` on a table
#: that grew fast (statistics from when it was empty) was planned as a filter over the whole
#: (organization, system) range: a scan of every receipt, for every batch.
_RECEIVED_PG = text(
    "SELECT m.id FROM unnest(CAST(:messages AS varchar[])) AS m(id), LATERAL (SELECT 1 FROM intake_receipts r"
    " WHERE r.organization_id = :organization AND r.source_system = :system AND r.source_message_id = m.id"
    " LIMIT 1) AS hit"
)
_NEXT_ORDER_IDS = text("SELECT nextval(pg_get_serial_sequence('orders', 'id')) FROM generate_series(1, :n)")


def operation_of(action: str) -> str:
    """The operation an order history action is the use case of (the idempotency receipt names it)."""
    return _OPERATIONS[action]
