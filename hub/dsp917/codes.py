"""DSP917's code lists (``xsd/dsp917/mapping/request-enumerations.csv``) in the registry's terms, and
the error codes of the business response.

A code without an entry here has no place in the canonical order: the mapping keeps it -- the
notification is stored as the court sent it, with the order version it made -- and says so in a
note; it never drops it silently.
"""

from __future__ import annotations

import enum

from hub.codes import FORM_TO_CLETS

#: nc:ActivityCategoryText (the order type, free text of up to 60 characters): a CLETS order type
#: code (``TRO``) or a Judicial Council form number (``DV-110``). A CLETS code names its form;
#: ``CPO`` is both CR-160 and CR-161 -- the domestic-violence one unless the court sends the form.
CLETS_TO_FORM: dict[str, str] = {}
for _form, _clets in FORM_TO_CLETS.items():
    CLETS_TO_FORM.setdefault(_clets, _form)

#: DSP917 race (its own list, not NCIC's) -> NCIC RAC. DSP917's ``U`` is *Hawaiian* (NCIC's ``U`` is
#: unknown) and its ``X`` is unknown; the Asian nationalities fold into NCIC's ``A``.
RACE = {
    "A": "A", "C": "A", "D": "A", "F": "A", "J": "A", "K": "A", "L": "A", "V": "A", "Z": "A",
    "B": "B", "H": "H", "I": "I", "W": "W",
    "G": "P", "P": "P", "S": "P", "U": "P",
    "O": "U", "X": "U",
}  # fmt: skip

#: DSP917 gender -> NCIC SEX (``X`` unknown).
SEX = {"F": "F", "M": "M", "X": "U"}

#: Participant roles (cajud:EntityRoleCode).
PROTECTED_ROLES = ("PPSC", "APPSC")  # protected person, additional protected person
RESTRAINED_ROLE = "RESPER"
SERVER_ROLE = "AFS"  # agent for service

#: Name types that are another name of the same person (-> PersonAlternateName); NAMEONCASE,
#: TRUENAME, FILEDAS and a name without a type are the name on the case.
ALTERNATE_NAME_TYPES = frozenset({"ALIAS", "AKA", "MONIKER", "FKA", "ESA"})

#: cajud:FirearmProvisionsCode: N none; P cannot purchase or receive; S must surrender all; B both.
FIREARM_RESTRICTED = frozenset({"P", "S", "B"})
FIREARM_SURRENDER = frozenset({"S", "B"})

#: cajud:StayAwayText is a concatenation of place letters (CCPOR's field list: "e.g. CPRVW").
STAY_AWAY_PLACES = {
    "C": "the protected person's children",
    "P": "the protected person",
    "R": "the residence",
    "V": "the vehicle",
    "W": "the workplace",
}

#: The registry's stay-away distance is 1..10000 yards (ord:StayAwayDistanceType).
MAX_YARDS = 10000

#: cajud:CancellationReasonText (one letter; the specification lists no values): what a court's
#: cancel means in the registry. Anything else is a court's termination.
CANCEL_REASONS = {
    "E": "ENTERED-IN-ERROR",
    "D": "RESTRAINED-PERSON-DECEASED",
    "T": "TERMINATED-BY-COURT",
}


#: Master-key purposes: the queued business responses, and the courts' response-service passwords.
RESPONSES_PURPOSE = "dsp917-responses"
COURT_SECRETS_PURPOSE = "dsp917-court-secrets"


class Outcome(enum.StrEnum):
    """What became of one notification (the business response says it to the court)."""

    ACCEPTED = "ACCEPTED"  # the order was added, updated or cancelled as sent
    HELD = "HELD"  # stored as a DRAFT as sent, kept out of CARPOS until a correction passes the rules
    REFUSED = "REFUSED"  # nothing changed (the order to update was not found, or cannot change so)


class ErrorCode(enum.Enum):
    """The error codes of the business response (``ErrorInformationMessageCode``; docs/CONTRACT.md,
    "DSP917 error codes"). 450000 is the specification's own; the others are the hub's."""

    LOOKUP = ("450000", "Transaction cannot be processed, because the look-up information was not found/mismatch.")
    RULES = ("450100", "The order is stored in CCPOR as a draft, not in force, until a correction passes these rules")
    CHANGE_REFUSED = ("450110", "The update was not applied: the order would break these rules; it stays as it was")
    STATE = ("450200", "The order cannot be changed so in its current state")
    MAPPING = ("450300", "The notification carries a value CCPOR cannot hold")
    CARPOS = ("450400", "DOJ (CARPOS) rejected the order")

    def __init__(self, code: str, text: str) -> None:
        self.code = code
        self.text = text
