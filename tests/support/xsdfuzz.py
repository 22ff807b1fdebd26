"""Hypothesis strategies for fuzzing a SOAP service from its XSD: instances, mutations, answer checks.

``SchemaInstances(xsd).element("SubmitOrder")`` draws ``svc:SubmitOrder`` elements that are valid by
the schema -- read from xmlschema's component tree, so a new element or facet in xsd/ is fuzzed
without touching a test -- with random values that lean on the boundaries: empty and maximal
strings, odd Unicode (astral letters, right-to-left marks, zero-width characters), dates of years
1 and 9999, date-times with and without a zone, ``T24:00:00``, the extremes of every integer range.
``hints`` replace the values of named elements with ones a test knows matter (ids that exist,
ids of another organization's orders, a real PDF): half the time the hint, half the schema's own.

What is generated, per component:

    enumeration               one of its values
    pattern (string types)    ``st.from_regex`` of the pattern, fully anchored as XSD patterns are;
                              ``\\p{L}``, ``\\p{Lu}``, ``\\p{Ll}``, ``\\p{N}``, ``\\p{Nd}`` become classes of
                              letters/digits from several scripts (XSD-only escapes such as ``\\i``
                              fall back to xmlschema's own translation)
    other strings             text of XML characters between minLength and maxLength, and exactly
                              either length
    integers, boolean,        every lexical form the type allows (``+5``, ``007``, `` 1 ``, ``1``/``true``)
    date, time, dateTime      boundary values and random ones, with and without a zone
    base64Binary              encoded bytes, with line breaks, and empty
    sequence / choice / all   each particle minOccurs..maxOccurs times (at most MAX_REPEAT more)

Every simple value is checked with the type's own ``is_valid`` (facets of every derivation step),
so what comes out is valid by xmlschema; libxml2, which the hub validates with, agrees on all but a
few corner cases (e.g. years after 9999), and those simply get ``Client.ValidationError``.
Attributes: required ones always, optional ones now and then (a fixed value as fixed). Optional
wildcards (``xs:any minOccurs="0"``) and a choice's wildcard branches are left out; a required one
or ``xs:anyAttribute`` is refused (NotImplementedError) rather than fuzzed partly.

``mutants(element)`` derives invalid variants: an element removed, doubled, emptied, swapped with
its sibling, renamed into another namespace; a stranger inserted; a text replaced by a value of the
wrong type (``WRONG_VALUES``); ``xsi:nil``/``xsi:type`` set; a comment splitting a text.

``check_answer`` is the property every answer must have; ``LogCapture`` collects what the code
under test logs.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xmlschema
from hypothesis import strategies as st
from lxml import etree
from xmlschema.validators import XsdAtomicBuiltin, XsdElement, XsdGroup

from hub import ns

XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: Repetitions drawn beyond minOccurs for an unbounded (or large) maxOccurs of a simple element
#: (complex ones: one more at most, or the instances get large and slow to draw).
MAX_REPEAT = 3
#: The longest text drawn for a string without maxLength.
MAX_TEXT = 300

# ------------------------------------------------------------------------------------ characters

#: Letters of several scripts (Latin with accents, Greek, Cyrillic, Hebrew, Georgian, Thai, kana, and
#: Deseret beyond the BMP): all of Unicode category L, so they match XSD's \p{L}. Not CJK ideographs
#: or Hangul: libxml2 (2.14) matches only the first and last of those ranges with \p{L}.
LETTERS = "A-Za-zÀ-ÖØ-öø-ȶΑ-ΡΣ-ωЀ-ҁא-תა-ჰก-ะぁ-ゖァ-ヺ𐐀-𐑏"
_CATEGORY = {
    "L": LETTERS,
    "Lu": "A-ZÀ-ÖØ-ÞΑ-ΡΣ-ΩЀ-Я𐐀-𐐧",
    "Ll": "a-zß-öø-ÿα-ωа-џ𐐨-𐑏",
    "N": "0-9٠-٩०-९０-９",
    "Nd": "0-9٠-٩०-९０-９",
}
_P_ESCAPE = re.compile(r"\\p\{(\w+)\}")
_XSD_ONLY = re.compile(r"\\[iIcCP]|\\p\{Is|-\[")

#: Characters XML 1.0 can carry in text (no C0 controls but tab/newline, no surrogates, no U+FFFE/F).
xml_chars = st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t\n", exclude_characters="\ufffe\uffff")
#: Strings that have broken text handling elsewhere: markup characters, SQL and LIKE metacharacters,
#: bidirectional overrides, zero-width and combining characters, astral characters, whitespace only.
ODD_TEXTS = [
    " ",
    "\t\n ",
    "<&>\"'",
    "]]>",
    "%",
    "_",
    "%_%",
    "*?",
    "' OR '1'='1",
    "\\",
    "\u202eRTL\u202c",
    "\u200b",
    "\ufeff",
    "e\u0301",
    "😀",
    "𝔸𝔹",
    "Ω≈ç√∫",
    "NULL",
]


def _generation_regex(pattern: str, compiled: re.Pattern[str]) -> str | re.Pattern[str]:
    """A Python regex to generate from for one XSD pattern (matched as a whole)."""
    if _XSD_ONLY.search(pattern) or any(m.group(1) not in _CATEGORY for m in _P_ESCAPE.finditer(pattern)):
        return compiled  # xmlschema's translation: exact, but huge classes (slow to draw from)
    out, in_class = [], False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            m = _P_ESCAPE.match(pattern, i)
            if m:
                letters = _CATEGORY[m.group(1)]
                out.append(letters if in_class else f"[{letters}]")
                i = m.end()
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


# -------------------------------------------------------------------------------- simple values


def _builtin(t: Any) -> str:
    """The local name of the built-in type ``t`` derives from (int, string, dateTime, ...)."""
    while t is not None and not isinstance(t, XsdAtomicBuiltin):
        t = t.base_type
    return "string" if t is None else str(etree.QName(t.name).localname)


_INTEGER_KINDS = {
    "integer",
    "int",
    "long",
    "short",
    "byte",
    "nonNegativeInteger",
    "positiveInteger",
    "nonPositiveInteger",
    "negativeInteger",
    "unsignedLong",
    "unsignedInt",
    "unsignedShort",
    "unsignedByte",
}
_BIG = 10**30  # "unbounded" integer types: far beyond any column


def _integer_texts(t: Any) -> st.SearchStrategy[str]:
    lo = int(t.min_value) if t.min_value is not None else -_BIG
    hi = int(t.max_value) if t.max_value is not None else _BIG
    edges = sorted({v for v in (lo, lo + 1, hi - 1, hi, 0, 1, -1, 2**31 - 1, 2**31, 2**63 - 1) if lo <= v <= hi})
    number = st.one_of(st.sampled_from(edges), st.integers(lo, hi))
    return st.builds(_integer_lexical, number, st.sampled_from(["plain", "plus", "zero", "spaces"]))


def _integer_lexical(n: int, form: str) -> str:
    """``n`` in one of the lexical forms xs:integer allows: 5, +5, 05, " 5 " (whitespace collapses)."""
    sign = "-" if n < 0 else "+" if form == "plus" else ""
    digits = ("0" if form == "zero" else "") + str(abs(n))
    return f" {sign}{digits}\n" if form == "spaces" else sign + digits


_ZONES = ["Z", "+00:00", "-00:00", "+14:00", "-14:00", "+05:30", "-08:00"]
_EDGE_YEARS = [1, 1582, 1899, 1900, 1970, 1999, 2000, 2038, 2099, 2100, 9999]


@st.composite
def _dates(draw: st.DrawFn, years: st.SearchStrategy[int]) -> str:
    year = draw(years)
    month = draw(st.integers(1, 12))
    day = draw(st.one_of(st.integers(1, 28), st.sampled_from([29, 30, 31])))
    return f"{year:04d}-{month:02d}-{day:02d}"


@st.composite
def _times(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 0:
        return "24:00:00"  # XSD 1.0's end of day (Python's time has no such value)
    h, m, s = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    fraction = draw(st.sampled_from(["", "", ".0", ".5", ".123456", ".999999999"]))
    return f"{h:02d}:{m:02d}:{s:02d}{fraction}"


def _date_texts(kind: str, t: Any) -> st.SearchStrategy[str]:
    """Dates, times, date-times in the years and with the zones ``t`` allows (probed: a pattern may
    narrow them, as ord:DateType does to 1900-2099 without a zone); no zone half the time."""
    sample = {"date": "{y:04d}-06-15", "time": "12:00:00", "dateTime": "{y:04d}-06-15T12:00:00"}[kind]
    years_ok = [y for y in _EDGE_YEARS if t.is_valid(sample.format(y=y))] or [2000]
    years = st.one_of(st.sampled_from(years_ok), st.integers(min(years_ok), max(years_ok)))
    zones = [z for z in _ZONES if t.is_valid(sample.format(y=years_ok[0]) + z)]
    zones = [""] * max(1, len(zones)) + zones
    if kind == "date":
        value = _dates(years)
    elif kind == "time":
        value = _times()
    else:
        value = st.tuples(_dates(years), _times()).map("T".join)
    return st.tuples(value, st.sampled_from(zones)).map("".join)


def _base64_texts() -> st.SearchStrategy[str]:
    def encode(raw: bytes, wrap: int) -> str:
        text = base64.b64encode(raw).decode()
        return "\n".join(text[i : i + wrap] for i in range(0, len(text), wrap)) if wrap else text

    return st.builds(encode, st.binary(max_size=96), st.sampled_from([0, 0, 4, 76]))


def _string_texts(t: Any) -> st.SearchStrategy[str]:
    lo = int(t.min_length or 0)
    hi = int(t.max_length if t.max_length is not None else MAX_TEXT)
    choices = [st.text(xml_chars, min_size=lo, max_size=min(hi, lo + 12))]
    choices.append(st.builds(lambda c, n: c * n, xml_chars, st.sampled_from(sorted({max(lo, 1), hi}))))
    choices.append(st.sampled_from(ODD_TEXTS))
    return st.one_of(choices)


def simple_texts(t: Any) -> st.SearchStrategy[str]:
    """Lexical values valid for the simple type ``t``."""
    if getattr(t, "enumeration", None):
        return st.sampled_from([str(v) for v in t.enumeration])
    valid = functools.lru_cache(maxsize=4096)(t.is_valid)  # values repeat a lot while hypothesis shrinks
    if t.is_list():
        return st.lists(simple_texts(t.item_type), min_size=1, max_size=3).map(" ".join).filter(valid)
    if t.is_union():
        return st.one_of([simple_texts(m) for m in t.member_types]).filter(valid)
    kind = _builtin(t)
    patterns = getattr(t, "patterns", None)
    if kind in _INTEGER_KINDS:
        candidates = _integer_texts(t)
    elif kind == "boolean":
        candidates = st.sampled_from(["true", "false", "1", "0", " true "])
    elif kind in ("date", "time", "dateTime"):
        candidates = _date_texts(kind, t)
    elif kind == "base64Binary":
        candidates = _base64_texts()
    elif patterns:
        # The patterns of one derivation step are alternatives; those of the base steps, is_valid checks.
        candidates = st.one_of(
            [
                st.from_regex(_unanchored(_generation_regex(p, c)), fullmatch=True, alphabet=xml_chars)
                for p, c in zip(patterns.regexps, patterns.patterns, strict=True)
            ]
        )
    else:
        candidates = _string_texts(t)
    return candidates.filter(valid)


def _unanchored(regex: str | re.Pattern[str]) -> str:
    """xmlschema anchors its translations (``^(?:...)$(?!\\n\\Z)``); from_regex wants the core."""
    text = regex if isinstance(regex, str) else regex.pattern
    if text.startswith("^(?:") and text.endswith(")$(?!\\n\\Z)"):
        return text[4 : -len(")$(?!\\n\\Z)")]
    return text


# ------------------------------------------------------------------------------------- instances

#: Hints by element (``{namespace}Local`` or ``Local``) or by type (``type:LocalTypeName``): a
#: strategy of texts (simple elements) or of elements (complex ones, retagged to fit).
Hints = Mapping[str, st.SearchStrategy[Any]]


class SchemaInstances:
    """Strategies for the global elements of one schema file (its imports included)."""

    def __init__(self, xsd: Path | str, hints: Hints | None = None) -> None:
        self.schema = xmlschema.XMLSchema(str(xsd))
        self.hints = dict(hints or {})
        self._cache: dict[int, st.SearchStrategy[etree._Element]] = {}

    def element(self, local: str) -> st.SearchStrategy[etree._Element]:
        """Instances of the global element ``local`` of this schema's target namespace."""
        return self._element(self.schema.elements[local])

    def _element(self, decl: XsdElement) -> st.SearchStrategy[etree._Element]:
        key = id(decl)
        if key not in self._cache:
            self._cache[key] = st.deferred(lambda: self._build(decl))
        return self._cache[key]

    def _build(self, decl: XsdElement) -> st.SearchStrategy[etree._Element]:
        tag = decl.name
        t = decl.type
        if t.is_simple() or t.has_simple_content():
            simple = t if t.is_simple() else t.content
            own: st.SearchStrategy[Any] = st.just(decl.fixed) if decl.fixed is not None else simple_texts(simple)
        else:
            own = self._group(t.content)
        hint = self._hint(decl)
        values = st.one_of(hint, own) if hint is not None else own
        attributes = st.just({}) if t.is_simple() else self._attributes(t)
        return st.tuples(values, attributes).map(lambda va: _make(tag, *va))

    def _hint(self, decl: XsdElement) -> st.SearchStrategy[Any] | None:
        """The hint for ``decl``: by its qualified name, else its type's (``type:SearchPatternType``),
        else its local name."""
        keys = [decl.name, f"type:{etree.QName(decl.type.name).localname}" if decl.type.name else None]
        keys.append(etree.QName(decl.name).localname)
        return next((self.hints[k] for k in keys if k in self.hints), None)

    @staticmethod
    def _attributes(t: Any) -> st.SearchStrategy[dict[str, str]]:
        """Required attributes always, optional ones now and then; a fixed value as it is fixed."""
        drawn: dict[str, st.SearchStrategy[str | None]] = {}
        for name, a in t.attributes.items():
            if name is None:
                raise NotImplementedError(f"{t!r}: attribute wildcards are not generated")
            value = st.just(str(a.fixed)) if a.fixed is not None else simple_texts(a.type)
            drawn[name] = value if a.use == "required" else st.one_of(st.none(), value)
        return st.fixed_dictionaries(drawn).map(lambda d: {k: v for k, v in d.items() if v is not None})

    def _group(self, group: XsdGroup) -> st.SearchStrategy[list[etree._Element]]:
        particles = list(group)
        if group.model == "choice":  # a choice can do without its wildcard branches
            particles = [p for p in particles if isinstance(p, XsdElement | XsdGroup)] or particles
        parts = [self._occurs(p) for p in particles]
        if not parts:
            return st.just([])
        if group.model == "choice":
            chosen = st.one_of(parts).map(lambda one: [one])
        elif group.model == "all":
            chosen = st.tuples(*parts).flatmap(lambda t: st.permutations(list(t))).map(lambda t: [x for x in t])
        else:
            chosen = st.tuples(*parts).map(list)
        return self._repeat(group, chosen.map(_flatten))

    def _occurs(self, particle: Any) -> st.SearchStrategy[list[etree._Element]]:
        if isinstance(particle, XsdElement):
            return self._repeat(particle, self._element(particle).map(lambda e: [e]))
        if isinstance(particle, XsdGroup):
            return self._group(particle)
        if int(particle.min_occurs) == 0:
            return st.just([])  # an optional wildcard (the envelope's ds:Signature): left out
        raise NotImplementedError(f"{particle!r}: required wildcards are not generated")

    @staticmethod
    def _repeat(particle: Any, one: st.SearchStrategy[list[etree._Element]]) -> st.SearchStrategy[list[Any]]:
        lo, hi = int(particle.min_occurs), particle.max_occurs
        if lo == hi == 1:
            return one
        simple = isinstance(particle, XsdElement) and particle.type.is_simple()
        cap = lo + (MAX_REPEAT if simple else 1)
        cap = cap if hi is None else min(int(hi), cap)
        repeated = st.lists(one, min_size=lo, max_size=cap)
        if simple and hi is not None and cap < int(hi) <= 25:  # the maximum itself, now and then
            repeated = st.one_of(repeated, st.lists(one, min_size=int(hi), max_size=int(hi)))
        return repeated.map(_flatten)


