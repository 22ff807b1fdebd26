"""The console's WSGI application (Werkzeug routing and request parsing, Jinja2 pages).

Every request: the session (hub.console.sessions) or the login page; on every POST the CSRF token
and the browser's own word that the form came from this site (``Origin``, ``Sec-Fetch-Site``); the
page or action over the same use cases as /ws/admin; one audit event per request (category ADMIN,
operation ``Console <page>``), an action's in the transaction of its change. Nothing secret or
CLETS goes into a URL: filters and ids only, forms POST.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from cryptography import x509
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from hub import audit, ids
from hub.accounts import admin, service
from hub.accounts.credentials import UsernameToken
from hub.accounts.service import Principal, principal_of
from hub.api.app import OUTBOX_KINDS, Services
from hub.api.callers import Credentials, Gate
from hub.audit import ADMIN, Event
from hub.carpos import outbox
from hub.carpos.clets import CletsVault
from hub.codes import AccountStatus, OutboxState, Role
from hub.console.sessions import CSRF_KEY, Sessions, Signed
from hub.db.models import Account, AuditEvent, CarposInboxMessage, Order, Organization, OutboxMessage
from hub.errors import HubError, ValidationError, Violation
from hub.orders import locks
from hub.orders.search import paginate
from hub.outbox import queue
from hub.reports import render
from hub.reports.monthly import Month, monthly
from hub.soap.endpoint import connection_facts, trusted_networks

log = logging.getLogger("ccpor.console")

PREFIX = "/console"
_ORI = re.compile(r"[A-Z0-9]{9}")
COOKIE = "ccpor_console"
#: The login form's pre-session cookie (its CSRF token is derived from it).
LOGIN_COOKIE = "ccpor_console_login"
#: Sent by the page's auto-refresh: such a request is not the administrator's activity.
REFRESH_HEADER = "X-Console-Refresh"

#: Every response: no framing, no sniffing, nothing cached, scripts and styles from the console only.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
#: A monthly report page (matplotlib's SVG with inline styles; no script at all).
_REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"

_STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}


class _Request(Request):
    """Forms are small: a larger body or more parts is refused (413) before it is parsed."""

    max_content_length = 256 * 1024
    max_form_memory_size = 64 * 1024
    max_form_parts = 500


#: The most pages any list pages through (beyond, OFFSET would only cost the database).
MAX_PAGE = 100_000


class Refused(Exception):  # noqa: N818 - an answer, not a failure of the console
    """A request the console will not serve: its HTTP status and the sentence the page shows."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Visit:
    """One signed-in request: the administrator, what the audit event will say."""

    request: Request
    signed: Signed
    who: Principal
    token: str
    tls: bool
    client: str
    page: str = ""
    target: str = ""
    detail: str = ""
    refresh: bool = False

    @property
    def account(self) -> Account:
        return self.signed.account


