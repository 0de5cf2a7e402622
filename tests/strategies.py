"""Shared hypothesis strategies for orch's domain values.

Strategies that may produce invalid input come in pairs with the outcome the
core must give: ``*_cases`` strategies draw ``(value, expected)`` where
``expected`` is ``None`` for "accepted" or the :class:`ErrorCode` it must be
refused with. The expectation is stated by how the value was built (e.g. "one
byte over the limit"), never by re-running the rule under test.
"""

from __future__ import annotations

import itertools
import string

from hypothesis import strategies as st

from orch_core import (
    ADMIN_SCOPE,
    AGENT_PREFIX,
    ALL_SCOPES,
    CONVERSATION_PREFIX,
    DEFAULT_ACTION_SCOPES,
    SESSION_PREFIX,
    TURN_PREFIX,
    ErrorCode,
    Limits,
    PathFacts,
    Policy,
    Principal,
    RateRule,
    SecurityPolicy,
    TokenBucket,
    TurnStatus,
)

# -- policy -------------------------------------------------------------------

ALLOWED_ROOTS = ("/srv/orch", "/home/a")
PERMISSION_MODES = ("default", "plan")

SMALL_LIMITS = Limits(
    max_sessions_per_principal=3,
    max_agents_per_session=3,
    max_message_bytes=64,
    max_role_bytes=32,
    max_name_chars=16,
    max_description_bytes=32,
    max_running_turns=3,
    max_running_turns_per_principal=2,
    max_agents_total=7,
)

#: A policy whose limits a short random command sequence can reach.
SMALL_POLICY = Policy(
    limits=SMALL_LIMITS, permission_modes=PERMISSION_MODES, allowed_roots=ALLOWED_ROOTS
)


def policies() -> st.SearchStrategy[Policy]:
    """Policies with small limits (1-4 sessions/agents, short texts)."""
    limits = st.builds(
        Limits,
        max_sessions_per_principal=st.integers(1, 4),
        max_agents_per_session=st.integers(1, 4),
        max_message_bytes=st.integers(8, 128),
        max_role_bytes=st.integers(8, 64),
        max_name_chars=st.integers(4, 32),
        max_description_bytes=st.integers(8, 64),
        max_running_turns=st.integers(1, 4),
        max_running_turns_per_principal=st.integers(1, 4),
        max_agents_total=st.integers(1, 16),
    )
    return st.builds(
        Policy,
        limits=limits,
        permission_modes=st.just(PERMISSION_MODES),
        allowed_roots=st.just(ALLOWED_ROOTS),
    )


# -- principals and ids -------------------------------------------------------

ALICE = Principal(subject="alice")
BOB = Principal(subject="bob")


def principals(*, admin: bool | None = False) -> st.SearchStrategy[Principal]:
    """Principals with non-empty subjects; ``admin=None`` draws both kinds."""
    subjects = st.text(string.ascii_letters + string.digits + "-_.@|", min_size=1, max_size=24)
    flags = st.booleans() if admin is None else st.just(admin)
    return st.builds(
        Principal,
        subject=subjects,
        scopes=flags.map(lambda is_admin: frozenset({ADMIN_SCOPE} if is_admin else ())),
    )


HEX = "0123456789abcdef"
ID_PREFIXES = (SESSION_PREFIX, AGENT_PREFIX, CONVERSATION_PREFIX, TURN_PREFIX)


def ids(prefix: str) -> st.SearchStrategy[str]:
    """Well-formed ids as the shell mints them: prefix + 16 lowercase hex."""
    return st.text(HEX, min_size=16, max_size=16).map(lambda body: prefix + body)


def session_ids() -> st.SearchStrategy[str]:
    return ids(SESSION_PREFIX)


def agent_ids() -> st.SearchStrategy[str]:
    return ids(AGENT_PREFIX)


def conversation_ids() -> st.SearchStrategy[str]:
    return ids(CONVERSATION_PREFIX)


def turn_ids() -> st.SearchStrategy[str]:
    return ids(TURN_PREFIX)


def malformed_ids() -> st.SearchStrategy[str]:
    """Strings a client might send where an id belongs: empty, wrong prefix, junk."""
    return st.one_of(
        st.sampled_from(["", "ses_", "agt_X", "AGT_0123456789abcdef", "../../etc", "\x00"]),
        st.text(max_size=40),
    )


# -- names --------------------------------------------------------------------

AGENT_NAME_REGEX = r"[a-z][a-z0-9_-]{0,31}"


