"""Turning the bytes of an Engine API log stream into lines.

A container without a TTY answers in Docker's multiplexed framing (an 8-byte header: the
stream, three zero bytes, the payload's length, big-endian); one with a TTY answers with
the raw bytes. Asked with ``timestamps=1`` every message starts with its time in
RFC 3339 with nine fraction digits and a space. The engine splits lines longer than 16 KiB
into partial messages (no newline at their end), which are joined here again, up to
``max_line`` bytes: the rest of a longer line is dropped and the line counted as cut.
Nothing here raises on odd input: binary output and invalid UTF-8 become text with
replacement characters.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER = 8
STREAMS = {0: "stdin", 1: "stdout", 2: "stderr"}
_TIME_END = 40  # the time prefix ends with a space within this many bytes


@dataclass(frozen=True, slots=True)
class RawLine:
    """One line of a container's output."""

    stream: str
    at: str  # the engine's RFC 3339 time of the message that ended the line
    text: str
    cut: bool = False


class _Joiner:
    """Joins one stream's partial messages into lines of at most ``max_line`` bytes."""

    __slots__ = ("cut", "first_at", "max_line", "parts", "size")

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self.parts: list[bytes] = []
        self.size = 0
        self.cut = False
        self.first_at = ""

    def add(self, at: str, content: bytes) -> None:
        if not self.parts and not self.cut:
            self.first_at = at
        room = self.max_line - self.size
        if len(content) > room:
            content = content[:max(room, 0)]
            self.cut = True
        if content:
            self.parts.append(content)
            self.size += len(content)

    def take(self, stream: str, at: str) -> RawLine:
        data = b"".join(self.parts)
        line = RawLine(stream, at, _text(data), self.cut)
        self.parts, self.size, self.cut = [], 0, False
        return line


def _text(data: bytes) -> str:
    if data.endswith(b"\n"):
        data = data[:-1]
    if data.endswith(b"\r"):
        data = data[:-1]
    return data.decode("utf-8", "replace")


def split_time(message: bytes) -> tuple[str, bytes]:
    """The message's time prefix (empty when it has none) and its content."""
    space = message.find(b" ", 0, _TIME_END)
    if space >= 20 and message[:4].isdigit() and message[4:5] == b"-":
        return message[:space].decode("ascii", "replace"), message[space + 1:]
    return "", message


class StreamDecoder:
    """Feeds bytes in, takes complete lines out; one per follow stream."""

    def __init__(self, *, tty: bool, max_line: int) -> None:
        self.tty = tty
        self.max_line = max_line
        self.cut_lines = 0
        self.last_at = ""  # time of the last message fully read
        self._buffer = bytearray()
        self._frame_left = 0
        self._frame_stream = 1
        self._frame: list[bytes] = []
        self._frame_size = 0
        self._joiners: dict[str, _Joiner] = {}

    def feed(self, data: bytes) -> list[RawLine]:
        """Every line completed by ``data``."""
        lines: list[RawLine] = []
        if self.tty:
            self._feed_raw(data, lines)
        else:
            self._feed_frames(data, lines)
        return lines

    def _feed_raw(self, data: bytes, lines: list[RawLine]) -> None:
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            self._tty_piece(data[start:end + 1], lines)
            start = end + 1
        if start < len(data):
            self._tty_piece(data[start:], lines)

    def _tty_piece(self, piece: bytes, lines: list[RawLine]) -> None:
        """A piece of raw output: a line's end (with its newline) or a part of one. The
        time is split off the whole line: a read may end inside it."""
        joiner = self._joiners.setdefault("stdout", _Joiner(self.max_line + _TIME_END))
        joiner.add("", piece)
        if piece.endswith(b"\n"):
            self._tty_done(joiner, lines)

    def _tty_done(self, joiner: _Joiner, lines: list[RawLine]) -> None:
        data, cut = b"".join(joiner.parts), joiner.cut
        joiner.parts, joiner.size, joiner.cut = [], 0, False
        at, content = split_time(data)
        self.last_at = at or self.last_at
        if cut:
            self.cut_lines += 1
        lines.append(RawLine("stdout", self.last_at, _text(content), cut))

    def _feed_frames(self, data: bytes, lines: list[RawLine]) -> None:
        view = memoryview(data)
        while view:
            if self._frame_left:
                take = min(self._frame_left, len(view))
                if self._frame_size < self.max_line + _TIME_END:
                    self._frame.append(bytes(view[:take]))
                    self._frame_size += take
                else:
                    self._frame_cut = True
                self._frame_tail = view[take - 1]
                self._frame_left -= take
                view = view[take:]
                if not self._frame_left:
                    self._message(lines)
                continue
            need = HEADER - len(self._buffer)
            self._buffer += view[:need]
            view = view[need:]
            if len(self._buffer) == HEADER:
                kind, size = struct.unpack(">BxxxI", bytes(self._buffer))
                self._buffer.clear()
                self._frame_stream, self._frame_left = kind, size
                self._frame, self._frame_size, self._frame_cut = [], 0, False
                if not size:
                    continue

    _frame_cut = False
    _frame_tail = 0

    def _message(self, lines: list[RawLine]) -> None:
        message = b"".join(self._frame)
        stream = STREAMS.get(self._frame_stream, "stdout")
        at, content = split_time(message)
        self.last_at = at or self.last_at
        joiner = self._joiners.setdefault(stream, _Joiner(self.max_line))
        joiner.add(at, content)
        if self._frame_cut:
            joiner.cut = True
        # One message is one line, or a part of one when it does not end with a newline.
        if self._frame_tail == 0x0A:
            self._done(joiner, stream, self.last_at, lines)

    def _done(self, joiner: _Joiner, stream: str, at: str, lines: list[RawLine]) -> None:
        line = joiner.take(stream, at)
        if line.cut:
            self.cut_lines += 1
        lines.append(line)

    def flush(self) -> list[RawLine]:
        """Lines left without a newline when the stream ended."""
        lines: list[RawLine] = []
        for stream, joiner in self._joiners.items():
            if (joiner.parts or joiner.cut) and self.tty:
                self._tty_done(joiner, lines)
            elif joiner.parts or joiner.cut:
                self._done(joiner, stream, self.last_at, lines)
        return lines
