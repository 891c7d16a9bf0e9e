"""Bearer-token authentication for every ``/api`` route, with the token's scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from stackmedic.api.guard import SAFE_METHODS
from stackmedic.auth import Scope, tokens_of

bearer = HTTPBearer(
    auto_error=False,
    description="The agent's operator token, or its read-only token for GET requests",
)


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> None:
    """401 without a valid token; 403 when a read-only token asks for more than reading.

    ``ApiGuard`` already refused such requests before their body was read; this
    dependency declares the scheme in the OpenAPI schema and holds for any other mount.
    """
    granted = tokens_of(request).scope_of_token(credentials.credentials) if credentials else None
    if granted is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if granted is Scope.READ and request.method not in SAFE_METHODS:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            detail="this token may only read; use the operator token")
