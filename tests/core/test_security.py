"""The security policy: which policies are refused, how, and which are accepted.

A weak policy is refused naming its ``auth.<key>`` (the way a user meets it, in
``orch.toml``) and, built directly, raises naming the field; the secret is never
shown.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from returns.pipeline import is_successful
from returns.result import Success

from orch_core import (
    LOCAL_AUDIENCE,
    LOCAL_ISSUER,
    SecurityPolicy,
    local_policy,
    settings_from_mapping,
)
from orch_core._settings import InvalidSettingError
from tests.strategies import security_policies

SECRET = "s3cr3t-" + "x" * 25 + "-tail"  # 37 bytes: long enough for HS*
JWKS = "https://idp.example/.well-known/jwks.json"
SHORT = "short-one"  # 9 bytes
AT_JWT = "at+jwt"
BASE: dict[str, Any] = {"issuer": "https://idp.example/", "audience": "orch"}


def _auth(**given: Any) -> dict[str, Any]:
    return {**BASE, **given}


# -- which policies are refused, and how ---------------------------------------

WEAK = [
    pytest.param(
        _auth(algorithms=["HS256"], secret=SHORT),
        "secret",
        "at least 32 bytes",
        id="short HS secret",
    ),
    pytest.param(
        _auth(algorithms=["HS256"], secret="é" * 15),  # 15 characters, 30 bytes
        "secret",
        "at least 32 bytes for HS*, got 30",
        id="secret counted in bytes",
    ),
    pytest.param(
        _auth(algorithms=["HS256"]), "secret", "need an explicit secret", id="HS no secret"
    ),
    pytest.param(_auth(algorithms=["none"], jwks_url=JWKS), "algorithms", "'none'", id="none"),
    pytest.param(
        _auth(algorithms=["RS256", "NONE"], jwks_url=JWKS), "algorithms", "never", id="NONE too"
    ),
    pytest.param(
        _auth(algorithms=["HS256", "EdDSA"], secret=SECRET),
        "algorithms",
        "cannot be mixed",
        id="HS mixed with EdDSA",
    ),
    pytest.param(
        _auth(algorithms=["EdDSA", "HS512"], jwks_url=JWKS),
        "algorithms",
        "cannot be mixed",
        id="EdDSA mixed with HS",
    ),
    pytest.param(_auth(algorithms=[], jwks_url=JWKS), "algorithms", "at least one", id="empty"),
    pytest.param(
        _auth(algorithms=["RS1"], jwks_url=JWKS), "algorithms", "unknown algorithm 'RS1'", id="RS1"
    ),
    pytest.param(
        _auth(algorithms=["HS256"], secret=SECRET, jwks_url=JWKS),
        "algorithms",
        "secret only",
        id="HS with a JWKS",
    ),
    pytest.param(
        _auth(secret=SECRET, jwks_url=JWKS), "secret", "only used with HS*", id="secret with EdDSA"
    ),
    pytest.param(
        {"issuer": "https://idp.example/", "jwks_url": JWKS},
        "audience",
        "required",
        id="missing audience",
    ),
    pytest.param({"audience": "orch", "jwks_url": JWKS}, "issuer", "required", id="no issuer"),
    pytest.param(_auth(audience="  ", jwks_url=JWKS), "audience", "must not be empty", id="blank"),
    pytest.param(_auth(), "jwks_url", "no key to verify tokens with", id="no key source"),
    pytest.param(
        _auth(jwks_url=JWKS, public_key_file="/k.pem"),
        "jwks_url",
        "both jwks_url and public_key_file",
        id="both key sources",
    ),
    pytest.param(_auth(public_key_file=""), "public_key_file", "non-empty", id="empty key file"),
    pytest.param(
        _auth(public_key_file="keys/idp.pem"), "public_key_file", "absolute", id="relative key file"
    ),
    pytest.param(
        _auth(public_key_file="~/idp.pem"), "public_key_file", "~ is not expanded", id="~ key file"
    ),
    pytest.param(
        _auth(jwks_url=JWKS, leeway_seconds=61), "leeway_seconds", "between 0 and 60", id="leeway"
    ),
    pytest.param(
        _auth(jwks_url=JWKS, leeway_seconds=-1), "leeway_seconds", "between 0", id="negative leeway"
    ),
    pytest.param(
        _auth(jwks_url=JWKS, max_token_bytes=8193),
        "max_token_bytes",
        "between 256 and 8192, got 8193",
        id="max_token_bytes beyond 8192",
    ),
    pytest.param(
        _auth(jwks_url=JWKS, required_claims=["iat", "iss", "aud", "sub"]),
        "required_claims",
        "missing: exp",
        id="required_claims without exp",
    ),
    pytest.param(
        _auth(jwks_url="http://idp.example/jwks"),
        "jwks_url",
        "https://",
        id="plain http to a remote host",
    ),
    pytest.param(
        _auth(jwks_url="http://127.0.0.1:80@evil.example/jwks"),
        "jwks_url",
        "https://",
        id="http with a loopback-looking user part",
    ),
    pytest.param(
        _auth(jwks_url="http://localhost.evil.example/jwks"),
        "jwks_url",
        "https://",
        id="http to a localhost-prefixed host",
    ),
    pytest.param(_auth(jwks_url="https://"), "jwks_url", "https://", id="https without a host"),
    pytest.param(_auth(jwks_url="ftp://idp/jwks"), "jwks_url", "https://", id="other scheme"),
    pytest.param(
        _auth(jwks_url=JWKS, jwks_timeout_seconds=0), "jwks_timeout_seconds", "between", id="t/o"
    ),
    pytest.param(
        _auth(jwks_url=JWKS, scopes={"crate_session": "x"}),
        "scopes",
        "unknown tool 'crate_session'",
        id="unknown tool in scopes",
    ),
    pytest.param(
        _auth(jwks_url=JWKS, scopes={"list_sessions": "two words"}),
        "scopes",
        "one word",
        id="scope with a space",
    ),
]


@pytest.mark.parametrize(("auth", "key", "fragment"), WEAK)
def test_weak_policies_are_refused_naming_the_setting(
    auth: dict[str, Any], key: str, fragment: str
) -> None:
    error = settings_from_mapping({"auth": auth}).failure()
    assert error.key == f"auth.{key}"
    assert fragment in error.message


@pytest.mark.parametrize(("auth", "key", "fragment"), WEAK)
def test_weak_policies_built_directly_raise(auth: dict[str, Any], key: str, fragment: str) -> None:
    given = {name: tuple(v) if isinstance(v, list) else v for name, v in auth.items()}
    with pytest.raises((InvalidSettingError, TypeError)) as raised:
        SecurityPolicy(**given)
    if isinstance(raised.value, InvalidSettingError):  # a missing argument is a TypeError
        assert (raised.value.name, fragment in str(raised.value)) == (key, True)


@pytest.mark.parametrize(
    ("auth", "key", "fragment"),
    [
        (_auth(jwks_url=JWKS, algorithms="EdDSA"), "algorithms", "list of strings"),
        (_auth(jwks_url=JWKS, leeway_seconds="30"), "leeway_seconds", "number"),
        (_auth(jwks_url=JWKS, max_token_bytes=True), "max_token_bytes", "integer"),
        (_auth(jwks_url=JWKS, token_type=5), "token_type", "string"),
        (_auth(jwks_url=JWKS, scopes=["create_session"]), "scopes", "table"),
        (_auth(jwks_url=JWKS, scopes={"list_sessions": 1}), "scopes", "list_sessions"),
        (_auth(jwks_url=JWKS, issuer=5), "issuer", "string"),
    ],
)
def test_wrong_types_in_auth_are_refused(auth: dict[str, Any], key: str, fragment: str) -> None:
    error = settings_from_mapping({"auth": auth}).failure()
    assert (error.key, fragment in error.message) == (f"auth.{key}", True), error


def test_unknown_auth_key_is_named_with_the_known_ones() -> None:
    error = settings_from_mapping({"auth": _auth(jwks_url=JWKS, jwks=JWKS)}).failure()
    assert error.key == "auth.jwks"
    assert "jwks_url" in error.message
    assert "public_key_file" in error.message


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(local_policy("/home/me/.orch/keys/token_signing.pub.pem"), id="local"),
        pytest.param(SecurityPolicy(**BASE, jwks_url=JWKS), id="JWKS over https"),
        pytest.param(
            SecurityPolicy(**BASE, jwks_url="http://localhost:8080/jwks"), id="JWKS on localhost"
        ),
        pytest.param(SecurityPolicy(**BASE, jwks_url="http://[::1]/jwks"), id="JWKS on ::1"),
        pytest.param(
            SecurityPolicy(**BASE, algorithms=("RS256",), public_key_file="/etc/orch/rsa.pub.pem"),
            id="RSA public key file with RS256",
        ),
        pytest.param(
            SecurityPolicy(**BASE, algorithms=("HS256",), secret="k" * 32), id="HS256 32 bytes"
        ),
        pytest.param(SecurityPolicy(**BASE, jwks_url=JWKS, token_type=AT_JWT), id="token_type set"),
        pytest.param(
            SecurityPolicy(**BASE, jwks_url=JWKS, leeway_seconds=60, max_token_bytes=8192),
            id="at the limits",
        ),
    ],
)
def test_good_policies_are_accepted_and_read_back_from_toml(policy: SecurityPolicy) -> None:
    from orch_core._settings import Settings, settings_to_mapping

    settings = Settings(auth=policy)
    assert settings_from_mapping(settings_to_mapping(settings)) == Success(settings)


def test_local_policy_is_the_one_orch_init_issues_for() -> None:
    policy = local_policy("/keys/pub.pem")
    assert (policy.issuer, policy.audience) == (LOCAL_ISSUER, LOCAL_AUDIENCE)
    assert policy.algorithms == ("EdDSA",)
    assert (policy.public_key_file, policy.jwks_url, policy.secret) == ("/keys/pub.pem", None, None)


def test_scopes_given_are_laid_over_the_defaults() -> None:
    policy = SecurityPolicy(**BASE, jwks_url=JWKS, scopes={"list_sessions": "reports:read"})
    assert policy.scopes["list_sessions"] == "reports:read"
    assert policy.scopes["create_session"] == "sessions:write"


def test_the_secret_is_not_in_repr_str_or_the_settings_repr() -> None:
    policy = SecurityPolicy(**BASE, algorithms=("HS512",), secret=SECRET)
    settings = settings_from_mapping({"auth": _auth(algorithms=["HS512"], secret=SECRET)}).unwrap()
    for shown in (repr(policy), str(policy), repr(settings)):
        assert "s3cr3t" not in shown
    assert settings.auth == policy


@given(
    secret=st.text(min_size=8, max_size=40).filter(str.strip),  # 8+: not a word of a message
    algorithms=st.sampled_from([["HS256"], ["EdDSA"], ["HS256", "RS256"], ["none"]]),
    extra=st.sampled_from([{}, {"jwks_url": JWKS}, {"jwks_url": "http://x/"}]),
)
def test_no_error_message_contains_the_secret(
    secret: str, algorithms: list[str], extra: dict[str, str]
) -> None:
    result = settings_from_mapping({"auth": _auth(algorithms=algorithms, secret=secret, **extra)})
    if not is_successful(result):
        assert secret not in result.failure().describe()


@pytest.mark.parametrize("value", [123456789, ["s3cr3t-value"], {"k": "s3cr3t-value"}, True])
def test_a_secret_of_the_wrong_type_is_not_echoed(value: object) -> None:
    error = settings_from_mapping({"auth": _auth(algorithms=["HS256"], secret=value)}).failure()
    assert error.key == "auth.secret"
    assert "must be a string" in error.message
    assert "s3cr3t" not in error.message
    assert "123456789" not in error.message


@given(security_policies())
def test_every_valid_policy_round_trips_through_toml_shape(policy: SecurityPolicy) -> None:
    from orch_core._settings import Settings, settings_to_mapping

    assert settings_from_mapping(settings_to_mapping(Settings(auth=policy))).unwrap().auth == policy
