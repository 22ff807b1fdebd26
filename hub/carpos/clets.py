"""CLETS data at rest: what DOJ sends back (and the queries sent to it) is stored only sealed.

One key, derived from the master key for the purpose ``clets-data`` (AES-256-GCM, CJIS SC-28), and
associated data that binds each sealed value to its row, so a value copied into another row does
not open. The FCN is sealed too: it is DOJ's answer, and it is opened only to build the next
transaction of its order.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.masterkey import MasterKey, Sealer

PURPOSE = "clets-data"


@dataclass(frozen=True)
class CletsVault:
    sealer: Sealer

    @classmethod
    def of(cls, key: MasterKey) -> CletsVault:
        return cls(key.sealer(PURPOSE))

    def seal_fcn(self, order_id: int, fcn: str) -> bytes:
        return self.sealer.seal(fcn.encode("ascii"), b"fcn\0%d" % order_id)

    def open_fcn(self, order_id: int, sealed: bytes) -> str:
        return self.sealer.open(sealed, b"fcn\0%d" % order_id).decode("ascii")

    def seal_answer(self, doj_mcn: str, lines: tuple[str, ...]) -> bytes:
        return self.sealer.seal("\n".join(lines).encode("ascii"), b"answer\0" + doj_mcn.encode())

    def open_answer(self, doj_mcn: str, sealed: bytes) -> tuple[str, ...]:
        return tuple(self.sealer.open(sealed, b"answer\0" + doj_mcn.encode()).decode("ascii").split("\n"))

    def seal_query(self, mcn: str, text: str) -> bytes:
        return self.sealer.seal(text.encode("ascii"), b"query\0" + mcn.encode())

    def open_query(self, mcn: str, sealed: bytes) -> str:
        return self.sealer.open(sealed, b"query\0" + mcn.encode()).decode("ascii")
