"""The audit key: an Ed25519 pair, apart from the token-signing key, that seals the chain.

A separate key because the two protect different things: whoever holds the
token key can let clients in, whoever holds the audit key can rewrite history
without ``orch audit verify`` noticing. ``orch init`` (and ``orch serve``, for an
install from before the audit log) creates it in the keys directory, 0600.
"""

from __future__ import annotations

import base64
from pathlib import Path

from attrs import frozen
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from returns.result import Failure, Result, Success

from orch_core import ChainHead, Checkpoint, checkpoint_message

from ._keys import create_key_pair, key_id, load_private_key, load_public_key
from ._paths import OrchPaths

AUDIT_KEY_NAME = "audit_signing.pem"
AUDIT_PUBLIC_KEY_NAME = "audit_signing.pub.pem"


def audit_key_files(paths: OrchPaths) -> tuple[Path, Path]:
    """The audit key pair's private and public PEM files."""
    return paths.keys_dir / AUDIT_KEY_NAME, paths.keys_dir / AUDIT_PUBLIC_KEY_NAME


@frozen(kw_only=True)
class AuditSigner:
    """Signs checkpoints with the audit private key."""

    key: Ed25519PrivateKey
    key_id: str

    def sign(self, head: ChainHead, *, at_us: int) -> Checkpoint:
        message = checkpoint_message(head.seq, head.hash, at_us, self.key_id)
        signature = base64.urlsafe_b64encode(self.key.sign(message)).rstrip(b"=").decode()
        return Checkpoint(
            seq=head.seq, hash=head.hash, at_us=at_us, key_id=self.key_id, signature=signature
        )


def ensure_audit_signer(paths: OrchPaths) -> Result[tuple[AuditSigner, bool], str]:
    """The audit signer, creating the key pair first if it is missing (True if created)."""
    private_file, public_file = audit_key_files(paths)
    created = create_key_pair(private_file, public_file)
    if isinstance(created, Failure):
        return Failure(str(created.failure()))
    loaded = load_private_key(private_file)
    if isinstance(loaded, Failure):
        return Failure(str(loaded.failure()))
    key = loaded.unwrap()
    return Success((AuditSigner(key=key, key_id=key_id(key.public_key())), created.unwrap()))


class SignatureCheck:
    """``signature_ok`` for the core verifier: Ed25519 with one public key."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self._key = public_key
        self.key_id = key_id(public_key)

    @classmethod
    def from_file(cls, path: Path) -> Result[SignatureCheck, str]:
        loaded = load_public_key(path)
        if isinstance(loaded, Failure):
            return Failure(str(loaded.failure()))
        key = loaded.unwrap()
        if not isinstance(key, Ed25519PublicKey):
            return Failure(f"{path} is not an Ed25519 public key")
        return Success(cls(key))

    def __call__(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True
