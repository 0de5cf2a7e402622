"""The local token issuer's key files and the token file, written safely.

``orch init`` makes an Ed25519 key pair: the private key signs the local user's
token and never leaves ``keys_dir``; the server verifies with the public key
only. The private key is created ``0600`` with ``O_EXCL``, so it is never
readable by others, not even for an instant, and an existing key is never
overwritten (a second ``init`` must not invalidate every token in use).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Final

from attrs import frozen
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from returns.result import Failure, Result, Success

PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
"""The public keys orch verifies tokens with."""

EC_CURVES: Final = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
"""The curves JOSE names (RFC 7518 §6.2.1.1): cryptography's name → the JWK ``crv``."""
MIN_RSA_BITS: Final = 2048


@frozen(kw_only=True)
class KeyFileError:
    """A key file that could not be made or used; ``message`` names the path."""

    path: Path
    message: str

    def __str__(self) -> str:
        return self.message


def create_key_pair(private_file: Path, public_file: Path) -> Result[bool, KeyFileError]:
    """Make the Ed25519 key pair unless it exists: ``Success(True)`` if a file was
    written, ``Success(False)`` if both were already there.

    A missing public key is derived from the private one; a missing private key
    means a new pair (the old public key is useless without it, so it is replaced).
    """
    if private_file.exists() and public_file.exists():
        return Success(False)
    try:
        signing_key = _existing_or_new(private_file)
        if isinstance(signing_key, Failure):
            return Failure(signing_key.failure())
        public_pem = (
            signing_key.unwrap()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        public_file.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(public_file, public_pem, mode=0o644)
    except FileExistsError:
        message = f"{private_file} appeared while orch was creating it; not overwritten"
        return Failure(KeyFileError(path=private_file, message=message))
    except OSError as error:
        path = Path(error.filename) if error.filename else private_file
        return Failure(KeyFileError(path=path, message=f"cannot write {path}: {error.strerror}"))
    return Success(True)


def _existing_or_new(private_file: Path) -> Result[Ed25519PrivateKey, KeyFileError]:
    if private_file.exists():
        return load_private_key(private_file)
    directory = private_file.parent
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
        directory.chmod(0o700)  # mkdir's mode is filtered by the umask
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: never follow a planted symlink, never overwrite; 0600 from birth.
    fd = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
    except OSError:
        private_file.unlink(missing_ok=True)  # a half-written key would block every later init
        raise
    return Success(private_key)


def write_private_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, readable by the owner only.

    Used for the token file: a server re-reading it sees the old token or the new
    one, never half of one. Raises ``OSError`` (the caller's seam maps it).
    """
    _atomic_write(path, text.encode(), mode=0o600)


def _atomic_write(path: Path, data: bytes, *, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fchmod(file.fileno(), mode)  # explicit, so the umask does not decide
            os.fsync(file.fileno())
        temporary.replace(path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


def _read(path: Path) -> Result[bytes, KeyFileError]:
    try:
        return Success(path.read_bytes())
    except OSError as error:
        return Failure(KeyFileError(path=path, message=f"cannot read {path}: {error.strerror}"))


def load_private_key(path: Path) -> Result[Ed25519PrivateKey, KeyFileError]:
    """The local issuer's signing key from its PEM file."""
    return _read(path).bind(
        lambda data: _private_from_pem(data).alt(
            lambda problem: KeyFileError(path=path, message=f"{path} {problem}")
        )
    )


def _private_from_pem(data: bytes) -> Result[Ed25519PrivateKey, str]:
    if b"-----BEGIN" not in data:
        return Failure("is not a PEM file")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        return Failure("is encrypted; orch needs an unencrypted key")
    except (ValueError, UnsupportedAlgorithm):
        return Failure("does not hold a private key")
    if not isinstance(key, Ed25519PrivateKey):
        return Failure("is not an Ed25519 private key")
    return Success(key)


def load_public_key(path: Path) -> Result[PublicKey, KeyFileError]:
    """A PEM public key (Ed25519, EC P-256/384/521, or RSA of 2048 bits or more).

    A private key is refused rather than reduced to its public half: a private
    key in the server's verifying-key setting is a deployment mistake worth
    stopping (whoever can read the server's files could then mint tokens).
    """
    return _read(path).bind(
        lambda data: _public_from_pem(data).alt(
            lambda problem: KeyFileError(path=path, message=f"{path} {problem}")
        )
    )


def _public_from_pem(data: bytes) -> Result[PublicKey, str]:
    if b"-----BEGIN" not in data:
        return Failure("is not a PEM file")
    if b"PRIVATE KEY-----" in data:
        return Failure("holds a private key; give the server the public key only")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        return Failure("does not hold a PEM public key")
    if not isinstance(key, Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        return Failure(f"holds an unsupported {type(key).__name__}; use Ed25519, EC or RSA")
    problem = _weakness(key)
    return Success(key) if problem is None else Failure(problem)


def _weakness(key: PublicKey) -> str | None:
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return f"holds a {key.key_size}-bit RSA key; use {MIN_RSA_BITS} bits or more"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in EC_CURVES:
        return f"holds a key on the curve {key.curve.name}; use P-256, P-384 or P-521"
    return None