def agent_names() -> st.SearchStrategy[str]:
    """Valid agent names (``^[a-z][a-z0-9_-]{0,31}$``), boundaries included."""
    return st.one_of(
        st.sampled_from(["a", "reviewer", "z" * 32, "a-b_c9"]),
        st.from_regex(AGENT_NAME_REGEX, fullmatch=True),
    )


def invalid_agent_names() -> st.SearchStrategy[str]:
    """Names the agent-name rule must refuse, each for a stated reason."""
    valid_tail = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", max_size=31)
    return st.one_of(
        st.just(""),
        st.just("a" * 33),  # one over
        st.text("abcxyz", min_size=33, max_size=60),  # too long
        valid_tail.map(lambda t: "R" + t),  # uppercase start
        valid_tail.map(lambda t: "r" + t + "X"),  # uppercase inside
        st.tuples(st.sampled_from("0123456789_-"), valid_tail).map("".join),  # bad first
        st.tuples(valid_tail, st.sampled_from([" ", ".", "/", "\n", "\x00", "é"])).map(
            lambda p: "a" + p[0][:30] + p[1]
        ),  # bad character (at most 32 chars, so only the character is wrong)
    )


def session_names(max_chars: int = SMALL_LIMITS.max_name_chars) -> st.SearchStrategy[str]:
    """Valid session names: printable, not blank, already trimmed, at most ``max_chars``."""
    inner = st.characters(categories=["L", "N", "P", "S"]) | st.just(" ")
    edge = st.characters(categories=["L", "N", "P", "S"])
    return st.one_of(
        edge,
        st.tuples(edge, st.text(inner, max_size=max_chars - 2), edge).map("".join),
    )


def session_name_cases(
    max_chars: int = SMALL_LIMITS.max_name_chars,
) -> st.SearchStrategy[tuple[str, ErrorCode | None]]:
    """(name, expected): empty, blank, too long, control characters, or fine."""
    bad = ErrorCode.INVALID_ARGUMENT
    control = st.sampled_from(["\x01", "\x1b", "\x7f", "\u0085", "\u200b", "\u2028"])
    return st.one_of(
        session_names(max_chars).map(lambda n: (n, None)),
        st.sampled_from(["", " ", "\t\n "]).map(lambda n: (n, bad)),
        session_names(max_chars).map(lambda n: (n + "x" * (max_chars + 1 - len(n)), bad)),
        st.tuples(control, session_names(max_chars)).map(
            lambda p: ("a" + p[0] + p[1][: max_chars - 2], bad)
        ),
    )


# -- texts --------------------------------------------------------------------

#: Characters of every UTF-8 width: 1, 2, 3 and 4 bytes.
MULTI_BYTE = ("a", "é", "€", "😀")


def fitting_text(max_bytes: int, *, allow_empty: bool = False) -> st.SearchStrategy[str]:
    """Texts of at most ``max_bytes`` UTF-8 bytes, with no NUL, mixing widths."""
    any_char = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
    char = st.sampled_from(MULTI_BYTE) | any_char
    body = st.lists(char, min_size=0 if allow_empty else 1, max_size=max_bytes).map("".join)

    def trimmed(value: str) -> str:
        while len(value.encode()) > max_bytes:
            value = value[:-1]
        return value

    result = body.map(trimmed)
    if allow_empty:
        return result
    # Never blank: a visible first character (the strategy still reaches max_bytes).
    return (
        result.map(lambda v: "m" + v[1:] if v[:1].strip() == "" else v)
        .map(trimmed)
        .filter(lambda v: v.strip() != "")
    )


