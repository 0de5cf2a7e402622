"""orch's imperative shell: everything that touches the world, around the pure core.

FastMCP (the tools, the security context, telemetry and error mapping as
middleware), the SQLite store, the ``claude`` process runtime, JWT verification,
the transports (orch's own stdio reader, HTTP), metrics and health, and the
``orch`` command (:mod:`orch_shell.cli`). The modules are private; the public
surface is the command line and the MCP server it runs.
"""

__all__: list[str] = []
