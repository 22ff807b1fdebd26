from __future__ import annotations

import pytest

from hub.errors import HostileXml, MalformedRequest, RequestTooLarge
from hub.xmlsafe import XmlLimits, iter_records, parse, parse_chunks

LIMITS = XmlLimits(max_bytes=100_000, max_depth=10, max_elements=50, max_attributes=5)


def test_plain_document_parses_without_comments():
    root = parse(b"<a><!-- note --><b>x</b></a>", LIMITS)
    assert [c.tag for c in root] == ["b"]


@pytest.mark.parametrize(
    "doc, error",
    [
        (b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', HostileXml),
        (b'<!DOCTYPE a SYSTEM "http://127.0.0.1:9/x.dtd"><a/>', HostileXml),
        (b"<a>&undefined;</a>", HostileXml),
        (b"<a><?php echo 1 ?></a>", HostileXml),
        (b"<?pi before?><a/>", HostileXml),
        (b"<a>" + b"<b>" * 11 + b"</b>" * 11 + b"</a>", RequestTooLarge),
        (b"<a>" + b"<b/>" * 60 + b"</a>", RequestTooLarge),
        (b'<a p="1" q="2" r="3" s="4" t="5" u="6"/>', RequestTooLarge),
        (b"<a>" + b"x" * 100_001 + b"</a>", RequestTooLarge),
        (b"<a><b></a>", MalformedRequest),
        (b"   ", MalformedRequest),
        (b"\xff\xfe<\x00a\x00", MalformedRequest),
    ],
)
def test_refusals(doc: bytes, error: type[Exception]):
    with pytest.raises(error):
        parse(doc, LIMITS)


def _nested(levels: int, per_level: int, attributes: int = 0) -> bytes:
    """``levels`` nested elements, each declaring ``per_level`` new namespaces; the innermost with
    ``attributes`` attributes."""
    opens = [
        "<e{} {}>".format(level, " ".join(f'xmlns:p{level}x{i}="urn:{level}:{i}"' for i in range(per_level)))
        for level in range(levels)
    ]
    leaf = "<leaf {}/>".format(" ".join(f'a{i}="1"' for i in range(attributes)))
    return ("".join(opens) + leaf + "".join(f"</e{level}>" for level in reversed(range(levels)))).encode()


@pytest.mark.parametrize(
    "doc, refused",
    [
        (b'<a p="1" q="2" r="3" s="4" t="5"/>', False),
        (b'<a xmlns:n1="urn:1" xmlns:n2="urn:2" p="1" q="2" r="3"/>', False),
        (b'<a xmlns:n1="urn:1" xmlns:n2="urn:2" xmlns:n3="urn:3" p="1" q="2" r="3"/>', True),
        (
            b'<a xmlns="urn:0" xmlns:n1="urn:1" xmlns:n2="urn:2" xmlns:n3="urn:3" xmlns:n4="urn:4" xmlns:n5="urn:5"/>',
            True,
        ),
        # inherited namespaces count too: each element's nsmap holds them
        (b'<a xmlns:n1="urn:1" xmlns:n2="urn:2" xmlns:n3="urn:3" xmlns:n4="urn:4" xmlns:n5="urn:5"><c/></a>', False),
        (
            b'<a xmlns:n1="urn:1" xmlns:n2="urn:2" xmlns:n3="urn:3" xmlns:n4="urn:4" xmlns:n5="urn:5"><b p="1"/></a>',
            True,
        ),
        (
            b'<a xmlns:n1="urn:1"><b xmlns:n2="urn:2" p="1" q="2" r="3"/><c xmlns:n3="urn:3" p="1" q="2" r="3"/></a>',
            False,
        ),
        (_nested(2, 2), False),  # 4 in scope at the leaf
        (_nested(3, 2), True),  # 6: no level over the limit alone, together they are
        (_nested(2, 2, attributes=2), True),
    ],
)
def test_attributes_and_namespaces_in_scope_count_per_element(doc: bytes, refused: bool):
    if refused:
        with pytest.raises(RequestTooLarge, match="attributes and namespaces in scope"):
            parse(doc, LIMITS)
    else:
        assert parse(doc, LIMITS) is not None


def test_namespaces_piled_up_over_the_levels_are_refused_at_the_default_limits():
    """A request declaring a few namespaces at each of many levels (the in-scope maps grow to
    thousands, which every nsmap walk afterwards pays for) is refused while it is parsed."""
    with pytest.raises(RequestTooLarge, match="namespaces in scope"):
        parse(_nested(30, 10), XmlLimits(max_bytes=1_000_000))
    assert parse(_nested(30, 2), XmlLimits(max_bytes=1_000_000)) is not None  # 60 in scope: within 64


def test_utf16_doctype_is_caught_after_parsing_without_expansion():
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "boom">]><a>&x;</a>'.encode("utf-16")
    with pytest.raises(HostileXml):
        parse(doc, LIMITS)


