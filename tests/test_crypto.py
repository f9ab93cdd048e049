"""The secret store: AES-256-GCM bound to its row, a key ring, and rotation."""

import base64
import os
import stat

import pytest
from sqlalchemy import insert, select

from gitint.crypto import KeyRing, SecretError, load_keyring, rotate_all, unseal
from gitint.extensions import db
from gitint.models import Credential


def ring(*ids):
    return KeyRing([(i, os.urandom(32)) for i in ids])


def test_round_trip_under_primary_key():
    """Does a sealed secret open again with the same owner, and carry its key id?"""
    keys = ring("a", "b")
    blob = keys.seal("ghp_secret", "pat|tenant=1|user=u|integration=2")
    assert blob.startswith("a:")
    assert "ghp_secret" not in blob
    assert keys.open(blob, "pat|tenant=1|user=u|integration=2") == "ghp_secret"


def test_remembered_secrets_are_kept_by_ciphertext_and_expire(monkeypatch):
    """``open(remember=True)``: is a secret opened once per ciphertext and owner within a
    minute, a re-sealed one (another ciphertext) opened afresh, a wrong owner still refused,
    and the store bounded?"""
    import gitint.crypto as crypto

    keys = ring("a")
    opened = []
    real = keys._open
    monkeypatch.setattr(keys, "_open", lambda blob, aad: opened.append(blob) or real(blob, aad))
    first = keys.seal("secret-1", "tenant=1")
    assert keys.open(first, "tenant=1", remember=True) == "secret-1"
    assert keys.open(first, "tenant=1", remember=True) == "secret-1"
    assert len(opened) == 1
    second = keys.seal("secret-2", "tenant=1")
    assert keys.open(second, "tenant=1", remember=True) == "secret-2"
    with pytest.raises(SecretError):
        keys.open(first, "tenant=2", remember=True)
    now = [crypto.time.monotonic()]
    monkeypatch.setattr(crypto.time, "monotonic", lambda: now[0])
    keys.open(first, "tenant=1", remember=True)
    now[0] += crypto.REMEMBER_SECONDS + 1
    count = len(opened)
    keys.open(first, "tenant=1", remember=True)
    assert len(opened) == count + 1  # expired: opened again
    for n in range(crypto.REMEMBER_MAX + 10):
        keys.open(keys.seal(f"s{n}", "t"), "t", remember=True)
    assert len(keys._opened) <= crypto.REMEMBER_MAX


def test_nonce_is_random():
    """Do two seals of the same secret differ (random 96-bit nonce)?"""
    keys = ring("a")
    assert keys.seal("x", "aad") != keys.seal("x", "aad")


def test_wrong_key_fails():
    """Does a ciphertext refuse to open under another key with the same id?"""
    blob = ring("a").seal("ghp_secret", "aad")
    with pytest.raises(SecretError):
        ring("a").open(blob, "aad")


def test_unknown_key_id_fails():
    """Does a ciphertext whose key was dropped fail to open?"""
    blob = ring("old").seal("ghp_secret", "aad")
    with pytest.raises(SecretError):
        ring("new").open(blob, "aad")


def test_tampered_ciphertext_fails():
    """Does flipping one byte of the ciphertext make it fail?"""
    keys = ring("a")
    kid, encoded = keys.seal("ghp_secret", "aad").split(":")
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 1
    with pytest.raises(SecretError):
        keys.open(f"{kid}:{base64.b64encode(bytes(raw)).decode()}", "aad")


