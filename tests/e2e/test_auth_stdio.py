"""Authentication over stdio, against a real ``orch serve`` subprocess.

The server reads its token from ``ORCH_TOKEN_FILE`` and re-reads the file when it
changes, so one server can be shown every forged token in ``tests/token_attacks``:
each call with one is ``UNAUTHENTICATED`` and runs nothing. At start-up an
absent, malformed, expired or wrong-audience token stops the server with exit
code 2 and a message on stderr (stdout stays empty: it is the protocol).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from orch_shell._keys import write_private_text
from orch_shell._paths import resolve_paths
from tests import audit_kit
from tests.e2e.clients import connect
from tests.harness import ORCH_BIN, USER_SCOPES, World, make_world
from tests.token_attacks import ATTACKS, VALID_FORMS, Attack, TokenKit


def kit_for(world: World) -> TokenKit:
    """A kit on the world's own key pair (the one `orch init` made), user scopes."""
    keys = resolve_paths({"ORCH_HOME": str(world.data)}).keys_dir
    return TokenKit.create(keys, scopes=tuple(sorted(USER_SCOPES)))


def write_auth(world: World, kit: TokenKit, overrides: dict[str, Any]) -> None:
    """An ``[auth]`` table for the kit's key with ``overrides`` (none: no table at all,
    so the server uses the local issuer)."""
    if not overrides:
        return
    lines = [
        "[auth]",
        f'issuer = "{kit.issuer}"',
        f'audience = "{kit.audience}"',
        f'public_key_file = "{kit.public_key_file}"',
    ]
    for key, value in overrides.items():
        lines.append(f"{key} = {json.dumps(value)}")  # JSON scalars and lists are TOML too
    (world.data / "orch.toml").write_text("\n".join(lines) + "\n")


def by_policy(attacks: Iterable[Attack]) -> list[tuple[dict[str, Any], list[Attack]]]:
    keyed = sorted(attacks, key=lambda a: repr(sorted(a.policy_overrides.items())))
    return [
        (dict(group[0].policy_overrides), group)
        for _key, grouped in itertools.groupby(
            keyed, key=lambda a: repr(sorted(a.policy_overrides.items()))
        )
        if (group := list(grouped))
    ]


GROUPS = by_policy([*ATTACKS, *VALID_FORMS])


@pytest.mark.parametrize(
    ("overrides", "attacks"), GROUPS, ids=[repr(o) or "local" for o, _ in GROUPS]
)
async def test_every_forged_token_is_unauthenticated_and_every_valid_form_works(
    tmp_path: Path, overrides: dict[str, Any], attacks: list[Attack]
) -> None:
    world = make_world(tmp_path)
    kit = kit_for(world)
    write_auth(world, kit, overrides)
    good = next((a for a in VALID_FORMS if a.policy_overrides == overrides), VALID_FORMS[0])
    write_private_text(world.token_file, good.make(kit))
    async with connect("mcp-sdk-stdio", world) as caller:
        for number, attack in enumerate(attacks):
            token = attack.make(kit)
            write_private_text(world.token_file, token)
            failed, text = await caller.call(
                "create_session", {"name": f"s{number}", "root_path": str(world.project)}
            )
            if attack.reason is None:
                assert not failed, f"{attack}: a valid token was refused: {text}"
                continue
            assert failed, f"{attack}: accepted"
            assert text.startswith("UNAUTHENTICATED: "), f"{attack}: {text}"
            assert len(token) < 8 or token[-20:] not in text, f"{attack}: the token was echoed"
        write_private_text(world.token_file, good.make(kit))
        failed, listed = await caller.call("list_sessions", {})
        assert not failed, listed
    created = sorted(s["name"] for s in listed["sessions"])
    expected = sorted(f"s{n}" for n, a in enumerate(attacks) if a.reason is None)
    assert created == expected, "a refused call created something"
    # Every refusal left its decision record, with the reason and no principal.
    made = {d["arguments"]["name"]: d for d in audit_kit.decisions(world, "create_session")}
    for number, attack in enumerate(attacks):
        decision = made[f"s{number}"]
        if attack.reason is None:
            assert decision["decision"] == "allowed", attack
            continue
        assert (decision["decision"], decision["code"]) == ("refused", "UNAUTHENTICATED")
        assert decision["reason"] == attack.reason.value, attack
        assert decision["principal"] is None, attack
    assert audit_kit.verify(world)[0] == 0


def start(world: World, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(ORCH_BIN), "serve"],
        env=world.server_env(**env),
        input=b"",
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("absent", "no token: set ORCH_TOKEN_FILE"),
        ("malformed", "not a well-formed JWT"),
        ("expired", "expired"),
        ("wrong-audience", "another audience"),
        ("unreadable-file", "cannot be read"),
    ],
)
def test_a_bad_token_at_start_exits_2_saying_why(tmp_path: Path, case: str, message: str) -> None:
    world = make_world(tmp_path)
    kit = kit_for(world)
    env: dict[str, str] = {}
    if case == "absent":
        env["ORCH_TOKEN_FILE"] = ""
    elif case == "unreadable-file":
        env["ORCH_TOKEN_FILE"] = str(world.root / "no-such-token")
    else:
        token = {
            "malformed": "this.is.garbage",
            "expired": kit.valid(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
            "wrong-audience": kit.valid(aud="someone-else"),
        }[case]
        env["ORCH_TOKEN"], env["ORCH_TOKEN_FILE"] = token, ""
    done = start(world, **env)
    assert done.returncode == 2, done.stderr
    assert done.stdout == b"", "stdout is the protocol: nothing may be printed there"
    stderr = done.stderr.decode()
    assert message in stderr, stderr
    assert "Traceback" not in stderr


async def test_a_token_that_expires_while_serving_is_refused_from_then_on(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    kit = kit_for(world)
    write_auth(world, kit, {"leeway_seconds": 0})
    expires = int(time.time()) + 3
    write_private_text(world.token_file, kit.valid(exp=expires))
    async with connect("fastmcp-stdio-legacy", world) as caller:
        failed, before = await caller.call("list_sessions", {})
        assert not failed, before
        await asyncio.sleep(max(0.0, expires - time.time()) + 0.2)
        failed, after = await caller.call("list_sessions", {})
        assert failed and after.startswith("UNAUTHENTICATED: the token"), after
        assert "expired" in after
        # Renewing the file (what `orch token issue --out` does) works without a restart.
        write_private_text(world.token_file, kit.valid())
        failed, renewed = await caller.call("list_sessions", {})
        assert not failed, renewed
