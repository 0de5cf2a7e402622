"""The tools' parameter types: the descriptions become the JSON schema a client
(and the model choosing the arguments) reads, so each says what a value must look
like. Types and ranges are checked by FastMCP; the domain rules by ``orch_core``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

SessionIdArg = Annotated[
    str, Field(description="Id of the session (ses_…), from create_session or list_sessions.")
]
AgentIdArg = Annotated[
    str, Field(description="Id of the agent (agt_…), from create_agent or get_session_status.")
]
WaitArg = Annotated[
    float,
    Field(
        ge=0,
        le=600,
        description="Seconds to wait for the reply (0-600). If the turn is still running "
        "then, the call returns status 'running' and the turn goes on; its reply shows in "
        "get_session_status.",
    ),
]
SessionNameArg = Annotated[
    str, Field(description="A name for the session, unique among your sessions (1-64 chars).")
]
RootPathArg = Annotated[
    str,
    Field(
        description="Absolute path of the project folder the agents work in; it must exist "
        "and lie inside an allowed root (default: your home folder)."
    ),
]
DescriptionArg = Annotated[str, Field(description="What the session is for (optional).")]
ForceArg = Annotated[
    bool, Field(description="Cancel running turns instead of refusing with SESSION_BUSY.")
]
AgentNameArg = Annotated[
    str,
    Field(
        description="Agent name, unique in the session: 1-32 of a-z, 0-9, '_', '-', "
        "starting with a letter (e.g. 'reviewer')."
    ),
]
RoleArg = Annotated[
    str, Field(description="The agent's role, appended to its system prompt (up to 8 KB).")
]
ModelArg = Annotated[
    str | None,
    Field(description="Claude model alias or id (e.g. 'sonnet'); default: the CLI's own."),
]
PermissionModeArg = Annotated[
    str | None,
    Field(
        description="Claude Code permission mode from the configured allow-list "
        "(default list: 'default', 'acceptEdits', 'plan'); default: the CLI's own."
    ),
]
MessageArg = Annotated[
    str, Field(description="What to tell the agent (up to 100 KB of UTF-8, no NUL).")
]
InitialMessageArg = Annotated[
    str | None,
    Field(
        description="If given, the first message of the new conversation, run as "
        "send_message_to_agent would."
    ),
]