def message_cases(
    max_bytes: int = SMALL_LIMITS.max_message_bytes,
) -> st.SearchStrategy[tuple[str, ErrorCode | None]]:
    """(message, expected): fitting, exactly at the limit, over it (also by one
    multi-byte character), NUL-bearing, blank, or a lone surrogate."""
    exact = st.sampled_from(MULTI_BYTE).map(
        lambda c: c * (max_bytes // len(c.encode())) + "a" * (max_bytes % len(c.encode()))
    )
    over_by_width = st.sampled_from(MULTI_BYTE[1:]).map(
        lambda c: "a" * (max_bytes - len(c.encode()) + 1) + c
    )  # max_bytes - w + 1 ASCII bytes, then a w-byte char: max_bytes + 1 bytes
    return st.one_of(
        fitting_text(max_bytes).map(lambda m: (m, None)),
        exact.map(lambda m: (m, None)),
        st.just(("a" * (max_bytes + 1), ErrorCode.LIMIT_EXCEEDED)),
        over_by_width.map(lambda m: (m, ErrorCode.LIMIT_EXCEEDED)),
        fitting_text(max_bytes - 1).map(lambda m: (m + "\x00", ErrorCode.INVALID_ARGUMENT)),
        st.sampled_from(["", " ", "\n\t"]).map(lambda m: (m, ErrorCode.INVALID_ARGUMENT)),
        st.just(("hi \ud800", ErrorCode.INVALID_ARGUMENT)),
    )


def messages(max_bytes: int = SMALL_LIMITS.max_message_bytes) -> st.SearchStrategy[str]:
    """Any message a client might send, valid or not (see :func:`message_cases`)."""
    return message_cases(max_bytes).map(lambda case: case[0])


# -- paths --------------------------------------------------------------------


def _facts(
    given: str, *, exists: bool = True, is_dir: bool = True, resolved: str | None = None
) -> PathFacts:
    return PathFacts(
        given=given,
        is_absolute=given.startswith("/"),
        exists=exists,
        is_dir=is_dir and exists,
        resolved=(resolved or given) if exists else None,
    )


_segment = st.text(string.ascii_lowercase + string.digits + "_-", min_size=1, max_size=8)
_subpath = st.lists(_segment, max_size=3).map(lambda parts: "".join("/" + p for p in parts))


def path_fact_cases(
    allowed_roots: tuple[str, ...] = ALLOWED_ROOTS,
) -> st.SearchStrategy[tuple[PathFacts, ErrorCode | None]]:
    """(facts, expected) for a session root: inside an allowed root (the root
    itself too), outside, a sibling sharing the root's prefix, relative, missing,
    not a directory, or a ``..`` path whose resolved form escapes."""
    root = st.sampled_from(allowed_roots)
    bad = ErrorCode.INVALID_ARGUMENT
    return st.one_of(
        st.tuples(root, _subpath).map(lambda p: (_facts(p[0] + p[1]), None)),
        st.tuples(root, _subpath).map(
            # a symlink inside a root to a folder inside a root is fine
            lambda p: (_facts(p[0] + "/link", resolved=p[0] + p[1]), None)
        ),
        st.tuples(st.sampled_from(["/etc", "/tmp", "/var"]), _subpath).map(
            lambda p: (_facts(p[0] + p[1]), ErrorCode.PATH_NOT_ALLOWED)
        ),
        st.sampled_from(["/", "/home", "/srv"]).map(
            lambda p: (_facts(p), ErrorCode.PATH_NOT_ALLOWED)  # parents of a root
        ),
        st.tuples(root, _segment, _subpath).map(
            # "/home/ab" must not pass for root "/home/a"
            lambda p: (_facts(p[0] + p[1] + p[2]), ErrorCode.PATH_NOT_ALLOWED)
        ),
        st.tuples(root, _subpath).map(
            lambda p: (
                _facts(p[0] + p[1] + "/../../../../../etc", resolved="/etc"),
                ErrorCode.PATH_NOT_ALLOWED,
            )
        ),
        st.tuples(root, _subpath).map(
            lambda p: (_facts(p[0] + "/escape", resolved="/var" + p[1]), ErrorCode.PATH_NOT_ALLOWED)
        ),  # a symlink out of the root
        _subpath.map(lambda s: (_facts("proj" + s, resolved="/srv/orch/proj" + s), bad)),
        st.tuples(root, _subpath).map(lambda p: (_facts(p[0] + p[1], exists=False), bad)),
        st.tuples(root, _subpath).map(
            lambda p: (_facts(p[0] + p[1] + "/f.txt", is_dir=False), bad)
        ),
    )


def path_facts(allowed_roots: tuple[str, ...] = ALLOWED_ROOTS) -> st.SearchStrategy[PathFacts]:
    """Any session root a client might give (see :func:`path_fact_cases`)."""
    return path_fact_cases(allowed_roots).map(lambda case: case[0])


# -- turn endings -------------------------------------------------------------

FINAL_STATUSES = tuple(s for s in TurnStatus if s is not TurnStatus.RUNNING)


def final_statuses() -> st.SearchStrategy[TurnStatus]:
    return st.sampled_from(FINAL_STATUSES)


# -- rate limits --------------------------------------------------------------


def rate_rules() -> st.SearchStrategy[RateRule]:
    """Limited rules: 1-6000 calls a minute (up to 100 a second), bursts of 1-50,
    small bursts often (they are the easiest to overrun)."""
    bursts = st.one_of(st.integers(1, 4), st.integers(1, 50))
    return st.builds(RateRule, per_minute=st.integers(1, 6000), burst=bursts)


def call_times(start: float = 1_000.0) -> st.SearchStrategy[list[float]]:
    """Times of calls as a clock reports them: mostly forward, often several calls at
    the same instant, pauses long enough to refill any bucket, and sometimes a step
    back. Steps are whole microseconds, so sums stay exact enough to compare windows."""
    seconds = st.integers(1, 120_000_000).map(lambda us: us / 1e6)
    step = st.one_of(
        st.just(0.0),
        st.just(0.0),
        st.integers(1, 100_000).map(lambda us: us / 1e6),
        seconds,
        seconds.map(lambda back: -back / 20),
    )
    return st.lists(step, min_size=1, max_size=120).map(
        lambda steps: list(itertools.accumulate(steps, initial=start))[1:]
    )


def buckets(rule: RateRule, around: float = 1_000.0) -> st.SearchStrategy[TokenBucket]:
    """Any state a bucket of ``rule`` can be in: 0..burst tokens, seen near ``around``."""
    return st.builds(
        TokenBucket,
        tokens=st.floats(0, rule.burst),
        updated_at=st.floats(around - 100, around + 100),
    )


# -- tokens and security policies --------------------------------------------


def json_values() -> st.SearchStrategy[object]:
    """Anything ``json.loads`` can return (NaN, infinities and huge integers included)."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=12,
    )


def scope_words() -> st.SearchStrategy[str]:
    """One scope: orch's own, or any word without whitespace (``str.split`` keeps it whole)."""
    word = st.text(st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=16)
    return st.sampled_from(ALL_SCOPES) | word


def scope_tables() -> st.SearchStrategy[dict[str, str]]:
    """``[auth.scopes]`` overrides: some tools, each mapped to a one-word scope."""
    word = st.text(string.ascii_letters + string.digits + ":._-", min_size=1, max_size=16)
    return st.dictionaries(st.sampled_from(tuple(DEFAULT_ACTION_SCOPES)), word, max_size=4)


HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
PUBLIC_KEY_ALGORITHMS = ("EdDSA", "ES256", "ES384", "ES512", "RS256", "PS256")


def security_policies() -> st.SearchStrategy[SecurityPolicy]:
    """Valid policies of every kind: JWKS, public key file, HMAC secret."""
    text = st.text(string.ascii_letters + string.digits + ":/.-_", min_size=1, max_size=24)
    public = st.lists(st.sampled_from(PUBLIC_KEY_ALGORITHMS), min_size=1, max_size=3, unique=True)
    hmac = st.lists(st.sampled_from(HMAC_ALGORITHMS), min_size=1, max_size=3, unique=True)
    jwks = st.builds(
        dict,
        algorithms=public.map(tuple),
        jwks_url=st.sampled_from(["https://idp.example/jwks", "http://127.0.0.1:8080/keys"]),
    )
    key_file = st.builds(dict, algorithms=public.map(tuple), public_key_file=text.map("/".__add__))
    secrets = st.text(min_size=32, max_size=64).filter(str.strip)  # 32 characters >= 32 bytes
    secret = st.builds(dict, algorithms=hmac.map(tuple), secret=secrets)
    return st.builds(
        lambda source, common: SecurityPolicy(**source, **common),
        st.one_of(jwks, key_file, secret),
        st.fixed_dictionaries(
            {"issuer": text, "audience": text},
            optional={
                "jwks_cache_seconds": st.floats(1, 86_400),
                "jwks_timeout_seconds": st.floats(0.1, 60),
                "leeway_seconds": st.floats(0, 60),
                "max_token_bytes": st.integers(256, 8192),
                "required_claims": st.just(("exp", "iat", "iss", "aud", "sub", "jti")),
                "token_type": st.sampled_from(["at+jwt", "JWT"]),
                "scopes": scope_tables(),
            },
        ),
    )


# -- audit ----------------------------------------------------------------------


def audit_bodies() -> st.SearchStrategy[dict[str, object]]:
    """Record bodies: JSON without floats (any text, lone surrogates included)."""
    scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=12)
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
        max_leaves=6,
    )
    return st.dictionaries(st.text(max_size=8), values, max_size=4)
