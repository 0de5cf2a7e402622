"""Minting fresh ids: the one place orch makes randomness."""

from __future__ import annotations

import secrets

from orch_core import (
    AGENT_PREFIX,
    CONVERSATION_PREFIX,
    SESSION_PREFIX,
    TURN_PREFIX,
    AgentId,
    ConversationId,
    SessionId,
    TurnId,
)


def _token() -> str:
    # 64 random bits as hex: unguessable enough that ids are not an oracle, and
    # short enough to read in a transcript.
    return secrets.token_hex(8)


def new_session_id() -> SessionId:
    return SessionId(SESSION_PREFIX + _token())


def new_agent_id() -> AgentId:
    return AgentId(AGENT_PREFIX + _token())


def new_conversation_id() -> ConversationId:
    return ConversationId(CONVERSATION_PREFIX + _token())


def new_turn_id() -> TurnId:
    return TurnId(TURN_PREFIX + _token())
