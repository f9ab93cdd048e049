"""Secrets at rest: AES-256-GCM with a key ring and associated data binding each row (SPEC §4).

A sealed secret is the text ``<key id>:<base64(nonce || ciphertext+tag)>``. The associated data
names the row's owner (tenant, user, integration, kind), so a ciphertext copied onto another
row fails to open.
"""

import base64
import functools
import os
import time
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

REMEMBER_SECONDS = 60
REMEMBER_MAX = 1024  # secrets kept per process at most


class SecretError(Exception):
    """A secret could not be opened: wrong row, unknown or wrong key, or tampered data."""


class KeyRing:
    """Named AES-256 keys; the first one seals, any of them opens."""

    def __init__(self, keys: list[tuple[str, bytes]]):
        if not keys:
            raise ValueError("the key ring needs at least one key")
        for key_id, key in keys:
            if len(key) != 32 or not key_id or ":" in key_id:
                raise ValueError(f"key {key_id!r} must be 32 bytes with an id without ':'")
        self.keys = dict(keys)
        self.primary_id = keys[0][0]
        self._opened: dict[tuple[str, str], tuple[float, str]] = {}  # see open(remember=True)

    @classmethod
    def parse(cls, text: str) -> "KeyRing":
        """Read ``id:base64key,id:base64key`` (first encrypts)."""
        pairs = []
        for item in text.replace("\n", ",").split(","):
            if item.strip():
                key_id, _, encoded = item.strip().partition(":")
                pairs.append((key_id, base64.b64decode(encoded)))
        return cls(pairs)

    def format(self) -> str:
        return ",".join(f"{k}:{base64.b64encode(v).decode()}" for k, v in self.keys.items())

    def seal(self, plaintext: str, aad: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.primary_id]).encrypt(nonce, plaintext.encode(), aad.encode())
        return f"{self.primary_id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, blob: str, aad: str, remember: bool = False) -> str:
        """The plaintext of ``blob`` sealed for ``aad``. With ``remember``, kept in this process
        for REMEMBER_SECONDS by the exact ciphertext and owner: a re-sealed or rotated secret
        has another ciphertext, so it is opened afresh, and the old one expires unused."""
        if not remember:
            return self._open(blob, aad)
        now = time.monotonic()
        kept = self._opened.get((blob, aad))
        if kept is not None and kept[0] > now:
            return kept[1]
        plaintext = self._open(blob, aad)
        if len(self._opened) >= REMEMBER_MAX:
            self._opened = {k: v for k, v in self._opened.items() if v[0] > now}
            if len(self._opened) >= REMEMBER_MAX:
                self._opened.clear()
        self._opened[(blob, aad)] = (now + REMEMBER_SECONDS, plaintext)
        return plaintext

    def _open(self, blob: str, aad: str) -> str:
        key_id, _, encoded = blob.partition(":")
        key = self.keys.get(key_id)
        if key is None:
            raise SecretError(f"no key {key_id!r} in the key ring")
        raw = base64.b64decode(encoded)
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], aad.encode()).decode()
        except InvalidTag:
            raise SecretError("the secret does not open with its key and owner") from None

    @functools.cache  # noqa: B019 - a key ring lives as long as its app
    def derive(self, label: str) -> list[bytes]:
        """Per-purpose subkeys (primary first), e.g. for signing context tokens."""
        return [
            HKDF(hashes.SHA256(), 32, salt=None, info=label.encode()).derive(key)
            for key in self.keys.values()
        ]


def new_key_text(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


def key_file(instance_path: str) -> Path:
    return Path(instance_path) / "secret-keys"


def load_keyring(config_value: str, instance_path: str) -> KeyRing:
    """The configured key ring, or the one in instance/secret-keys (created once, mode 0600)."""
    if config_value.strip():
        return KeyRing.parse(config_value)
    path = key_file(instance_path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(new_key_text("k1") + "\n")
    return KeyRing.parse(path.read_text())


def keyring() -> KeyRing:
    return current_app.extensions["gitint.keyring"]


def seal(row, plaintext: str) -> None:
    """Encrypt ``plaintext`` onto ``row`` (a model with SECRET_FIELD and secret_aad())."""
    setattr(row, row.SECRET_FIELD, keyring().seal(plaintext, row.secret_aad()))


def unseal(row, remember: bool = False) -> str:
    """The plaintext secret of ``row``; SecretError if it was moved, tampered or its key is gone.
    ``remember``: a secret read on every request (a tenant's shared secret), kept a minute by
    its ciphertext (KeyRing.open)."""
    blob = getattr(row, row.SECRET_FIELD)
    if not blob:
        raise SecretError("no secret is stored")
    return keyring().open(blob, row.secret_aad(), remember)


def rotate_all(session) -> tuple[int, int]:
    """Re-seal every secret not yet under the primary key, in the caller's one transaction.

    Returns (re-sealed, already current). Safe to re-run: a second run re-seals nothing.
    """
    from sqlalchemy import select

    from .models import SECRET_MODELS

    ring = keyring()
    prefix = ring.primary_id + ":"
    changed = current = 0
    for model in SECRET_MODELS:
        column = getattr(model, model.SECRET_FIELD)
        for row in session.scalars(select(model).where(column.is_not(None))):
            blob = getattr(row, model.SECRET_FIELD)
            if blob.startswith(prefix):
                current += 1
            else:
                setattr(
                    row,
                    model.SECRET_FIELD,
                    ring.seal(ring.open(blob, row.secret_aad()), row.secret_aad()),
                )
                changed += 1
    return changed, current
