"""Poll-with-deadline helpers: the only sanctioned way for tests to wait."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

_NOT_SEEN: Any = object()


def pause(seconds: float) -> None:
    """Block the calling thread for `seconds` without busy-waiting."""
    threading.Event().wait(max(0.0, seconds))


def _describe(value: Any) -> str:
    if value is _NOT_SEEN:
        return "<predicate never returned>"
    if isinstance(value, BaseException):
        return f"<raised {type(value).__name__}: {value}>"
    return repr(value)


def _failure(message: str, timeout: float, last: Any) -> AssertionError:
    return AssertionError(f"{message} (not met within {timeout:g}s; last value: {_describe(last)})")


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    message: str = "condition",
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call `predicate` until it returns a truthy value and return it; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = _NOT_SEEN
    while True:
        try:
            value = predicate()
        except ignore as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _failure(message, timeout, last)
        pause(min(interval, remaining))


@overload
async def async_wait_until(
    predicate: Callable[[], Awaitable[T]],
    timeout: float,
    interval: float = ...,
    message: str = ...,
    ignore: tuple[type[BaseException], ...] = ...,
) -> T: ...


@overload
async def async_wait_until(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = ...,
    message: str = ...,
    ignore: tuple[type[BaseException], ...] = ...,
) -> T: ...


async def async_wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    interval: float = 0.05,
    message: str = "condition",
    ignore: tuple[type[BaseException], ...] = (),
) -> Any:
    """Await a sync or async `predicate` until truthy and return it; AssertionError on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = _NOT_SEEN
    while True:
        try:
            result = predicate()
            last = await result if inspect.isawaitable(result) else result
        except ignore as exc:
            last = exc
        else:
            if last:
                return last
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise _failure(message, timeout, last)
        await asyncio.sleep(min(interval, remaining))


def assert_holds(
    predicate: Callable[[], Any],
    duration: float,
    interval: float = 0.05,
    message: str = "condition",
) -> None:
    """Assert `predicate` stays truthy for the whole of `duration` seconds."""
    deadline = time.monotonic() + duration
    while True:
        value = predicate()
        if not value:
            raise AssertionError(f"{message} stopped holding (value: {_describe(value)})")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        pause(min(interval, remaining))


async def async_assert_holds(
    predicate: Callable[[], Any],
    duration: float,
    interval: float = 0.05,
    message: str = "condition",
) -> None:
    """Assert a sync or async `predicate` stays truthy for the whole of `duration` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration
    while True:
        result = predicate()
        value = await result if inspect.isawaitable(result) else result
        if not value:
            raise AssertionError(f"{message} stopped holding (value: {_describe(value)})")
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        await asyncio.sleep(min(interval, remaining))
