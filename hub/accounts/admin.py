"""Account administration (the ADMINISTRATOR role's use cases behind /ws/admin and the CLI).

Each function changes one account in the caller's unit of work and returns it with a sentence of
what changed, which the caller records as the audit event's detail (never the password).
An administrator cannot lock themselves out: they may not disable their own account or take the
ADMINISTRATOR role from it.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.accounts.passwords import hash_password
from hub.accounts.service import Principal, add_user, ensure_organization, seal_for_digest
from hub.clock import utcnow
from hub.codes import AccountStatus, Role
from hub.db.models import Account, Organization
from hub.errors import Forbidden, InvalidState, NotFound, ValidationError, Violation
from hub.masterkey import Sealer


def account(s: Session, username: str) -> Account:
    found = s.scalar(select(Account).where(Account.username == username))
    if found is None:
        raise NotFound(f"no account named {username!r}")
    return found


def list_query(ori: str | None, role: Role | None, status: AccountStatus | None):  # type: ignore[no-untyped-def]
    query = select(Account).join(Organization, Organization.id == Account.organization_id)
    if ori:
        query = query.where(Organization.ori == ori)
    if role:
        query = query.where(Account.role == role.value)
    if status:
        query = query.where(Account.status == status.value)
    return query


def save_user(
    s: Session,
    *,
    username: str,
    ori: str,
    role: Role | None,
    clets: bool | None,
    password: str | None,
    digest: bool | None,
    sealer: Sealer,
) -> tuple[Account, str]:
    """Create the account, or change its organization, password and PasswordDigest permission."""
    existing = s.scalar(select(Account).where(Account.username == username))
    if existing is None:
        missing = [name for name, value in (("Role", role), ("Password", password)) if value is None]
        if missing:
            raise ValidationError(
                f"a new account needs {' and '.join(missing)}",
                [Violation(f"/adm:SaveUser/adm:{name}", "required to create an account") for name in missing],
            )
        assert role is not None and password is not None
        created = add_user(
            s,
            username,
            ori=ori,
            role=role,
            clets=bool(clets),
            password=password,
            digest_sealer=sealer if digest else None,
        )
        extras = (", CLETS certified" if clets else "") + (", PasswordDigest allowed" if digest else "")
        return created, f"created {role.value}{extras} in {ori}"
    if (role is not None and role.value != existing.role) or (clets is not None and clets != existing.clets_certified):
        raise ValidationError(
            "change roles and CLETS certification with SetUserRoles",
            [Violation("/adm:SaveUser/adm:Role", "differs from the account's; use SetUserRoles")],
        )
    changes = []
    if ensure_organization(s, ori).id != existing.organization_id:
        changes.append(f"organization {existing.organization.ori} -> {ori}")
        existing.organization = ensure_organization(s, ori)
    if password is not None:
        existing.password_hash = hash_password(password)
        changes.append("password changed")
    allow_digest = (existing.password_sealed is not None) if digest is None else digest
    if allow_digest and (password is not None or existing.password_sealed is None):
        if password is None:
            raise ValidationError(
                "allowing PasswordDigest needs the password (the hub keeps only its hash): send Password too",
                [Violation("/adm:SaveUser/adm:Password", "required to allow PasswordDigest")],
            )
        existing.password_sealed = seal_for_digest(sealer, username, password)
        changes.append("PasswordDigest allowed")
    elif not allow_digest and existing.password_sealed is not None:
        existing.password_sealed = None
        changes.append("PasswordDigest withdrawn")
    existing.updated_at = utcnow()
    return existing, "; ".join(changes) or "no change"


def set_roles(s: Session, admin: Principal, username: str, role: Role, clets: bool) -> tuple[Account, str]:
    target = account(s, username)
    if target.id == admin.account_id and role is not Role.ADMINISTRATOR:
        raise Forbidden("you cannot take the ADMINISTRATOR role from your own account")
    detail = f"role {target.role} -> {role.value}; CLETS {target.clets_certified} -> {clets}"
    target.role = role.value
    target.clets_certified = clets
    target.updated_at = utcnow()
    return target, detail


def enable(s: Session, username: str, reason: str) -> tuple[Account, str]:
    """Undo a deliberate disable: DISABLED -> ACTIVE with a fresh failed-logon count, a reason required
    (the audit event's detail). Its own action, never a side effect of releasing a lockout."""
    target = account(s, username)
    enabled = s.execute(
        update(Account)
        .where(Account.id == target.id, Account.status == AccountStatus.DISABLED.value)
        .values(status=AccountStatus.ACTIVE.value, failed_logons=0, first_failed_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    s.refresh(target)
    if not enabled:
        raise InvalidState(f"account {username!r} is {target.status}, not disabled: there is nothing to enable")
    return target, f"enabled: {reason}"


def disable(s: Session, admin: Principal, username: str, reason: str) -> tuple[Account, str]:
    target = account(s, username)
    if target.id == admin.account_id:
        raise Forbidden("you cannot disable your own account")
    target.status = AccountStatus.DISABLED.value
    target.updated_at = utcnow()
    return target, f"disabled: {reason}"