class Console:
    """``/console``: the pages; built once per process from the hub's :class:`~hub.api.app.Services`."""

    def __init__(self, hub: Services) -> None:
        self.hub = hub
        self.db = hub.db
        self.clock = hub.orders.clock
        self.settings = hub.settings
        self.calendar = hub.settings.calendar
        self.kinds = OUTBOX_KINDS
        self.vault = CletsVault.of(hub.key)
        self.sessions = Sessions(hub.key.derive(CSRF_KEY))
        self.gate = Gate(hub.authenticator, hub.settings)
        self.trusted = trusted_networks(hub.settings.trusted_proxies)
        self.env = Environment(loader=PackageLoader("hub.console", "templates"), autoescape=select_autoescape(["html"]))
        self.env.filters["local"] = self._local
        self.env.filters["age"] = _age
        self.env.globals["prefix"] = PREFIX
        self.urls = Map(
            [
                Rule(PREFIX, endpoint="overview"),
                Rule(f"{PREFIX}/", endpoint="overview"),
                Rule(f"{PREFIX}/login", endpoint="login", methods=["GET", "POST"]),
                Rule(f"{PREFIX}/logout", endpoint="logout", methods=["POST"]),
                Rule(f"{PREFIX}/messages", endpoint="messages"),
                Rule(f"{PREFIX}/messages/requeue", endpoint="requeue", methods=["POST"]),
                Rule(f"{PREFIX}/messages/purge", endpoint="purge", methods=["POST"]),
                Rule(f"{PREFIX}/messages/<int:message_id>", endpoint="message"),
                Rule(f"{PREFIX}/locks", endpoint="locks"),
                Rule(f"{PREFIX}/locks/unlock", endpoint="unlock_order", methods=["POST"]),
                Rule(f"{PREFIX}/users", endpoint="users"),
                Rule(f"{PREFIX}/users/<username>", endpoint="user"),
                Rule(f"{PREFIX}/users/<username>/<action>", endpoint="user_action", methods=["POST"]),
                Rule(f"{PREFIX}/audit", endpoint="audit"),
                Rule(f"{PREFIX}/reports", endpoint="reports"),
                Rule(f"{PREFIX}/reports/page", endpoint="report_page"),
                Rule(f"{PREFIX}/reports/<name>.csv", endpoint="report_csv"),
                Rule(f"{PREFIX}/static/<name>", endpoint="static"),
            ],
            strict_slashes=False,
        )
        self._pages: dict[str, Callable[[Visit], Response]] = {
            "overview": self.overview,
            "messages": self.messages,
            "requeue": self.requeue,
            "purge": self.purge,
            "message": self.message,
            "locks": self.locks,
            "unlock_order": self.unlock_order,
            "users": self.users,
            "user": self.user,
            "user_action": self.user_action,
            "audit": self.audit_search,
            "reports": self.reports,
            "report_page": self.report_page,
            "report_csv": self.report_csv,
            "logout": self.logout,
        }

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = _Request(environ)
        try:
            response = self._dispatch(request)
        except HTTPException as exc:  # a form too large, too many parts: Werkzeug's own answer
            response = self._error(exc.code or 400, exc.description or "The request was refused.")
        except Exception:
            log.exception("console: unexpected failure on %s", request.path)
            response = self._error(500, "Something went wrong on the hub's side; the error is in its log.")
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        adapter = self.urls.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except MethodNotAllowed:
            return self._error(405, "That address does not take this kind of request.")
        except NotFound:
            return self._error(404, "No such page in the console.")
        except HTTPException as exc:  # a redirect to the canonical address
            return exc.get_response(request.environ)  # type: ignore[return-value]
        if endpoint == "static":
            return self._static(values["name"])
        tls, _ = connection_facts(request.environ, self.trusted)
        if endpoint == "login":
            return self.login(request, tls)
        token = request.cookies.get(COOKIE, "")
        now = self.clock()
        with self.db.read() as s:
            signed, why = self.sessions.find(s, token, now)
            if signed is not None:
                s.expunge(signed.account)
        if signed is None:
            if token:
                with self.db.unit_of_work() as s:
                    self.sessions.close(s, token)  # locked or no longer allowed: its row goes
            if request.headers.get(REFRESH_HEADER):
                return Response("session ended", status=401, mimetype="text/plain")
            response = redirect(f"{PREFIX}/login" + (f"?{urlencode({'ended': '1'})}" if why else ""))
            if token:
                response.delete_cookie(COOKIE, path=PREFIX)
            return response
        visit = Visit(
            request,
            signed,
            principal_of(signed.account),
            token,
            tls,
            request.remote_addr or "",
            refresh=bool(request.headers.get(REFRESH_HEADER)),
            page=_OPERATIONS[endpoint] + (f" {values['action']}"[:20] if endpoint == "user_action" else ""),
            target=str(values.get("username", "")),
        )
        try:
            if request.method == "POST":
                self._check_form(request, self.sessions.csrf(token))
            response = self._pages[endpoint](visit, **values)
        except Refused as refusal:
            self._audit(visit, "Client.Forbidden", refusal.message)
            return self._error(refusal.status, refusal.message, visit)
        except HubError as err:
            self._audit(visit, err.code, err.message)
            return self._page(visit, "result.html", 400 if err.code.startswith("Client") else 500, error=err)
        return response

    def _check_form(self, request: Request, expected: str) -> None:
        """A POST must come from one of the console's own pages: the browser says so (Origin,
        Sec-Fetch-Site) and the form carries the session's CSRF token."""
        site = request.headers.get("Sec-Fetch-Site", "")
        origin = request.headers.get("Origin", "")
        if site and site not in ("same-origin", "none"):
            raise _Forbidden(f"a form posted from another site ({site}) is refused")
        if origin and origin != request.host_url.rstrip("/"):
            raise _Forbidden("a form posted from another origin is refused")
        if not hmac.compare_digest(request.form.get("csrf", ""), expected):
            raise _Forbidden("the form's security token is missing or wrong: reload the page and try again")

    # --------------------------------------------------------------- login

    def login(self, request: Request, tls: bool) -> Response:
        pre = request.cookies.get(LOGIN_COOKIE, "")
        notice = "Your session has ended or was locked: sign in again." if request.args.get("ended") else ""
        if request.method == "GET" or not pre:
            pre = pre or _token()
            return self._login_page(pre, tls, notice)
        client = request.remote_addr or ""
        username = request.form.get("username", "").strip()[:64]
        try:
            self._check_form(request, self.sessions.csrf(pre))
        except _Forbidden as exc:
            self._record(Event(self.clock(), username, "", "Console Logon", "Client.Forbidden", "", client, str(exc)))
            return self._login_page(pre, tls, str(exc), status=403)
        _, loopback = connection_facts(request.environ, self.trusted)
        password = request.form.get("password", "")
        try:
            # The same rules as a SOAP PasswordText logon: only over TLS (or the development setting on
            # loopback), scrypt, the failed-logon count and lockout of CJIS AC-7.
            self.gate.require_confidential(Credentials(UsernameToken(username, password), None, None, tls, loopback))
            with self.db.read() as s:
                who = self.hub.authenticator.authenticate(s.connection(), username, password)
            if who.role is not Role.ADMINISTRATOR:
                raise _NotAdmin
        except HubError as err:
            self._record(Event(self.clock(), username, "", "Console Logon", err.code, "", client, err.message))
            return self._login_page(pre, tls, "Sign-in refused: " + err.message, status=401)
        except _NotAdmin:
            message = "this console is for administrators only"
            self._record(
                Event(self.clock(), who.username, who.ori, "Console Logon", "Client.Forbidden", "", client, message)
            )
            return self._login_page(pre, tls, "Sign-in refused: " + message, status=403)
        now = self.clock()
        with self.db.unit_of_work() as s:
            account = admin.account(s, who.username)
            token = self.sessions.open(s, account, now, client)
            self.hub.audit.record(
                s.connection(),
                Event(now, who.username, who.ori, "Console Logon", "OK", "", client, "signed in", category=ADMIN),
            )
        response = redirect(f"{PREFIX}/")
        response.set_cookie(COOKIE, token, path=PREFIX, secure=tls, httponly=True, samesite="Strict")
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    def _login_page(self, pre: str, tls: bool, notice: str, status: int = 200) -> Response:
        body = self.env.get_template("login.html").render(csrf=self.sessions.csrf(pre), notice=notice)
        response = Response(body, status=status, mimetype="text/html")
        response.set_cookie(LOGIN_COOKIE, pre, path=PREFIX, secure=tls, httponly=True, samesite="Strict")
        return response

    def logout(self, v: Visit) -> Response:
        with self.db.unit_of_work() as s:
            self.sessions.close(s, v.token)
            self._event(s, v, "Console Logout", "OK", "signed out")
        response = redirect(f"{PREFIX}/login")
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    # ---------------------------------------------------------------- pages

    def overview(self, v: Visit) -> Response:
        now = self.clock()
        with self.db.read() as s:
            counts = queue.counts(s)
            oldest = queue.oldest_waiting(s)
            hour = queue.activity(s, now - timedelta(hours=1))
            day = queue.activity(s, now - timedelta(days=1))
            through = queue.throughput(s, now)
        peak = max([1, *(max(sent, accepted) for _, sent, accepted in through)])
        return self._viewed(
            v,
            "overview.html",
            counts=[(state.value, counts.get(state.value, 0)) for state in OutboxState],
            oldest={kind: now - first for kind, first in oldest.items()},
            hour=hour,
            day=day,
            totals={"hour": _total(hour), "day": _total(day)},
            through=through,
            peak=peak,
            now=now,
        )

    def _filter(self, args: Mapping[str, str]) -> tuple[queue.Filter, dict[str, str]]:
        """The messages page's filter from its query string (every field optional), or the fault."""
        form = {k: (args.get(k) or "").strip() for k in ("kind", "state", "court", "mke", "from", "to", "order", "mcn")}
        order_key = None
        if form["order"]:
            try:
                order_key = ids.parse(ids.ORDER, form["order"].upper())
            except HubError:
                raise ValidationError(
                    f"{form['order']!r} is not an order id", [Violation("order", "an order id like CCP0000000001")]
                ) from None
        return (
            queue.Filter(
                state=queue.state_of(form["state"], "state"),
                kind=queue.kind_of(form["kind"], self.kinds, "kind"),
                court=form["court"].upper() or None,
                mke=form["mke"].upper() or None,
                since=self.calendar.start_of(_day(form["from"], "from")) if form["from"] else None,
                until=self.calendar.start_of(_day(form["to"], "to") + timedelta(days=1)) if form["to"] else None,
                order_key=order_key,
                mcn=form["mcn"] or None,
            ),
            form,
        )

    def messages(self, v: Visit) -> Response:
        wanted, form = self._filter(v.request.args)
        number = _page_number(v.request.args)
        with self.db.read() as s:
            query = queue.list_query(wanted.state, wanted.kind, also=wanted)
            page = paginate(s, query, number, self.settings.page_size, OutboxMessage.id.desc())
            entries = [queue.entry(m) for m in page.items]
        v.detail = urlencode({k: x for k, x in form.items() if x})[:200]
        return self._viewed(
            v,
            "messages.html",
            entries=entries,
            page=page,
            form=form,
            kinds=sorted(self.kinds),
            states=[state.value for state in OutboxState],
            query=_query_of(**form),
        )

    def requeue(self, v: Visit) -> Response:
        chosen = sorted(set(v.request.form.getlist("mcn")))[:200]
        if not chosen:
            raise ValidationError("choose the messages to requeue", [Violation("mcn", "at least one")])
        reason = v.request.form.get("reason", "").strip()[:120]
        if not v.request.form.get("confirmed"):
            return self._viewed(v, "confirm_requeue.html", chosen=chosen, reason=reason)
        if not reason:
            raise ValidationError("say why the messages are requeued", [Violation("reason", "required")])
        now = self.clock()
        done = []
        with self.db.unit_of_work() as s:
            for mcn in chosen:
                entry, what = queue.requeue(s, mcn, now, self.kinds)
                done.append(entry)
                self._event(s, v, "Console Requeue", "OK", f"{what}: {reason}", target=entry.order_id or mcn)
        return self._page(v, "result.html", 200, done=[f"{e.mke} {e.mcn} requeued ({e.state})" for e in done])

    def purge(self, v: Visit) -> Response:
        try:
            days = int(v.request.form.get("days", ""))
        except ValueError:
            raise ValidationError("purge-dead needs a number of days", [Violation("days", "an integer >= 1")]) from None
        if not v.request.form.get("confirmed"):
            return self._viewed(v, "confirm_purge.html", days=days)
        now = self.clock()
        with self.db.unit_of_work() as s:
            purged, kept = queue.purge_dead(s, timedelta(days=days), now, self.kinds)
            detail = f"purged {purged} dead messages older than {days} days; kept {len(kept)} their orders need"
            self._event(s, v, "Console PurgeDead", "OK", detail)
        lines = [detail] + [f"kept {mcn}: requeue it (its order needs it)" for mcn in kept[:50]]
        return self._page(v, "result.html", 200, done=lines)

    def message(self, v: Visit, message_id: int) -> Response:
        clets = v.account.clets_certified
        with self.db.read() as s:
            m = s.get(OutboxMessage, message_id)
            if m is None:
                raise Refused(404, f"no message {message_id} in the queue")
            entry = queue.entry(m)
            target = entry.order_id or entry.mcn
            attempts = s.scalars(
                select(AuditEvent)
                .where(AuditEvent.target.in_({target, entry.mcn}), AuditEvent.detail.contains(entry.mcn))
                .order_by(AuditEvent.seq)
            ).all()
            order = s.get(Order, m.order_id) if m.order_id else None
            text = answers = problem = None
            if clets and m.kind == outbox.KIND:
                row = s.execute(outbox.text_inputs([m.id])).one()
                try:
                    text, _ = outbox.text_of(row, self.vault)
                except Exception as exc:  # noqa: BLE001 - shown as why the text cannot be made
                    problem = f"the text cannot be made: {exc}"
                answers = [
                    (a.kind, a.doj_mcn, a.received_at, self.vault.open_answer(a.doj_mcn, a.text_sealed))
                    for a in s.scalars(
                        select(CarposInboxMessage)
                        .where(CarposInboxMessage.message_id == m.id)
                        .order_by(CarposInboxMessage.id)
                    )
                ]
        v.target = entry.mcn
        v.detail = "CLETS text shown" if text is not None or answers else ""
        return self._viewed(
            v,
            "message.html",
            entry=entry,
            attempts=attempts,
            order=order,
            clets=clets,
            text=text,
            answers=answers,
            problem=problem,
        )

    def locks(self, v: Visit) -> Response:
        number = _page_number(v.request.args)
        county = (v.request.args.get("county") or "").strip() or None
        holder = (v.request.args.get("holder") or "").strip().upper() or None
        with self.db.read() as s:
            total, found = locks.search(
                s, self.clock(), county=county, holder_ori=holder, page=number, size=self.settings.page_size
            )
        last = max(1, -(-total // self.settings.page_size))
        return self._viewed(
            v,
            "locks.html",
            found=found,
            total=total,
            number=number,
            last=last,
            county=county or "",
            holder=holder or "",
            query=_query_of(county=county, holder=holder),
        )

    def unlock_order(self, v: Visit) -> Response:
        form = v.request.form
        v.target = form.get("order", "")[:64]
        reason = form.get("reason", "").strip()[:150]
        if not reason:
            raise ValidationError("say why the lock is removed", [Violation("reason", "required")])
        try:
            listed = datetime.fromisoformat(form.get("locked_at", ""))
        except ValueError:
            listed = None
        if listed is None or listed.tzinfo is None:
            raise ValidationError("the lock's time is missing", [Violation("locked_at", "as listed, with its zone")])
        with self.db.unit_of_work() as s:
            removed = locks.unlock(s, form.get("order", ""), listed)
            taken = f"{removed.locked_at:%Y-%m-%dT%H:%M:%SZ}"
            what = f"removed the lock of {removed.holder} ({removed.holder_ori}) taken {taken}: {reason}"
            self._event(s, v, "Console UnlockOrder", "OK", what, target=removed.order_id)
        return self._page(v, "result.html", 200, done=[what])

    def users(self, v: Visit) -> Response:
        args = v.request.args
        ori = (args.get("ori") or "").strip().upper() or None
        role = _choice(args.get("role"), Role, "role")
        status = _choice(args.get("status"), AccountStatus, "status")
        with self.db.read() as s:
            page = paginate(
                s, admin.list_query(ori, role, status), _page_number(args), self.settings.page_size, Account.username
            )
            rows = [(a, a.organization.ori, _expiry(a.client_cert_pem)) for a in page.items]
        return self._viewed(
            v,
            "users.html",
            rows=rows,
            page=page,
            ori=ori or "",
            role=role.value if role else "",
            status=status.value if status else "",
            roles=[r.value for r in Role],
            statuses=[x.value for x in AccountStatus],
            query=_query_of(ori=ori, role=role.value if role else None, status=status.value if status else None),
        )

    def user(self, v: Visit, username: str) -> Response:
        with self.db.read() as s:
            account = admin.account(s, username)
            ori = account.organization.ori
            s.expunge(account)
        v.target = username
        return self._viewed(
            v, "user.html", a=account, ori=ori, expiry=_expiry(account.client_cert_pem), roles=[r.value for r in Role]
        )

    def user_action(self, v: Visit, username: str, action: str) -> Response:
        form = v.request.form
        reason = form.get("reason", "").strip()[:150]
        v.target = username

        def change(s: Session) -> tuple[Account, str]:
            if action == "disable":
                return admin.disable(s, v.who, username, reason)
            if action == "enable":
                return admin.enable(s, username, reason)
            if action == "unlock":
                return service.unlock(s, username)
            if action == "roles":
                role = _choice(form.get("role"), Role, "role")
                if role is None:
                    raise ValidationError("choose a role", [Violation("role", "required")])
                return admin.set_roles(s, v.who, username, role, bool(form.get("clets")))
            raise Refused(404, f"no action {action!r} on accounts")

        if action in ("disable", "enable") and not reason:
            raise ValidationError(f"say why the account is {action}d", [Violation("reason", "required")])
        with self.db.unit_of_work() as s:
            _, what = change(s)
            self._event(s, v, v.page, "OK", what, target=username)
        return self._page(v, "result.html", 200, done=[what], back=f"{PREFIX}/users/{username}")

    def audit_search(self, v: Visit) -> Response:
        args = v.request.args
        today = self.calendar.date_of(self.clock())
        start_day = _day(args.get("from", ""), "from") if args.get("from") else today
        end_day = _day(args.get("to", ""), "to") if args.get("to") else today
        if end_day < start_day or (end_day - start_day).days > 366:
            raise ValidationError("the days must run forward, at most 366 of them", [Violation("to", "span")])
        fields = {
            k: (args.get(k) or "").strip()[:64] for k in ("username", "operation", "target", "outcome", "category")
        }
        query = audit.search_query(
            self.calendar.start_of(start_day), self.calendar.start_of(end_day + timedelta(days=1)), **fields
        )
        with self.db.read() as s:
            page = paginate(s, query, _page_number(args), self.settings.page_size, AuditEvent.seq.desc())
            events = list(page.items)
            for e in events:
                s.expunge(e)
        v.detail = urlencode({k: x for k, x in fields.items() if x})[:200]
        form = {**fields, "from": start_day.isoformat(), "to": end_day.isoformat()}
        return self._viewed(v, "audit.html", events=events, page=page, form=form, query=_query_of(**form))

    def _reports_of(self, v: Visit) -> Any:
        args = v.request.args
        try:
            month = (
                Month.parse(args["month"]) if args.get("month") else Month.before(self.calendar.date_of(self.clock()))
            )
        except ValueError as err:
            raise ValidationError(f"month: {err}", [Violation("month", "YYYY-MM")]) from None
        court = (args.get("court") or "").strip().upper() or None
        if court is not None and not _ORI.fullmatch(court):
            raise ValidationError(f"court: {court[:20]!r} is not an ORI", [Violation("court", "9 letters and digits")])
        with self.db.read() as s:
            reports = monthly(s, month, self.clock(), court=court, calendar=self.calendar)
        v.target = f"{month}{' ' + court if court else ''}"
        return reports

    def reports(self, v: Visit) -> Response:
        last = Month.before(self.calendar.date_of(self.clock()))
        with self.db.read() as s:
            courts = s.scalars(select(Organization.ori).order_by(Organization.ori)).all()
        chosen = v.request.args.get("month")
        reports = self._reports_of(v) if chosen else None
        query = urlencode({k: x for k, x in v.request.args.items() if k in ("month", "court") and x})
        return self._viewed(v, "reports.html", reports=reports, last=str(last), courts=courts, query=query)

    def report_page(self, v: Visit) -> Response:
        page = render.html(self._reports_of(v))
        self._audit(v, "OK", v.detail)
        response = Response(page, mimetype="text/html")
        response.headers["Content-Security-Policy"] = _REPORT_CSP
        return response

    def report_csv(self, v: Visit, name: str) -> Response:
        reports = self._reports_of(v)
        try:
            table = reports.table(name)
        except StopIteration:
            raise Refused(404, f"no report named {name!r}") from None
        self._audit(v, "OK", name)
        response = Response(table.csv(), mimetype="text/csv")
        stem = f"{reports.month}-{reports.court or 'statewide'}-{name}"
        response.headers["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
        return response

    # ---------------------------------------------------------- rendering

    def _viewed(self, v: Visit, template: str, **context: Any) -> Response:
        """A page shown: audited (and the session's idle clock reset unless the page refreshed itself)."""
        self._audit(v, "OK", v.detail)
        return self._page(v, template, 200, **context)

    def _page(self, v: Visit, template: str, http_status: int, **context: Any) -> Response:
        body = self.env.get_template(template).render(
            user=v.account,
            csrf=self.sessions.csrf(v.token),
            refresh_seconds=self.settings.console_refresh_seconds,
            **context,
        )
        return Response(body, status=http_status, mimetype="text/html")

    def _error(self, status: int, message: str, v: Visit | None = None) -> Response:
        body = self.env.get_template("error.html").render(
            message=message, status=status, user=v.account if v else None, csrf=self.sessions.csrf(v.token) if v else ""
        )
        return Response(body, status=status, mimetype="text/html")

    def _static(self, name: str) -> Response:
        if name not in _STATIC:
            return self._error(404, "No such file.")
        data = resources.files("hub.console").joinpath("static", name).read_bytes()
        response = Response(data, mimetype=_STATIC[name].split(";")[0])
        response.headers["Content-Type"] = _STATIC[name]
        response.headers["Cache-Control"] = "max-age=300"
        return response

    def _local(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return moment.astimezone(self.calendar.zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    # -------------------------------------------------------------- audit

    def _event(self, s: Session, v: Visit, operation: str, outcome: str, detail: str, target: str = "") -> None:
        self.hub.audit.record(
            s.connection(),
            Event(
                self.clock(),
                v.who.username,
                v.who.ori,
                operation,
                outcome,
                target or v.target,
                v.client,
                detail,
                category=ADMIN,
            ),
        )

    def _audit(self, v: Visit, outcome: str, detail: str) -> None:
        """The request's audit event in its own transaction, with the session's activity."""
        with self.db.unit_of_work() as s:
            if not v.refresh:
                self.sessions.touch(s, v.signed, self.clock())
            self._event(s, v, v.page + (" (refresh)" if v.refresh else ""), outcome, detail)

    def _record(self, event: Event) -> None:
        with self.db.unit_of_work() as s:
            self.hub.audit.record(s.connection(), Event(**{**vars(event), "category": event.category or ADMIN}))


#: The audit event's operation for each page or action (a user action adds its name).
_OPERATIONS = {
    "overview": "Console Overview",
    "messages": "Console Messages",
    "requeue": "Console Requeue",
    "purge": "Console PurgeDead",
    "message": "Console Message",
    "locks": "Console Locks",
    "unlock_order": "Console UnlockOrder",
    "users": "Console Users",
    "user": "Console User",
    "user_action": "Console User",
    "audit": "Console Audit",
    "reports": "Console Reports",
    "report_page": "Console ReportPage",
    "report_csv": "Console ReportCsv",
    "logout": "Console Logout",
}


class _Forbidden(Refused):
    def __init__(self, message: str) -> None:
        super().__init__(403, message)


class _NotAdmin(Exception):  # noqa: N818
    pass


def _query_of(**fields: str | None) -> Callable[..., str]:
    """A paged list's query string for another page: its filter's non-empty fields, URL-encoded."""
    kept = {name: value for name, value in fields.items() if value}
    return lambda **more: urlencode({**kept, **more})


def _token() -> str:
    return secrets.token_urlsafe(32)


def _page_number(args: Mapping[str, str]) -> int:
    try:
        return min(MAX_PAGE, max(1, int(args.get("page") or 1)))
    except ValueError:
        return 1


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"{name}: {text!r} is not a date", [Violation(name, "YYYY-MM-DD")]) from None


def _choice(text: str | None, enum: Any, name: str) -> Any:
    if not text:
        return None
    try:
        return enum(text)
    except ValueError:
        raise ValidationError(
            f"{name}: {text!r} is not one of {', '.join(e.value for e in enum)}", [Violation(name, "a listed value")]
        ) from None


def _expiry(pem: str | None) -> datetime | None:
    """When a registered client certificate expires."""
    if not pem:
        return None
    try:
        return x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc
    except ValueError:
        return None


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _total(rows: list[queue.Activity]) -> queue.Activity:
    return queue.Activity(
        "all",
        sum(r.sent for r in rows),
        sum(r.accepted for r in rows),
        sum(r.rejected for r in rows),
        sum(r.dead for r in rows),
    )