def _flatten(parts: Any) -> list[etree._Element]:
    return [e for part in parts for e in part]


def _make(tag: str, value: Any, attributes: dict[str, str]) -> etree._Element:
    if isinstance(value, etree._Element):  # a hint's element: its content under the schema's tag
        el = etree.Element(tag, dict(value.attrib), nsmap=value.nsmap)
        el.text = value.text
        el.extend(etree.fromstring(etree.tostring(child)) for child in value)
        return el
    el = etree.Element(tag, attributes)
    if isinstance(value, str):
        el.text = value
    else:
        el.extend(value)
    return el


# ------------------------------------------------------------------------------------- mutations

#: Texts of the wrong type, length or shape for most elements.
WRONG_VALUES = [
    "",
    " ",
    "x",
    "-1",
    "0",
    "2147483648",
    "-9223372036854775809",
    "99999999999999999999999999",
    "1.5",
    "1e3",
    "NaN",
    "INF",
    "yes",
    "2024-02-30",
    "2024-13-01",
    "0000-01-01",
    "2024-01-01T25:00:00",
    "24:60:00",
    "CCP",
    "CCP99999999999",
    "CMS00000000001",
    "../../etc/passwd",
    "%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%",
    "Robert'); DROP TABLE orders;--",
    "A" * 5000,
    "\u202e",
    "😀" * 50,
]

