"""DOJ's reject reasons are CLETS data: a metric's label carries only a class from a fixed list
(hub.metrics.REJECT_CLASSES), whatever DOJ writes -- names, numbers, markup or a flood of words."""

from __future__ import annotations

import pytest

from hub import metrics

ALLOWED = {c.replace(" ", "_") for c in metrics.REJECT_CLASSES} | {"OTHER"}


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("REJECT - MANDATORY FIELD MISSING (PPN)", "MANDATORY_FIELD_MISSING"),
        ("REJECT - INVALID DATE (EXP BEFORE ISD)", "INVALID_DATE"),
        ("REJECT - INVALID ORI", "INVALID_ORI"),
        ("REJECT - NOT ON FILE", "NOT_ON_FILE"),
        ("REJECT ON FILE", "ON_FILE"),
        ("reject - invalid   field sex/x", "INVALID"),
        ("UNREADABLE ANSWER FROM DOJ: SEE ITS TEXT", "UNREADABLE"),
        ("REJECT - SUBJECT SMITH,JOHN DOB 19800517 IS WANTED", "OTHER"),
        ('<script>alert(1)</script>"} 1\nccpor_fake_total 9', "OTHER"),
        ("X" * 100_000, "OTHER"),
        ("", "OTHER"),
    ],
)
def test_a_reject_s_label_is_its_class_never_its_words(reason, label):
    assert metrics.reason_class(reason) == label
    assert metrics.reason_class(reason) in ALLOWED
