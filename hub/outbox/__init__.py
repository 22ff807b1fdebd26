"""The outbox, one mechanism for every destination: ``manager`` (claim, lease, send, retry,
dead-letter, settle -- the SQL), ``queue`` (what administrators see and do), ``retry`` (the policy).

A kind of message (CARPOS today: :mod:`hub.carpos.outbox` writes its rows, the gateway builds,
seals and sends them) adds what is its own and nothing of this; the outbox knows no kind (it sits
below them in the layers, docs/ARCHITECTURE.md).
"""