MUTATIONS = ("remove", "duplicate", "empty", "text", "stranger", "foreign", "swap", "rename", "nil", "type", "comment")


@st.composite
def mutants(draw: st.DrawFn, element: etree._Element) -> tuple[str, etree._Element]:
    """(what was done, a mutated copy of ``element``): most are invalid by the schema, some not."""
    tree = etree.fromstring(etree.tostring(element))
    nodes = list(tree.iter(etree.Element))
    kind = draw(st.sampled_from(MUTATIONS))
    target = nodes[draw(st.integers(0, len(nodes) - 1))]
    parent = target.getparent()
    namespace = etree.QName(target).namespace or ""
    if kind == "remove" and parent is not None:
        parent.remove(target)
    elif kind == "duplicate" and parent is not None:
        target.addnext(etree.fromstring(etree.tostring(target)))
    elif kind == "empty":
        target[:] = []
        target.text = None
    elif kind == "text":
        target[:] = []
        target.text = draw(st.one_of(st.sampled_from(WRONG_VALUES), st.text(xml_chars, max_size=40)))
    elif kind == "stranger":
        etree.SubElement(target, f"{{{namespace}}}Unexpected").text = draw(st.text(xml_chars, max_size=20))
    elif kind == "foreign":
        target.insert(0, etree.Element("{urn:example:stranger}Extra"))
    elif kind == "swap" and target.getnext() is not None:
        target.addprevious(target.getnext())
    elif kind == "rename":
        target.tag = f"{{{draw(st.sampled_from(['', 'urn:example:stranger', ns.ORDER, ns.ORDERS_SERVICE]))}}}" + (
            etree.QName(target).localname
        )
        if target.tag.startswith("{}"):
            target.tag = target.tag[2:]
    elif kind == "nil":
        target.set(f"{{{XSI}}}nil", "true")
    elif kind == "type":
        names = ["xs:string", "xs:anyType", "Nothing", "ord:DraftProtectionOrderType"]
        target.set(f"{{{XSI}}}type", draw(st.sampled_from(names)))  # prefixes resolve as they may
    elif kind == "comment" and target.text and len(target) == 0:
        text, cut = target.text, draw(st.integers(0, len(target.text)))
        target.text = text[:cut]
        comment = etree.Comment("x")
        comment.tail = text[cut:]
        target.append(comment)
    return kind, tree


