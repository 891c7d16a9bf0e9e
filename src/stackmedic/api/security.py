"""Bearer-token authentication for every ``/api`` route."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer = HTTPBearer(auto_error=False, description="The agent's API token")


async def require_token(request: Request) -> None:
    """Reject the request with 401 unless it carries the agent's token."""
    credentials: HTTPAuthorizationCredentials | None = await bearer(request)
    expected: str = request.app.state.agent.token
    if credentials is None or not hmac.compare_digest(
        credentials.credentials.encode(), expected.encode()
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API token",
            headers={"WWW-Authenticate": "Bearer"},
        )
