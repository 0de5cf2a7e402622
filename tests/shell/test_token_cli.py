"""``orch init``'s keys and token, and ``orch token``, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orch_core import ALL_SCOPES, SESSIONS_READ, local_policy
from orch_shell._keys import load_private_key, mint_token
from orch_shell._local_issuer import local_subject
from orch_shell._paths import resolve_paths
from orch_shell._verifier import JwtVerifier

ORCH = Path(sys.executable).parent / "orch"
DAY = 86_400


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    env["ORCH_HOME"] = str(home)
    return subprocess.run(
        [str(ORCH), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def verified(home: Path, token: str) -> tuple[str, frozenset[str], float]:
    paths = resolve_paths({"ORCH_HOME": str(home)})
    verifier = JwtVerifier.from_policy(local_policy(str(paths.public_key))).unwrap()
    principal = verifier.verify(token.strip(), time.time()).unwrap()
    assert principal.expires_at is not None
    return principal.subject, principal.scopes, principal.expires_at


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "orch home"
    done = run(home, "init")
    assert done.returncode == 0, done.stderr
    return home


def test_init_makes_private_keys_and_a_year_long_token_for_the_user(home: Path) -> None:
    paths = resolve_paths({"ORCH_HOME": str(home)})
    assert paths.keys_dir.stat().st_mode & 0o777 == 0o700
    assert paths.signing_key.stat().st_mode & 0o777 == 0o600
    assert paths.token_file.stat().st_mode & 0o777 == 0o600
    subject, scopes, expiry = verified(home, paths.token_file.read_text())
    assert subject == local_subject()
    assert scopes == frozenset(ALL_SCOPES)
    assert 364 * DAY < expiry - time.time() <= 365 * DAY


def test_init_again_keeps_a_good_token_and_renews_one_about_to_expire(home: Path) -> None:
    paths = resolve_paths({"ORCH_HOME": str(home)})
    first = paths.token_file.read_text()
    again = run(home, "init")
    assert again.returncode == 0, again.stderr
    assert paths.token_file.read_text() == first
    assert "wrote" not in again.stdout
    short = run(home, "token", "issue", "--sub", local_subject(), "--scope", SESSIONS_READ,
                "--ttl", "10d", "--out", str(paths.token_file))  # fmt: skip
    assert short.returncode == 0, short.stderr
    renewed = run(home, "init")
    assert "wrote (expiring)" in renewed.stdout, renewed.stdout
    _subject, scopes, expiry = verified(home, paths.token_file.read_text())
    assert scopes == frozenset(ALL_SCOPES) and expiry - time.time() > 364 * DAY


def test_init_replaces_a_token_the_key_does_not_verify(home: Path) -> None:
    paths = resolve_paths({"ORCH_HOME": str(home)})
    paths.token_file.write_text("garbage\n")
    renewed = run(home, "init")
    assert "wrote (refused (malformed))" in renewed.stdout, renewed.stdout
    verified(home, paths.token_file.read_text())


def test_token_issue_prints_a_token_with_the_asked_claims(home: Path) -> None:
    issued = run(home, "token", "issue", "--sub", "ci-bot", "--scope", SESSIONS_READ,
                 "--ttl", "7d", "--client-id", "ci")  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    subject, scopes, expiry = verified(home, issued.stdout)
    assert (subject, scopes) == ("ci-bot", frozenset({SESSIONS_READ}))
    assert abs(expiry - (time.time() + 7 * DAY)) < 60


def test_token_issue_out_writes_a_private_file_and_says_so_on_stderr(
    home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bob.token"
    issued = run(home, "token", "issue", "--sub", "bob", "--scope", SESSIONS_READ,
                 "--out", str(out))  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    assert issued.stdout == ""
    assert out.stat().st_mode & 0o777 == 0o600
    assert verified(home, out.read_text())[0] == "bob"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--ttl", "forever"], 2, "--ttl"),
        (["--ttl", "0s"], 2, "--ttl"),
        (["--scope", "everything"], 2, "invalid choice"),
    ],
)
def test_token_issue_refuses_bad_arguments(
    home: Path, args: list[str], code: int, message: str
) -> None:
    base = {"--sub": "x", "--scope": SESSIONS_READ}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    done = run(home, "token", "issue", *[part for pair in base.items() for part in pair])
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert done.stdout == ""


def test_token_issue_refuses_when_the_server_trusts_another_issuer(home: Path) -> None:
    (home / "orch.toml").write_text(
        '[auth]\nissuer = "https://idp.example.com/"\naudience = "orch"\n'
        'jwks_url = "https://idp.example.com/jwks.json"\n'
    )
    done = run(home, "token", "issue", "--sub", "x", "--scope", SESSIONS_READ)
    assert done.returncode == 1
    assert "https://idp.example.com/" in done.stderr and done.stdout == ""


def test_token_path_prints_the_local_token_file(home: Path) -> None:
    done = run(home, "token", "path")
    assert done.returncode == 0
    assert done.stdout.strip() == str(home / "token")


def test_http_refuses_a_non_loopback_address_without_allow_remote(home: Path) -> None:
    done = run(home, "serve", "--http", "--host", "0.0.0.0", "--port", "0")  # noqa: S104
    assert done.returncode == 2
    assert "--allow-remote" in done.stderr and done.stdout == ""


def test_doctor_reports_the_token_and_an_expired_or_missing_one(home: Path) -> None:
    good = run(home, "doctor")
    assert f"ok    token: {home / 'token'} (local): " in good.stdout, good.stdout
    assert f"{local_subject()}, agents:message" in good.stdout, good.stdout
    paths = resolve_paths({"ORCH_HOME": str(home)})
    expired = mint_token(
        load_private_key(paths.signing_key).unwrap(),
        issuer="orch-local",
        audience="orch",
        subject="x",
        scopes=[SESSIONS_READ],
        ttl_seconds=3600,
        now=time.time() - 7200,
    )
    env_token = {"ORCH_TOKEN": expired}
    result = subprocess.run(
        [str(ORCH), "doctor"],
        env={**os.environ, "ORCH_HOME": str(home), **env_token},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "FAIL  token: $ORCH_TOKEN: the token expired at " in result.stdout, result.stdout
    assert "hint: run `orch init`" in result.stdout
    assert expired not in result.stdout
    (home / "token").unlink()
    missing = run(home, "doctor")
    assert missing.returncode == 1
    assert "FAIL  token:" in missing.stdout and "cannot be read" in missing.stdout


WEAK_POLICIES = [
    ("short-hs-secret", 'algorithms = ["HS256"]\nsecret = "too-short"', "auth.secret"),
    (
        "none-listed",
        'algorithms = ["EdDSA", "none"]\npublic_key_file = "/k.pem"',
        "auth.algorithms",
    ),
    (
        "hs-mixed-with-eddsa",
        'algorithms = ["HS256", "EdDSA"]\nsecret = "' + "s" * 40 + '"',
        "auth.algorithms",
    ),
    ("no-audience", 'public_key_file = "/k.pem"', "auth.audience"),
]


@pytest.mark.parametrize(
    ("table", "key"), [(t, k) for _, t, k in WEAK_POLICIES], ids=[n for n, _, _ in WEAK_POLICIES]
)
@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_a_weak_policy_refuses_to_start_naming_the_setting(
    home: Path, table: str, key: str, transport: str
) -> None:
    audience = "" if key == "auth.audience" else 'audience = "orch"\n'
    (home / "orch.toml").write_text(f'[auth]\nissuer = "https://idp.example/"\n{audience}{table}\n')
    args = ["serve"] if transport == "stdio" else ["serve", "--http", "--port", "0"]
    done = run(home, *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"orch: config error: {key}: "), done.stderr
    assert done.stdout == ""
    assert "too-short" not in done.stderr, "the secret was echoed"