# ------------------------------------------------------------------------------------ the checks

#: Fault codes a caller may get: its own mistakes, and the two SOAP 1.1 envelope faults.
CLIENT_FAULTS = re.compile(r"^(Client(\..+)?|VersionMismatch|MustUnderstand)$")


@dataclass(frozen=True)
class Answer:
    """What the WSGI application answered, or (``raised``) the exception it let escape -- which
    gunicorn turns into a bare HTTP 500 page and a traceback in its log."""

    status: str
    headers: dict[str, str]
    body: bytes
    root: etree._Element | None = None
    raised: str | None = None

    @property
    def fault(self) -> etree._Element | None:
        return None if self.root is None else self.root.find(f".//{{{ns.SOAP11_ENV}}}Fault")

    @property
    def fault_code(self) -> str | None:
        fault = self.fault
        return None if fault is None else (fault.findtext("faultcode") or "").split(":")[-1]

    def describe(self) -> str:
        if self.raised:
            return f"the application raised {self.raised}"
        return f"{self.status} {self.headers.get('Content-Type')} {self.body[:600]!r}"


def call(app: Callable[..., Any], path: str, body: bytes, **environ: Any) -> Answer:
    """POST ``body`` to ``path`` of the WSGI ``app`` in-process (``environ`` adds or overrides keys)."""
    import io

    env: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": "text/xml; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8080",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
    }
    env.update({k: v for k, v in environ.items() if v is not None})
    for k in [k for k, v in environ.items() if v is None]:
        env.pop(k, None)
    started: list[tuple[str, list[tuple[str, str]]]] = []
    try:
        chunks = app(env, lambda status, headers, exc_info=None: started.append((status, headers)))
        content = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
    except Exception as exc:  # noqa: BLE001 - what the server would turn into a bare 500
        return Answer("500 Internal Server Error", {"Content-Type": "text/html"}, b"", None, repr(exc))
    status, headers = started[0]
    try:
        root = etree.fromstring(content)
    except etree.XMLSyntaxError:
        root = None
    return Answer(status, dict(headers), content, root)


