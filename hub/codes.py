"""Wire codes as enums whose values are the codes, and the code tables the rules use.

The XSD enumerations are the published form of these lists; ``tests/unit/test_codes.py`` fails when
the two disagree.
"""

from __future__ import annotations

import enum


class OrderStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class CancelReason(enum.StrEnum):
    TERMINATED_BY_COURT = "TERMINATED-BY-COURT"
    ENTERED_IN_ERROR = "ENTERED-IN-ERROR"
    RESTRAINED_PERSON_DECEASED = "RESTRAINED-PERSON-DECEASED"
    OTHER = "OTHER"


class PartyRole(enum.StrEnum):
    RESTRAINED = "RESTRAINED"
    PROTECTED = "PROTECTED"


class QuickAttachStatus(enum.StrEnum):
    PENDING = "PENDING"
    CONVERTED = "CONVERTED"


class Role(enum.StrEnum):
    """User roles exactly as the CCPOR user guide names them (DOMAIN.md section 1)."""

    QUERY_ONLY = "QUERY_ONLY"
    QUERY_ONLY_SEALED = "QUERY_ONLY_SEALED"
    QUERY_UPDATE = "QUERY_UPDATE"
    QUERY_UPDATE_SEALED = "QUERY_UPDATE_SEALED"
    ADMINISTRATOR = "ADMINISTRATOR"

    @property
    def may_query(self) -> bool:
        return self is not Role.ADMINISTRATOR

    @property
    def may_update(self) -> bool:
        return self in (Role.QUERY_UPDATE, Role.QUERY_UPDATE_SEALED)

    @property
    def sees_sealed(self) -> bool:
        return self in (Role.QUERY_ONLY_SEALED, Role.QUERY_UPDATE_SEALED)


class AccountStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"
    LOCKED = "LOCKED"


#: Judicial Council form -> the CLETS order type code printed on it (DOMAIN.md section 2).
FORM_TO_CLETS: dict[str, str] = {
    "DV-110": "TRO",
    "DV-130": "OAH",
    "CH-110": "TCH",
    "CH-130": "CHO",
    "EA-110": "TEA",
    "EA-130": "EAR",
    "WV-110": "TWH",
    "WV-130": "WHO",
    "SV-110": "TSV",
    "SV-130": "SVO",
    "GV-110": "TGV",
    "GV-130": "OGV",
    "EPO-001": "EPO",
    "CR-160": "CPO",
    "CR-161": "CPO",
    "JV-255": "JUV",
}

#: Longest lawful duration per form, in days from the issue date (DOMAIN.md section 2). Temporary
#: orders last until the hearing (at most ~25 days; 30 allowed here for continuances).
#: EPO: the earlier of the 5th court day or the 7th calendar day, checked as 7 days.
MAX_DURATION_DAYS: dict[str, int] = {
    "EPO-001": 7,
    "GV-110": 21,
    "DV-110": 30,
    "CH-110": 30,
    "EA-110": 30,
    "WV-110": 30,
    "SV-110": 30,
    "DV-130": 5 * 366,
    "CH-130": 5 * 366,
    "WV-130": 5 * 366,
    "EA-130": 5 * 366,
    "GV-130": 5 * 366,
    "SV-130": 3 * 366,
    "JV-255": 3 * 366,
    "CR-160": 10 * 366,
    "CR-161": 10 * 366,
}

#: The 58 California counties; the county code is the position in alphabetical order (01-58).
COUNTIES: tuple[str, ...] = (
    "Alameda",
    "Alpine",
    "Amador",
    "Butte",
    "Calaveras",
    "Colusa",
    "Contra Costa",
    "Del Norte",
    "El Dorado",
    "Fresno",
    "Glenn",
    "Humboldt",
    "Imperial",
    "Inyo",
    "Kern",
    "Kings",
    "Lake",
    "Lassen",
    "Los Angeles",
    "Madera",
    "Marin",
    "Mariposa",
    "Mendocino",
    "Merced",
    "Modoc",
    "Mono",
    "Monterey",
    "Napa",
    "Nevada",
    "Orange",
    "Placer",
    "Plumas",
    "Riverside",
    "Sacramento",
    "San Benito",
    "San Bernardino",
    "San Diego",
    "San Francisco",
    "San Joaquin",
    "San Luis Obispo",
    "San Mateo",
    "Santa Barbara",
    "Santa Clara",
    "Santa Cruz",
    "Shasta",
    "Sierra",
    "Siskiyou",
    "Solano",
    "Sonoma",
    "Stanislaus",
    "Sutter",
    "Tehama",
    "Trinity",
    "Tulare",
    "Tuolumne",
    "Ventura",
    "Yolo",
    "Yuba",
)


class CarposStatus(enum.StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


class OutboxState(enum.StrEnum):
    """An outbound message's state in the outbox, whatever its kind (hub.db.models.OutboxMessage)."""

    QUEUED = "QUEUED"  # waiting to be sent (first time, or after a transport failure's backoff)
    SENT = "SENT"  # the switch took it; DOJ's answer is awaited (resent if it is overdue)
    ACCEPTED = "ACCEPTED"  # DOJ acknowledged it
    REJECTED = "REJECTED"  # DOJ rejected it (the reason is in the inbox); fixed by ResubmitToCarpos
    DEAD = "DEAD"  # gave up after the retry policy's attempts, or the switch refused it; requeue to retry
    SUPERSEDED = "SUPERSEDED"  # never sent: the order's entry was rejected, a resubmitted EPO carries it

    @property
    def finished(self) -> bool:
        """A later message of the same order may go once every earlier one is finished."""
        return self in (OutboxState.ACCEPTED, OutboxState.REJECTED, OutboxState.SUPERSEDED)


FINISHED_STATES = tuple(s.value for s in OutboxState if s.finished)


class OrganizationKind(enum.StrEnum):
    COURT = "COURT"
    SHERIFF = "SHERIFF"
    AGENCY = "AGENCY"


def default_kind_of_ori(ori: str) -> OrganizationKind:
    """The kind an ORI suggests when an organization is registered: ``...0000`` is the county's
    sheriff (CA0190000), ``...J`` a court by common practice; anything else a law-enforcement agency.
    The registry is configuration data: an administrator can correct it."""
    if ori.endswith("0000"):
        return OrganizationKind.SHERIFF
    if ori.endswith("J"):
        return OrganizationKind.COURT
    return OrganizationKind.AGENCY


def county_code_of_ori(ori: str) -> str:
    """The two-digit county code inside an ORI (``CA0190000`` -> ``19``); ValueError if none."""
    if len(ori) != 9 or not ori.startswith("CA0") or not ori[3:5].isdigit():
        raise ValueError(f"not a California ORI: {ori!r}")
    code = ori[3:5]
    if not 1 <= int(code) <= len(COUNTIES):
        raise ValueError(f"ORI {ori} names county code {code}, which does not exist (01-58)")
    return code
