"""One small interface over the three real clients the end-to-end tests drive.

``Caller.call`` returns ``(is_error, payload)`` where payload is the structured
JSON on success and the error text on failure, whichever client made the call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.harness import ORCH_BIN, World

CLIENT_KINDS = ["mcp-sdk-stdio", "fastmcp-stdio-default", "fastmcp-stdio-legacy"]


class Caller(Protocol):
    async def call(self, name: str, args: dict[str, Any]) -> tuple[bool, Any]: ...
    async def read(self, uri: str) -> str: ...
    async def tools(self) -> list[Any]: ...


def _payload(result: Any) -> tuple[bool, Any]:
    if result.is_error:
        return True, result.content[0].text
    if result.structured_content is not None:
        return False, dict(result.structured_content)
    return False, json.loads(result.content[0].text)


class _SdkCaller:
    def __init__(self, session: ClientSession) -> None:
        self._session = session

    async def call(self, name: str, args: dict[str, Any]) -> tuple[bool, Any]:
        return _payload(await self._session.call_tool(name, args))

    async def read(self, uri: str) -> str:
        result = await self._session.read_resource(uri)
        return str(result.contents[0].text)  # type: ignore[union-attr]

    async def tools(self) -> list[Any]:
        return list((await self._session.list_tools()).tools)


class _FastMCPCaller:
    def __init__(self, client: Client[Any]) -> None:
        self._client = client

    async def call(self, name: str, args: dict[str, Any]) -> tuple[bool, Any]:
        return _payload(await self._client.call_tool(name, args, raise_on_error=False))

    async def read(self, uri: str) -> str:
        contents = await self._client.read_resource(uri)
        return str(contents[0].text)  # type: ignore[union-attr]

    async def tools(self) -> list[Any]:
        return list(await self._client.list_tools())


@asynccontextmanager
async def connect(kind: str, world: World, **env: str) -> AsyncIterator[Caller]:
    """Start ``orch serve`` as a subprocess in ``world`` and connect a client of ``kind``."""
    environment = world.server_env(**env)
    if kind == "mcp-sdk-stdio":
        params = StdioServerParameters(command=str(ORCH_BIN), args=["serve"], env=environment)
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield _SdkCaller(session)
        return
    mode = "legacy" if kind.endswith("legacy") else "auto"
    transport = StdioTransport(
        command=str(ORCH_BIN), args=["serve"], env=environment, keep_alive=False
    )
    async with Client(transport, mode=mode) as client:
        yield _FastMCPCaller(client)
