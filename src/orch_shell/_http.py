"""MCP over HTTP: bearer tokens, RFC 9728 metadata, scope step-up, DNS-rebinding guard.

The same :class:`JwtVerifier` as stdio checks every request's bearer token
(FastMCP's ``TokenVerifier`` seam), so a missing or bad token is a 401 with a
``WWW-Authenticate`` challenge pointing at the protected resource metadata
(``/.well-known/oauth-protected-resource/mcp``, naming the issuer). A token
without the scope a call needs is a 403 ``insufficient_scope`` naming it
(:class:`ScopeGuard`, before the call reaches MCP), as the MCP authorization
spec asks, so a client can step up. FastMCP's Host/Origin guard refuses
requests from web pages on other origins (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from urllib.parse import urlparse

import structlog
from fastmcp.server.auth import AccessToken, TokenVerifier
from fastmcp.server.dependencies import get_access_token
from mcp.server.auth.routes import build_resource_metadata_url
from returns.result import Failure, Result
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orch_core import (
    ALL_SCOPES,
    AuthFailure,
    AuthFailureReason,
    Principal,
    missing_scope,
)

from ._auth_edge import resource_action
from ._credentials import Authenticate
from ._verifier import JwtVerifier

log = structlog.get_logger("orch.http")

MCP_PATH = "/mcp"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class OrchTokenVerifier(TokenVerifier):
    """FastMCP's bearer-token seam, backed by orch's one verifier."""

    def __init__(
        self,
        verifier: JwtVerifier,
        clock: Callable[[], float],
        base_url: str,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(base_url=base_url)
        self._verifier = verifier
        self._clock = clock
        self._on_failure = on_failure

    @property
    def scopes_supported(self) -> list[str]:
        return list(ALL_SCOPES)

    async def verify_token(self, token: str) -> AccessToken | None:
        if self._verifier.policy.jwks_url is None:
            verified = self._verifier.verify(token, self._clock())
        else:  # may fetch the key set: never block the event loop on the network
            verified = await asyncio.to_thread(self._verifier.verify, token, self._clock())
        if isinstance(verified, Failure):
            reason = verified.failure().reason.value
            log.warning("authentication failed", reason=reason)
            if self._on_failure is not None:
                self._on_failure(reason)
            return None
        principal = verified.unwrap()
        return AccessToken(
            token=token,
            client_id=principal.client_id or principal.subject,
            subject=principal.subject,
            scopes=sorted(principal.scopes),
            # The verifier re-checks expiry (with the policy's leeway) on every call.
            expires_at=None,
        )

    def get_routes(self, mcp_path: str | None = None) -> list[Route]:
        """The RFC 9728 protected resource metadata, naming the token issuer."""
        self.set_mcp_path(mcp_path)
        resource = self._get_resource_url(mcp_path)
        if resource is None:
            return []
        body = {
            "resource": str(resource),
            "authorization_servers": [self._verifier.policy.issuer],
            "scopes_supported": self.scopes_supported,
            "bearer_methods_supported": ["header"],
            "resource_name": "orch",
        }

        async def metadata(_request: Request) -> Response:
            return JSONResponse(body)

        path = urlparse(str(build_resource_metadata_url(resource))).path
        return [Route(path, endpoint=metadata, methods=["GET"])]


def http_authenticate(verifier: JwtVerifier, clock: Callable[[], float]) -> Authenticate:
    """Who is calling over HTTP: the request's bearer token, verified again now."""

    def authenticate() -> Result[Principal, AuthFailure]:
        access = get_access_token()
        if access is None:
            return Failure(AuthFailure(reason=AuthFailureReason.MISSING, message="no bearer token"))
        return verifier.verify(access.token, clock())

    return authenticate


class ScopeGuard:
    """Refuse a ``tools/call`` or ``resources/read`` whose token lacks the scope,
    with HTTP 403 ``insufficient_scope`` (RFC 6750 §3.1) naming the scope.

    Runs after authentication (Starlette's ``scope["user"]``); an unauthenticated
    request passes through to FastMCP's 401. A body over ``max_body_bytes``
    (``limits.max_stdio_line_bytes``) is a 413, never buffered whole.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        scopes: Mapping[str, str],
        metadata_url: str,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.scopes = scopes
        self.metadata_url = metadata_url
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        access = getattr(scope.get("user"), "access_token", None)
        if scope["type"] != "http" or scope["method"] != "POST" or access is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive, self.max_body_bytes)
        if body is None:
            too_large = (
                f"request body too large: over {self.max_body_bytes} bytes "
                "(limits.max_stdio_line_bytes)"
            )
            await _plain(413, too_large)(scope, receive, send)
            return
        missing = self._missing(body, set(access.scopes))
        if missing is not None:
            log.warning("insufficient scope", scope=missing)
            await self._forbidden(missing)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _missing(self, body: bytes, granted: set[str]) -> str | None:
        action, with_message = _action(body)
        if action is None:
            return None
        return missing_scope(granted, action, with_message=with_message, table=self.scopes)

    def _forbidden(self, missing: str) -> Response:
        return insufficient_scope(missing, "this call", self.metadata_url)


def insufficient_scope(missing: str, what: str, metadata_url: str) -> Response:
    """The 403 step-up answer (RFC 6750 §3.1): ``what`` needs the scope ``missing``."""
    description = f"PERMISSION_DENIED: {what} needs the scope {missing!r}"
    challenge = (
        f'Bearer error="insufficient_scope", scope="{missing}", '
        f'resource_metadata="{metadata_url}", error_description="{description}"'
    )
    return JSONResponse(
        {"error": "insufficient_scope", "error_description": description},
        status_code=403,
        headers={"WWW-Authenticate": challenge},
    )


def _action(body: bytes) -> tuple[str | None, bool]:
    """The orch action a JSON-RPC request body asks for (None: not one we gate)."""
    try:
        message = json.loads(body)
    except ValueError:
        return None, False  # FastMCP answers the parse error
    if not isinstance(message, dict) or not isinstance(message.get("params"), dict):
        return None, False
    params = message["params"]
    if message.get("method") == "resources/read":
        return resource_action(params.get("uri")), False
    if message.get("method") != "tools/call" or not isinstance(params.get("name"), str):
        return None, False
    arguments = params.get("arguments")
    with_message = isinstance(arguments, dict) and bool(arguments.get("initial_message"))
    return params["name"], with_message


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _plain(status: int, text: str) -> Response:
    return Response(text, status_code=status, media_type="text/plain")