def test_huge_text_node_within_the_byte_limit_is_accepted():
    big = b"<a>" + b"Q" * 12_000_000 + b"</a>"  # beyond libxml2's default 10 MB text-node cap
    assert len(parse(big, XmlLimits(max_bytes=13_000_000)).text) == 12_000_000


def test_limits_stop_the_parse_before_the_document_ends():
    """An element flood is refused while parsing: the malformed tail is never reached."""
    flood = b"<r>" + b"<a/>" * 100 + b"<<< not xml"
    with pytest.raises(RequestTooLarge):
        parse(flood, LIMITS)


def _cut(doc: bytes, at: int) -> list[bytes]:
    return [doc[:at], doc[at:]]


@pytest.mark.parametrize(
    "doc, marker",
    [
        (b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', b"DOC"),
        (b"<a>" + b"t" * 70_000 + b"&undefined;</a>", b"&und"),
        (b"<a>" + b"t" * 70_000 + b"&#x41;&bogus;</a>", b"&bog"),
    ],
)
def test_a_marker_cut_between_two_pieces_is_still_refused(doc: bytes, marker: bytes) -> None:
    """A body read from the socket arrives in pieces: DTD markup or an entity reference split across
    two of them is found as if the document were whole."""
    at = doc.index(marker) + 2
    with pytest.raises(HostileXml):
        parse_chunks(_cut(doc, at), LIMITS)


@pytest.mark.parametrize("entity", [b"&amp;", b"&lt;", b"&#65;", b"&#x41;", b"&quot;"])
def test_a_predefined_entity_cut_between_two_pieces_is_accepted(entity: bytes) -> None:
    doc = b"<a>" + b"t" * 70_000 + entity + b"</a>"
    for at in range(doc.index(entity) + 1, doc.index(entity) + len(entity)):
        assert len(parse_chunks(_cut(doc, at), LIMITS).text) == 70_001


def test_pieces_are_counted_against_the_byte_limit() -> None:
    """A body without Content-Length (chunked transfer) is refused once its pieces pass the limit."""
    pieces = iter([b"<a>", *[b"x" * 40_000] * 10])
    with pytest.raises(RequestTooLarge):
        parse_chunks(pieces, LIMITS)
    assert len(list(pieces)) > 0  # stopped reading instead of taking everything first


def test_an_empty_body_in_pieces_is_malformed() -> None:
    with pytest.raises(MalformedRequest, match="empty"):
        parse_chunks([b"  ", b"\n", b""], LIMITS)


def _records(doc: bytes, limits: XmlLimits = LIMITS) -> list[tuple[str, int]]:
    """(tag, children of the root when the record came) for each element iter_records gives."""
    out = []
    stream = iter_records([doc[i : i + 7] for i in range(0, len(doc), 7)], "batch", limits)
    root = next(stream)
    for record in stream:
        out.append((record.get("n") or "", len(root)))
    return out


def test_records_stream_one_at_a_time_and_are_dropped_as_they_pass() -> None:
    doc = b"<batch>" + b"".join(b'<r n="%d"><a>x</a><b/></r>' % i for i in range(200)) + b"</batch>"
    seen = _records(doc, XmlLimits(max_bytes=10, max_elements=3))  # the byte limit is not a batch's
    assert [n for n, _ in seen] == [str(i) for i in range(200)]
    # the root holds the current record and at most the start of the next one the parser read ahead
    assert max(held for _, held in seen) == 2


@pytest.mark.parametrize(
    "doc, error",
    [
        (b'<!DOCTYPE batch [<!ENTITY x "y">]><batch/>', HostileXml),
        ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE batch><batch/>'.encode("utf-16"), HostileXml),
        (b"<batch><r><?pi x?></r></batch>", HostileXml),
        (b"<other/>", MalformedRequest),
        (b"<batch><r>" + b"<e/>" * 60 + b"</r></batch>", RequestTooLarge),  # elements per record
        (b"<batch><r>" + b"<d>" * 12 + b"</d>" * 12 + b"</r></batch>", RequestTooLarge),
        (b"<batch><r></batch>", MalformedRequest),
    ],
)
def test_record_streams_refuse_what_parse_refuses(doc: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        _records(doc)


def test_the_element_limit_is_per_record_not_per_file() -> None:
    doc = b"<batch>" + b"<r><e/><e/></r>" * 100 + b"</batch>"  # 300 elements, 3 per record
    assert len(_records(doc)) == 100


def test_a_record_over_a_limit_is_named_by_its_number_and_line() -> None:
    doc = b"<batch>\n<r/>\n<r/>\n<r>" + b"<e/>" * 60 + b"</r></batch>"
    with pytest.raises(RequestTooLarge, match=r"record 3 \(line 4\): more than 50 elements"):
        _records(doc)


def test_a_utf16_request_with_escaped_text_is_not_taken_for_an_entity() -> None:
    doc = '<?xml version="1.0" encoding="UTF-16"?><a>Smith &amp; Wesson &#65;</a>'.encode("utf-16")
    assert parse(doc, LIMITS).text == "Smith & Wesson A"