@pytest.mark.parametrize(
    "field, value",
    [("account_id", "someone-else"), ("tenant_id", "other"), ("integration_id", "other")],
)
def test_ciphertext_moved_to_another_row_fails(
    app, make_tenant, make_integration, make_credential, field, value
):
    """Does a PAT ciphertext copied onto another user's, tenant's or integration's row fail?"""
    tenant, other_tenant = make_tenant(), make_tenant()
    integration = make_integration(tenant)
    other_integration = make_integration(tenant)
    foreign_integration = make_integration(other_tenant)
    source = make_credential(integration, "alice", secret="ghp_alice_secret")
    targets = {
        "account_id": make_credential(integration, "someone-else", secret="ghp_bob_secret0"),
        "tenant_id": make_credential(foreign_integration, "alice", secret="ghp_other_tenant"),
        "integration_id": make_credential(other_integration, "alice", secret="ghp_other_integ"),
    }
    target = targets[field]
    target.ciphertext = source.ciphertext
    with pytest.raises(SecretError):
        unseal(target)
    assert unseal(source) == "ghp_alice_secret"


def test_integration_and_tenant_secrets_are_bound(make_tenant, make_integration):
    """Do integration credentials and tenant shared secrets also refuse another row?"""
    a, b = make_tenant(), make_tenant()
    ia, ib = make_integration(a, secret="ghp_aaaa"), make_integration(b, secret="ghp_bbbb")
    ib.credential_ct = ia.credential_ct
    b.shared_secret_ct = a.shared_secret_ct
    with pytest.raises(SecretError):
        unseal(ib)
    with pytest.raises(SecretError):
        unseal(b)


def test_key_file_is_created_once_with_mode_0600(tmp_path):
    """Is instance/secret-keys generated once, private, and reused?"""
    first = load_keyring("", str(tmp_path))
    path = tmp_path / "secret-keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = load_keyring("", str(tmp_path))
    assert first.keys == second.keys


def test_env_key_ring_first_key_encrypts():
    """Does GITINT_SECRET_KEYS parse as id:base64 pairs with the first one sealing?"""
    text = ",".join(f"{k}:{base64.b64encode(os.urandom(32)).decode()}" for k in ("k2", "k1"))
    keys = load_keyring(text, "/nonexistent")
    assert keys.primary_id == "k2" and set(keys.keys) == {"k1", "k2"}
    with pytest.raises(ValueError):
        KeyRing.parse("bad:" + base64.b64encode(b"short").decode())


def test_rotation_of_10000_secrets(app, make_tenant, make_integration):
    """After rotation, does every one of 10,000 secrets open under the new key alone, none
    under the dropped old key, and does a second run change nothing?"""
    tenant = make_tenant()
    integration = make_integration(tenant)
    old = app.extensions["gitint.keyring"]
    rows = []
    for n in range(10_000):
        credential = Credential(
            tenant_id=tenant.id,
            account_id=f"user-{n}",
            integration_id=integration.id,
            kind="pat",
            last4="0000",
        )
        rows.append(
            {
                "tenant_id": tenant.id,
                "account_id": f"user-{n}",
                "integration_id": integration.id,
                "kind": "pat",
                "last4": f"{n % 10000:04d}",
                "status": "valid",
                "ciphertext": old.seal(f"ghp_token_{n}", credential.secret_aad()),
            }
        )
    db.session.execute(insert(Credential), rows)
    db.session.commit()

    new_key = ("t2", os.urandom(32))
    app.extensions["gitint.keyring"] = KeyRing([new_key, *old.keys.items()])
    changed, current = rotate_all(db.session)
    db.session.commit()
    assert changed == 10_000 + 2  # the PATs, the integration credential, the tenant secret
    assert current == 0

    app.extensions["gitint.keyring"] = KeyRing([new_key])  # the old key is dropped
    db.session.expire_all()
    credentials = db.session.scalars(select(Credential)).all()
    assert all(c.ciphertext.startswith("t2:") for c in credentials)
    assert {unseal(c) for c in credentials} == {f"ghp_token_{n}" for n in range(10_000)}
    with pytest.raises(SecretError):
        old.open(credentials[0].ciphertext, credentials[0].secret_aad())

    assert rotate_all(db.session) == (0, 10_002)  # a re-run is a no-op
