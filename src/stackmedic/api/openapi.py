"""The OpenAPI schema as the API really answers: its error shapes and statuses."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR = {"$ref": "#/components/schemas/Error"}
INVALID = {"$ref": "#/components/schemas/HTTPValidationError"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "title": "Error",
        "type": "object",
        "required": ["detail"],
        "properties": {"detail": {"title": "Detail", "description": "What went wrong"}},
    },
    "HTTPValidationError": {
        "title": "HTTPValidationError",
        "type": "object",
        "required": ["detail", "problems"],
        "properties": {
            "detail": {"type": "string", "description": "The first problem, in words"},
            "problems": {"type": "array",
                         "items": {"$ref": "#/components/schemas/ValidationProblem"}},
        },
    },
    "ValidationProblem": {
        "title": "ValidationProblem",
        "type": "object",
        "required": ["where", "problem"],
        "properties": {
            "where": {"type": "string", "description": "e.g. query.limit or body.hours"},
            "problem": {"type": "string"},
        },
    },
}
# Statuses every protected operation can answer, whatever its parameters.
PROTECTED: dict[str, str] = {
    "401": "Missing or invalid token",
    "429": "Too many wrong tokens from this client; wait Retry-After seconds",
}
WRITE: dict[str, str] = {
    "403": "A read-only token asked for more than reading",
}
WITH_BODY: dict[str, str] = {
    "400": "The body is not JSON",
    "413": "The body is longer than api.max_body_bytes",
}
WITH_PATH: dict[str, str] = {
    "404": "Nothing by that name or id",
}
ACTIONS: dict[str, str] = {
    "502": "Docker Compose failed (its stderr is in the detail)",
    "503": "Docker Compose is not available to the agent",
}


def install_schema(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that documents every status the API answers."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            document(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def document(schema: dict[str, Any]) -> None:
    """Add the error schemas and statuses to a generated schema, in place."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("ValidationError", None)
    components.update(SCHEMAS)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            extra: dict[str, str] = {}
            if operation.get("security"):
                extra |= PROTECTED
                if method != "get":
                    extra |= WRITE
            if "requestBody" in operation:
                extra |= WITH_BODY
            if "{" in path:
                extra |= WITH_PATH
            if path.startswith("/api/deployments/{name}/") and path.rsplit("/", 1)[1] in {
                "start", "stop", "restart", "down"
            }:
                extra |= ACTIONS
            for status, description in extra.items():
                responses.setdefault(status, _json(description, ERROR))
            for status, response in responses.items():
                if status >= "400" and "content" not in response:
                    response.update(_json(response.get("description", "Error"), ERROR))
            if "422" in responses:
                responses["422"] = _json("The request is not valid", INVALID)
    healthz = schema.get("paths", {}).get("/healthz", {}).get("get")
    if healthz is not None:
        ok = healthz["responses"].get("200", {})
        healthz["responses"]["503"] = {**ok, "description": "Docker does not answer"}


def documented_methods(app: FastAPI, path: str) -> set[str] | None:
    """The methods the schema documents for ``path``; None when it documents no such path."""
    found: set[str] | None = None
    for pattern, methods in _templates(app):
        if pattern.fullmatch(path):
            found = (found or set()) | methods
    if found and "GET" in found:
        found.add("HEAD")
    return found


def _templates(app: FastAPI) -> list[tuple[re.Pattern[str], set[str]]]:
    cached: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        app.state, "path_templates", None)
    if cached is not None:
        return cached
    compiled = []
    for template, operations in app.openapi().get("paths", {}).items():
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        compiled.append((re.compile(regex), {m.upper() for m in operations}))
    app.state.path_templates = compiled
    return compiled


def _json(description: str, ref: dict[str, str]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref}}}
