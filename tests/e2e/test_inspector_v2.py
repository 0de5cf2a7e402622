"""``orch serve`` driven by the MCP Inspector v2 command line
(``@modelcontextprotocol/inspector`` 2.x, ``--cli --format json``), a client
rewritten on the v2 TypeScript SDK, one process per request.

See ``tests/e2e/inspectors.py`` for how the runs work and ``inspector_walk.py`` for what
they check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.inspector_walk import check_tool_list, walk_every_tool
from tests.e2e.inspectors import InspectorV2
from tests.harness import World, make_world

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def test_lists_exactly_the_nine_tools(world: World) -> None:
    check_tool_list(InspectorV2(), world)


def test_every_tool_errors_and_resources(world: World) -> None:
    walk_every_tool(InspectorV2(), world)
