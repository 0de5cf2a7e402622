"""Key files on real disk: modes, idempotence, never overwriting; key ids, minted
tokens, the token file, durations, and the public-key loader's errors."""

from __future__ import annotations

import base64
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from returns.pipeline import is_successful
from returns.result import Success

from orch_core import ALL_SCOPES, Principal, local_policy
from orch_shell._keys import (
    create_key_pair,
    key_id,
    load_private_key,
    load_public_key,
    mint_token,
    parse_duration,
    write_private_text,
)
from orch_shell._verifier import JwtVerifier
from tests.token_kit import attacker_rsa

PUBLIC_PEM = (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that hides nothing, so only orch's own modes protect the files."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    keys = tmp_path / "home" / "keys"
    return keys / "token_signing.pem", keys / "token_signing.pub.pem"


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_new_pair_is_private_from_birth(pair: tuple[Path, Path], open_umask: None) -> None:
    private, public = pair
    assert create_key_pair(private, public) == Success(True)
    assert (mode(private.parent), mode(private), mode(public)) == (0o700, 0o600, 0o644)
    key = load_private_key(private).unwrap()
    assert load_public_key(public).unwrap() == key.public_key()


def test_creating_twice_changes_nothing(pair: tuple[Path, Path]) -> None:
    private, public = pair
    create_key_pair(private, public).unwrap()
    before = (private.read_bytes(), public.read_bytes())
    assert create_key_pair(private, public) == Success(False)
    assert (private.read_bytes(), public.read_bytes()) == before


def test_a_missing_public_key_is_derived_from_the_private_one(pair: tuple[Path, Path]) -> None:
    private, public = pair
    create_key_pair(private, public).unwrap()
    kept = private.read_bytes()
    public.unlink()
    assert create_key_pair(private, public) == Success(True)
    assert private.read_bytes() == kept
    assert load_public_key(public).unwrap() == load_private_key(private).unwrap().public_key()


def test_a_missing_private_key_makes_a_new_pair(pair: tuple[Path, Path]) -> None:
    private, public = pair
    create_key_pair(private, public).unwrap()
    stale = public.read_bytes()
    private.unlink()
    assert create_key_pair(private, public) == Success(True)
    assert public.read_bytes() != stale
    assert load_public_key(public).unwrap() == load_private_key(private).unwrap().public_key()


def test_an_unusable_private_key_is_reported_never_replaced(pair: tuple[Path, Path]) -> None:
    private, public = pair
    private.parent.mkdir(parents=True)
    private.write_text("my notes, not a key")
    error = create_key_pair(private, public).failure()
    assert error.path == private
    assert error.message == f"{private} is not a PEM file"
    assert private.read_text() == "my notes, not a key"
    assert not public.exists()


def test_a_planted_symlink_is_never_followed(pair: tuple[Path, Path], tmp_path: Path) -> None:
    private, public = pair
    private.parent.mkdir(parents=True)
    target = tmp_path / "attacker-reads-this.pem"
    private.symlink_to(target)  # dangling: exists() is False, O_EXCL still refuses it
    error = create_key_pair(private, public).failure()
    assert "not overwritten" in error.message
    assert not target.exists()


def test_minted_tokens_verify_as_the_principal_they_name(pair: tuple[Path, Path]) -> None:
    private, public = pair
    create_key_pair(private, public).unwrap()
    key = load_private_key(private).unwrap()
    now = time.time()
    token = mint_token(
        key,
        issuer="orch-local",
        audience="orch",
        subject="ann",
        scopes=ALL_SCOPES,
        ttl_seconds=600,
        now=now,
        client_id="claude-desktop",
    )
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "typ": "JWT", "kid": key_id(key.public_key())}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (int(now), int(now), int(now + 600))
    verifier = JwtVerifier.from_policy(local_policy(str(public))).unwrap()
    assert verifier.verify(token, now).unwrap() == Principal(
        subject="ann",
        scopes=frozenset(ALL_SCOPES),
        client_id="claude-desktop",
        token_id=claims["jti"],
        expires_at=float(int(now + 600)),
    )
    other = mint_token(key, issuer="i", audience="a", subject="s", scopes=(), ttl_seconds=1, now=0)
    assert jwt.decode(other, options={"verify_signature": False})["jti"] != claims["jti"]
    assert "client_id" not in jwt.decode(other, options={"verify_signature": False})