def check_answer(answer: Answer, operation: str | None, namespace: str | None) -> None:
    """A SOAP 1.1 answer: the operation's response with HTTP 200, or a fault with a caller's code
    (HTTP 500, or 413/415 where the entry point keeps the HTTP meaning) -- never a Server fault,
    an empty or non-XML body, or a bare HTTP error page."""
    assert answer.raised is None, answer.describe()
    assert answer.headers.get("Content-Type", "").startswith("text/xml"), answer.describe()
    assert answer.root is not None, f"not XML: {answer.describe()}"
    assert answer.root.tag == f"{{{ns.SOAP11_ENV}}}Envelope", answer.describe()
    body = answer.root.find(f"{{{ns.SOAP11_ENV}}}Body")
    assert body is not None and len(body) == 1, answer.describe()
    fault = answer.fault
    if fault is None:
        assert answer.status.startswith("200"), answer.describe()
        if operation is not None:
            assert body[0].tag == f"{{{namespace}}}{operation}Response", answer.describe()
        return
    code = answer.fault_code or ""
    assert CLIENT_FAULTS.match(code), f"fault code {code!r}: {answer.describe()}"
    assert answer.status[:3] in ("500", "413", "415"), answer.describe()


# ------------------------------------------------------------------------------------------ logs


@dataclass
class LogCapture(logging.Handler):
    """Every record at WARNING or above, and any record carrying a traceback, from any logger.

    Loggers keep their levels: ``spyne`` is set to CRITICAL as the hub's and the switch's servers
    set it (Spyne logs each fault it sends with a traceback; the hub logs refusals itself).
    """

    records: list[logging.LogRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        logging.Handler.__init__(self, level=logging.DEBUG)

    def __hash__(self) -> int:
        return id(self)

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING or record.exc_info:
            self.records.append(record)

    def problems(self) -> list[str]:
        """What the hub must not log for any input: errors, and tracebacks at any level."""
        return [
            f"{r.levelname} {r.name}: {r.getMessage()}\n{self.format(r) if r.exc_info else ''}"
            for r in self.records
            if r.levelno >= logging.ERROR or r.exc_info
        ]

    @contextmanager
    def installed(self) -> Iterator[LogCapture]:
        root, spyne = logging.getLogger(), logging.getLogger("spyne")
        levels = (root.level, spyne.level)
        root.addHandler(self)
        root.setLevel(logging.INFO)
        spyne.setLevel(logging.CRITICAL)
        try:
            yield self
        finally:
            root.removeHandler(self)
            root.setLevel(levels[0])
            spyne.setLevel(levels[1])
