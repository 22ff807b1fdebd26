"""The hub's master key: one random secret in a file, from which purpose-bound keys are derived.

The database never holds a key. Everything the hub must keep secret *and* reversible at rest (an
account's password for WS-Security PasswordDigest, later CLETS data) is sealed with AES-256-GCM
under a key derived from this one; the audit trail's hash chain is keyed with another. Someone who
copies or edits the database without the key file can neither read those values nor forge audit
events.

The file holds 32 random bytes, base64-encoded, and must be readable by the hub's user only
(``ccpor-hub keys master`` creates it with mode 0600 and refuses to overwrite one). Rotating it is
an operation with a plan (docs/OPERATIONS.md): sealed values start with a format version byte, and
``key_id`` names the key in logs and on screen; re-sealing under a new key is a future command.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class MasterKeyError(RuntimeError):
    """The master key file is missing, unreadable, malformed or too widely readable."""


_VERSION = b"\x01"


@dataclass(frozen=True)
class MasterKey:
    secret: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        """A short, non-secret identifier of this key (to tell which key sealed a value)."""
        return hashlib.sha256(b"ccpor-key-id" + self.secret).hexdigest()[:16]

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose (``audit-chain``, ``account-secrets`` ...)."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"ccpor:{purpose}".encode()).derive(
            self.secret
        )

    def sealer(self, purpose: str) -> Sealer:
        return Sealer(AESGCM(self.derive(purpose)))


@dataclass(frozen=True)
class Sealer:
    """AES-256-GCM with a random 96-bit nonce; the associated data binds a value to its row."""

    aead: AESGCM = field(repr=False)

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self.aead.encrypt(nonce, plaintext, associated)

    def open(self, sealed: bytes, associated: bytes) -> bytes:
        """The plaintext; raises ``cryptography.exceptions.InvalidTag`` if tampered or moved."""
        if sealed[:1] != _VERSION:
            raise ValueError("unknown sealed-value format")
        return self.aead.decrypt(sealed[1:13], sealed[13:], associated)


def create(path: Path) -> MasterKey:
    """Write a new master key to ``path`` (mode 0600); refuses to replace an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(base64.b64encode(secret) + b"\n")
    return MasterKey(secret)


def load(path: Path) -> MasterKey:
    """The master key in ``path``; refuses a file that group or others can read."""
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise MasterKeyError(
            f"no master key at {path}: create one with 'ccpor-hub keys master' (or set CCPOR_MASTER_KEY_FILE)"
        ) from exc
    except OSError as exc:
        raise MasterKeyError(f"cannot read the master key at {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise MasterKeyError(f"the master key at {path} is readable by others: chmod 600 it")
    try:
        secret = base64.b64decode(raw.strip(), validate=True)
    except ValueError as exc:
        raise MasterKeyError(f"the master key at {path} is not base64") from exc
    if len(secret) != 32:
        raise MasterKeyError(f"the master key at {path} must hold 32 bytes, not {len(secret)}")
    return MasterKey(secret)