def test_key_ids_are_rfc_7638_thumbprints() -> None:
    # RFC 8037 appendix A.3 (Ed25519) and RFC 7638 section 3.1 (RSA).
    ed = Ed25519PublicKey.from_public_bytes(unb64("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"))
    assert key_id(ed) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
        "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
        "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    rsa_key = rsa.RSAPublicNumbers(65537, int.from_bytes(unb64(n), "big")).public_key()
    assert key_id(rsa_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert key_id(ec_key) == key_id(ec_key)
    assert key_id(ec_key) != key_id(ec.generate_private_key(ec.SECP256R1()).public_key())


def test_the_token_file_is_replaced_atomically_and_stays_private(
    tmp_path: Path, open_umask: None
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("old")
    token_file.chmod(0o644)
    write_private_text(token_file, "new.token.text\n")
    assert token_file.read_text() == "new.token.text\n"
    assert mode(token_file) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["token"]  # no temporary left behind


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("12h", 43_200),
        ("7d", 604_800),
        ("52w", 31_449_600),
        (" 30d ", 2_592_000),
        ("1826d", 157_766_400),
    ],
)
def test_durations_in_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == Success(float(seconds))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0s", "more than zero"),
        ("0w", "more than zero"),
        ("-5m", "a whole number and a unit"),
        ("5", "a whole number and a unit"),
        ("m", "a whole number and a unit"),
        ("1.5h", "a whole number and a unit"),
        ("15M", "a whole number and a unit"),
        ("2y", "a whole number and a unit"),
        ("", "a whole number and a unit"),
        ("1e3s", "a whole number and a unit"),
        ("7 d", "a whole number and a unit"),
        ("1827d", "at most 5 years"),
        ("261w", "at most 5 years"),
        ("9999999999999s", "a whole number and a unit"),
    ],
)
def test_bad_durations_are_refused(text: str, problem: str) -> None:
    assert problem in parse_duration(text).failure()


def pem_of(key: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    if isinstance(key, Ed25519PrivateKey | rsa.RSAPrivateKey):
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    else:
        path.write_bytes(key.public_bytes(*PUBLIC_PEM))
    return path


def test_public_key_loader_errors_say_what_is_wrong(tmp_path: Path) -> None:
    def error(path: Path) -> str:
        result = load_public_key(path)
        assert not is_successful(result)
        return result.failure().message

    missing = tmp_path / "missing.pem"
    assert error(missing) == f"cannot read {missing}: No such file or directory"
    assert error(tmp_path) == f"cannot read {tmp_path}: Is a directory"
    (tmp_path / "notes.txt").write_text("hello")
    assert error(tmp_path / "notes.txt") == f"{tmp_path / 'notes.txt'} is not a PEM file"
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    assert error(broken) == f"{broken} does not hold a PEM public key"
    private = pem_of(Ed25519PrivateKey.generate(), tmp_path, "private.pem")
    assert "holds a private key" in error(private)
    ed448_key = pem_of(ed448.Ed448PrivateKey.generate().public_key(), tmp_path, "ed448.pem")
    assert "unsupported Ed448PublicKey" in error(ed448_key)
    weak_key = rsa.generate_private_key(65537, 1024)  # noqa: S505 - the weak key under test
    weak = pem_of(weak_key.public_key(), tmp_path, "weak.pem")
    assert "1024-bit RSA key" in error(weak)
    k1 = pem_of(ec.generate_private_key(ec.SECP256K1()).public_key(), tmp_path, "k1.pem")
    assert "curve secp256k1" in error(k1)


def test_public_key_loader_accepts_the_supported_types(tmp_path: Path) -> None:
    keys = [
        Ed25519PrivateKey.generate().public_key(),
        ec.generate_private_key(ec.SECP384R1()).public_key(),
        attacker_rsa().public_key(),
    ]
    for number, key in enumerate(keys):
        assert load_public_key(pem_of(key, tmp_path, f"{number}.pem")).unwrap() == key


def test_private_key_loader_errors(tmp_path: Path) -> None:
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    assert "is encrypted" in load_private_key(encrypted).failure().message
    rsa_file = pem_of(attacker_rsa(), tmp_path, "rsa.pem")
    assert "is not an Ed25519 private key" in load_private_key(rsa_file).failure().message
    public = pem_of(Ed25519PrivateKey.generate().public_key(), tmp_path, "public.pem")
    assert "does not hold a private key" in load_private_key(public).failure().message
