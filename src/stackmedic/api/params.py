"""Parameter types shared by the routes: names, row ids and times, all checked at the edge."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from fastapi.exceptions import RequestValidationError

from stackmedic.deployments.names import MAX_LENGTH

# The rules of deployments/names.py as one regular expression (no '..', no '/'),
# so that the schema says exactly which names are accepted.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*\.?$"
# SQLite keeps integers in 64 bits; a larger id cannot name a row.
MAX_ROW_ID = 2**63 - 1

NameParam = Annotated[
    str,
    Path(description="Deployment name (its folder under deployments_path)",
         min_length=1, max_length=MAX_LENGTH, pattern=NAME_PATTERN),
]

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="The row's id")]


BeforeId = Annotated[
    int | None, Query(ge=1, le=MAX_ROW_ID, description="Only rows with a smaller id (paging)")
]
UnixTime = Annotated[
    float | None,
    Query(description="Unix time in seconds (a finite number)", allow_inf_nan=False,
          ge=0, le=1e11),
]


def invalid(where: str, problem: str) -> RequestValidationError:
    """A 422 naming one problem, in the same shape as FastAPI's own validation errors."""
    loc = tuple(where.split("."))
    return RequestValidationError([{"loc": loc, "msg": problem, "type": "value_error"}])
