"""Where metrics and health are read: two MCP resources and two HTTP routes.

* ``orch://metrics`` (Prometheus text) and ``orch://health`` (JSON, every check)
  are ordinary resources behind the security context: reading them is the
  action ``read_metrics`` (scope ``metrics:read``; ``orch:admin`` may too).
* ``GET /health`` (HTTP only) answers without a token, and says only the
  verdict: ``200 {"status": "ok"}`` or ``"degraded"``, ``503 {"status":
  "failing"}``. Check details would tell a stranger which CLI version runs and
  how full the disk is.
* ``GET /metrics`` (HTTP only) answers a client on this machine without a token
  (a local Prometheus), and anyone else only with a bearer token holding the
  ``read_metrics`` scope. "On this machine" means a loopback peer, the server
  bound to loopback without ``--public-url`` (a reverse proxy would make every
  client look local), and no ``Forwarded``/``X-Forwarded-For`` header.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any, Final

from fastmcp import FastMCP
from fastmcp.exceptions import ResourceError
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from orch_core import READ_METRICS, ErrorCode, HealthStatus, missing_scope

from ._health import Health, health_json
from ._http import insufficient_scope
from ._metrics import Metrics
from ._telemetry_edge import HEALTH_URI, METRICS_URI

_FORWARDING_HEADERS: Final = ("forwarded", "x-forwarded-for", "x-real-ip")
METRICS_OFF: Final = (
    f"{ErrorCode.UNAVAILABLE.value}: metrics are switched off (server.metrics = false in orch.toml)"
)


def add_monitoring_resources(mcp: FastMCP, metrics: Metrics, health: Health) -> None:
    """Register ``orch://metrics`` and ``orch://health`` on ``mcp``."""

    @mcp.resource(METRICS_URI, mime_type="text/plain")
    async def server_metrics() -> str:
        """The server's Prometheus metrics (text exposition format): calls by tool and
        code, latencies, turns, cost and tokens by model, auth failures, store timings."""
        if not metrics.enabled:
            raise ResourceError(METRICS_OFF)
        return metrics.render().decode()

    @mcp.resource(HEALTH_URI, mime_type="application/json")
    async def server_health() -> str:
        """The server's health: "ok", "degraded" or "failing", with each named check
        (store writable, claude CLI and its version, free disk, stuck turns, audit)."""
        return json.dumps(health_json(await health.report()))


def add_monitoring_routes(
    mcp: FastMCP,
    metrics: Metrics,
    health: Health,
    *,
    trust_loopback: bool,
    scopes: Mapping[str, str],
    metadata_url: str,
) -> None:
    """``GET /health`` and (unless metrics are off) ``GET /metrics`` on the HTTP app."""

    @mcp.custom_route("/health", methods=["GET"])
    async def get_health(_request: Request) -> Response:
        status = (await health.report()).status
        code = 503 if status is HealthStatus.FAILING else 200
        return JSONResponse({"status": status.value}, status_code=code)

    if not metrics.enabled:
        return

    @mcp.custom_route("/metrics", methods=["GET"])
    async def get_metrics(request: Request) -> Response:
        refusal = _refusal(request, trust_loopback, scopes, metadata_url)
        if refusal is not None:
            return refusal
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


def _refusal(
    request: Request, trust_loopback: bool, scopes: Mapping[str, str], metadata_url: str
) -> Response | None:
    """Why this request may not read the metrics (None: it may)."""
    if trust_loopback and _is_local(request):
        return None
    access: Any = getattr(request.scope.get("user"), "access_token", None)
    if access is None:
        challenge = f'Bearer resource_metadata="{metadata_url}"'
        return JSONResponse(
            {"error": "invalid_token", "error_description": "a bearer token is required"},
            status_code=401,
            headers={"WWW-Authenticate": challenge},
        )
    missing = missing_scope(set(access.scopes), READ_METRICS, table=scopes)
    if missing is None:
        return None
    return insufficient_scope(missing, "reading the metrics", metadata_url)


def _is_local(request: Request) -> bool:
    if request.client is None or any(h in request.headers for h in _FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
