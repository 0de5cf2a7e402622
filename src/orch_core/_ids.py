"""Opaque, prefixed identifiers.

Ids are minted by the shell (the core never makes randomness) and carried as
distinct types so that a session id can never be passed where an agent id is
expected. The prefix makes an id's kind visible in logs and tool replies.

>>> is_id(AgentId("agt_0123456789abcdef"), AGENT_PREFIX)
True
>>> is_id("ses_x", AGENT_PREFIX)
False
"""

from __future__ import annotations

import re
from typing import NewType

SessionId = NewType("SessionId", str)
AgentId = NewType("AgentId", str)
ConversationId = NewType("ConversationId", str)
TurnId = NewType("TurnId", str)

SESSION_PREFIX = "ses_"
AGENT_PREFIX = "agt_"
CONVERSATION_PREFIX = "cnv_"
TURN_PREFIX = "trn_"

_BODY = re.compile(r"[0-9a-z]{8,40}")


def is_id(value: str, prefix: str) -> bool:
    """Whether ``value`` has the shape of an id of the kind named by ``prefix``."""
    return value.startswith(prefix) and _BODY.fullmatch(value[len(prefix) :]) is not None
