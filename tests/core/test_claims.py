"""What a verified token means: the principal made from its claims, and its expiry.

``principal_from_claims`` is total over JSON (a Principal or ``BAD_CLAIMS``, never
an exception); ``still_valid`` is exact at the boundary ``exp + leeway``.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from returns.pipeline import is_successful
from returns.result import Success

from orch_core import (
    AuthFailureReason,
    ErrorCode,
    Principal,
    principal_from_claims,
    still_valid,
)
from tests.strategies import json_values, scope_words

# -- principal_from_claims -----------------------------------------------------

_RESERVED = {"sub", "scope", "scp", "exp", "client_id", "azp", "jti"}
_extra_claims = st.dictionaries(
    st.text(max_size=10).filter(lambda key: key not in _RESERVED), json_values(), max_size=4
)
_subjects = st.text(min_size=1, max_size=24)
_not_strings = json_values().filter(lambda value: not isinstance(value, str))
_not_string_lists = json_values().filter(
    lambda value: (
        value is not None
        and not (isinstance(value, list) and all(isinstance(item, str) for item in value))
    )
)


@given(
    subject=_subjects,
    scope=st.none() | st.lists(scope_words(), max_size=4),
    separator=st.sampled_from([" ", "  ", "\t", "\n"]),
    scp=st.none() | st.lists(scope_words(), max_size=4),
    extra=_extra_claims,
)
def test_well_typed_claims_give_a_principal_with_the_union_of_scopes(
    subject: str,
    scope: list[str] | None,
    separator: str,
    scp: list[str] | None,
    extra: dict[str, object],
) -> None:
    """Contract: scopes == words of ``scope`` | items of ``scp``; subject is ``sub``."""
    claims: dict[str, object] = {**extra, "sub": subject}
    if scope is not None:
        claims["scope"] = separator.join(scope)
    if scp is not None:
        claims["scp"] = scp
    principal = principal_from_claims(claims).unwrap()
    assert principal.subject == subject
    assert principal.scopes == frozenset(scope or ()) | frozenset(scp or ())
    assert principal.expires_at is None


@given(subject=_not_strings | st.just(""), extra=_extra_claims)
def test_a_missing_empty_or_non_string_subject_is_refused(
    subject: object, extra: dict[str, object]
) -> None:
    failure = principal_from_claims({**extra, "sub": subject}).failure()
    assert failure.reason is AuthFailureReason.BAD_CLAIMS
    assert failure.as_error().code is ErrorCode.UNAUTHENTICATED
    assert principal_from_claims(extra).failure().reason is AuthFailureReason.BAD_CLAIMS


@given(subject=_subjects, scope=_not_strings.filter(lambda value: value is not None))
def test_an_ill_typed_scope_is_refused(subject: str, scope: object) -> None:
    failure = principal_from_claims({"sub": subject, "scope": scope}).failure()
    assert (failure.reason, "'scope'" in failure.message) == (AuthFailureReason.BAD_CLAIMS, True)


@given(subject=_subjects, scp=_not_string_lists)
def test_an_ill_typed_scp_is_refused(subject: str, scp: object) -> None:
    failure = principal_from_claims({"sub": subject, "scp": scp}).failure()
    assert (failure.reason, "'scp'" in failure.message) == (AuthFailureReason.BAD_CLAIMS, True)


@given(st.dictionaries(st.sampled_from(sorted(_RESERVED)) | st.text(max_size=6), json_values()))
def test_any_json_claims_give_a_principal_or_bad_claims_never_an_exception(
    claims: dict[str, object],
) -> None:
    result = principal_from_claims(claims)
    if is_successful(result):
        expires_at = result.unwrap().expires_at
        assert expires_at is None or math.isfinite(expires_at)
    else:
        assert result.failure().reason is AuthFailureReason.BAD_CLAIMS


@pytest.mark.parametrize("exp", [math.nan, math.inf, -math.inf, 10**400, True, "1700000000"])
def test_an_exp_that_is_not_a_finite_number_is_refused(exp: object) -> None:
    failure = principal_from_claims({"sub": "ann", "exp": exp}).failure()
    assert "'exp'" in failure.message


def test_client_and_token_id_are_read() -> None:
    claims = {"sub": "ann", "azp": "desk", "jti": "t-1", "exp": 1_700_000_000}
    principal = principal_from_claims(claims).unwrap()
    assert (principal.client_id, principal.token_id) == ("desk", "t-1")
    assert principal.expires_at == 1_700_000_000.0
    assert principal_from_claims({**claims, "client_id": "cli"}).unwrap().client_id == "cli"


# -- still_valid ----------------------------------------------------------------


@given(
    exp=st.floats(min_value=0, max_value=4e9),
    leeway=st.floats(min_value=0, max_value=60),
)
def test_a_token_expires_exactly_at_exp_plus_leeway(exp: float, leeway: float) -> None:
    principal = Principal(subject="ann", expires_at=exp)
    deadline = exp + leeway
    failure = still_valid(principal, now=deadline, leeway=leeway).failure()
    assert failure.reason is AuthFailureReason.EXPIRED
    assert "expired" in failure.message
    just_before = math.nextafter(deadline, -math.inf)
    assert still_valid(principal, now=just_before, leeway=leeway) == Success(principal)


def test_a_token_without_exp_never_expires() -> None:
    principal = Principal(subject="ann")
    assert still_valid(principal, now=1e12) == Success(principal)


def test_an_expiry_no_calendar_can_show_is_still_reported() -> None:
    principal = Principal(subject="ann", expires_at=-1e300)
    assert "Unix time" in still_valid(principal, now=0.0).failure().message
