"""Front matter from post text: the split, a bounded YAML reader, and the lenient fallback."""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from typing import TypeAlias

import yaml
from frontmatter.default_handlers import YAMLHandler

# Limits that keep hostile files cheap: real front matter is a few KB with a few dozen values.
MAX_FRONT_MATTER_CHARS = 256 * 1024
MAX_YAML_NODES = 20_000
MAX_YAML_DEPTH = 50
_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # YAML refuses or breaks on them
_BRACKET = re.compile(r"[\[\]{}]")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_LIST_KEYS = frozenset({"categories", "category", "tags", "tag"})

Value: TypeAlias = "str | list[Value] | dict[str, Value] | None"

_YamlParser = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # libyaml when built with it


class MatterError(Exception):
    """Front matter (or the text around it) that cannot be read; knows its line."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """Top-level values (scalars as their source text), their lines, and the body."""

    values: dict[str, Value]
    lines: dict[str, int]
    body: str
    has_front_matter: bool
    yaml_error: MatterError | None = None  # set when the lenient reader had to step in
    notes: tuple[str, ...] = field(default=())


class _JekyllYaml(YAMLHandler):
    """python-frontmatter's YAML handler, split as Jekyll splits: `---` then `---` or `...`."""

    FM_BOUNDARY = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
    _OPENING = re.compile(r"---[ \t]*(?:\n|$)")

    def detect(self, text: str) -> bool:
        return self._OPENING.match(text) is not None


_HANDLER = _JekyllYaml()


def decode_text(raw: bytes) -> str:
    """Decode a post file: UTF-8 (BOM optional) or UTF-16 with a BOM; newlines become LF."""
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise MatterError("UTF-32 text is not supported; save the file as UTF-8")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, name = "utf-16", "UTF-16"
    else:
        encoding, name = "utf-8-sig", "UTF-8"
        if b"\x00" in raw:
            raise MatterError("binary file (it contains NUL bytes), not a text post")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start]
        raise MatterError(
            f"not {name} text (byte 0x{byte:02X} cannot be decoded); save the file as UTF-8",
            line,
        ) from None
    if "\x00" in text:
        raise MatterError("binary file (it contains NUL characters), not a text post")
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def read_front_matter(text: str) -> FrontMatter:
    """Split `text` and read its front matter; the lenient reader steps in where YAML fails."""
    if not _HANDLER.detect(text):
        return FrontMatter(values={}, lines={}, body=text, has_front_matter=False)
    try:
        raw, body = _HANDLER.split(text)
    except ValueError:
        raise MatterError("the front matter is never closed (no second '---' line)", 1) from None
    if len(raw) > MAX_FRONT_MATTER_CHARS:
        raise MatterError(f"front matter over {MAX_FRONT_MATTER_CHARS // 1024} KB", 1)
    try:
        values, lines = load_yaml(raw)
    except MatterError as error:
        if error.line is None or not _is_syntax_error(error):
            raise
        _refuse_deep_brackets(raw)  # whatever the YAML library said of them
        values, lines = read_leniently(raw)
        return FrontMatter(values, lines, body.removeprefix("\n"), True, yaml_error=error)
    return FrontMatter(values, lines, body.removeprefix("\n"), True)


def _is_syntax_error(error: MatterError) -> bool:
    return error.reason.startswith("invalid YAML")


def _refuse_deep_brackets(raw: str) -> None:
    """Refuse front matter whose `[`/`{` open deeper than the cap, quotes and all.

    YAML that parses is held to MAX_YAML_DEPTH event by event; this rule covers YAML that does
    not, so a YAML library that stops deep nesting with an error of its own (libyaml's nesting
    limit) cannot send a hostile file to the lenient reader. Counting every bracket, quoted or
    not, over-counts only text no real front matter holds.
    """
    if raw.count("[") + raw.count("{") <= MAX_YAML_DEPTH:
        return
    depth = 0
    for bracket in _BRACKET.finditer(raw):
        if bracket[0] in "[{":
            depth += 1
            if depth > MAX_YAML_DEPTH:
                line = raw.count("\n", 0, bracket.start()) + 1  # raw's line 1 is the '---' line
                raise MatterError(f"YAML nested deeper than {MAX_YAML_DEPTH}", line)
        elif depth:
            depth -= 1


def load_yaml(raw: str) -> tuple[dict[str, Value], dict[str, int]]:
    """Read YAML events into plain values, refusing aliases and capping nodes and depth."""
    builder = _Builder()
    try:
        for event in yaml.parse(raw, Loader=_YamlParser):
            builder.add(event)
    except yaml.MarkedYAMLError as exc:
        # An unfinished token or flow collection is reported where the reader gave up, often
        # lines later; its context names the line where it began, which is the one to fix.
        context = exc.context or ""
        opened = context.startswith(("while scanning", "while parsing a flow"))
        mark = exc.context_mark if opened else exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1  # raw's line 0 is the '---' line's rest
        problem = exc.problem or exc.context or "cannot parse"
        raise MatterError(f"invalid YAML: {problem}", line) from None
    except yaml.YAMLError as exc:
        raise MatterError(f"invalid YAML: {exc}") from None
    return builder.result()


_OPENING_EVENTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSING_EVENTS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


@dataclass(slots=True)
class _Frame:
    container: list[Value] | dict[str, Value]
    key: str | None = None  # a mapping's key waiting for its value
    has_key: bool = False
    skip_key: bool = False  # the pending key was not a plain scalar


class _Builder:
    """Turns a YAML event stream into values without recursion."""

    def __init__(self) -> None:
        self.stack: list[_Frame] = []
        self.root: Value = None
        self.nodes = 0
        self.lines: dict[str, int] = {}

    def add(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.ScalarEvent):  # the most common event, so tested first
            plain = not event.style  # libyaml says "" where PyYAML says None
            self._put(None if plain and event.value in _NULLS else event.value, event)
        elif isinstance(event, _OPENING_EVENTS):
            container: list[Value] | dict[str, Value]
            container = {} if isinstance(event, yaml.MappingStartEvent) else []
            self._put(container, event)
            if len(self.stack) >= MAX_YAML_DEPTH:
                raise MatterError(f"YAML nested deeper than {MAX_YAML_DEPTH}", _line(event))
            self.stack.append(_Frame(container))
        elif isinstance(event, _CLOSING_EVENTS):
            self.stack.pop()
        elif isinstance(event, yaml.AliasEvent):
            raise MatterError("YAML aliases (*name) are not allowed", _line(event))

    def _put(self, value: Value, event: yaml.NodeEvent) -> None:
        self.nodes += 1
        if self.nodes > MAX_YAML_NODES:
            raise MatterError(f"front matter has over {MAX_YAML_NODES} values", _line(event))
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        if isinstance(frame.container, list):
            frame.container.append(value)
        elif not frame.has_key:
            key = value if isinstance(value, str) else None
            frame.has_key, frame.key, frame.skip_key = True, key, key is None
            if key is not None and len(self.stack) == 1 and (line := _line(event)) is not None:
                self.lines.setdefault(key, line)
        else:
            if not frame.skip_key and frame.key is not None:
                frame.container[frame.key] = value
            frame.has_key, frame.key, frame.skip_key = False, None, False

    def result(self) -> tuple[dict[str, Value], dict[str, int]]:
        if self.root is None:
            return {}, {}
        if not isinstance(self.root, dict):
            raise MatterError("the front matter is not a list of `key: value` lines", 2)
        return self.root, self.lines


def _line(event: yaml.Event) -> int | None:
    mark = event.start_mark
    return None if mark is None else int(mark.line) + 1


_KEY_LINE = re.compile(r"([A-Za-z_][\w-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*")
_BLOCK_SCALAR = re.compile(r"[>|][+-]?[0-9]?")
_LIST_ITEM = re.compile(r"[ \t]*-(?:[ \t]+(.*?))?[ \t]*")
_NESTED_KEY = re.compile(r"[ \t]+([A-Za-z_][\w-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*")


def read_leniently(raw: str) -> tuple[dict[str, Value], dict[str, int]]:
    """Read top-level `key: value` lines, block scalars and block lists from broken YAML."""
    entries: list[tuple[str, str, list[str], int]] = []
    for number, line in enumerate(raw.split("\n")[1:], start=2):
        match = _KEY_LINE.fullmatch(line)
        if match:
            entries.append((match[1], match[2] or "", [], number))
        elif entries and not line.startswith("#"):
            entries[-1][2].append(line)
    values: dict[str, Value] = {}
    lines: dict[str, int] = {}
    for key, first, rest, number in entries:
        values.setdefault(key, _lenient_value(key, first, rest))
        lines.setdefault(key, number)
    return values, lines


def _lenient_value(key: str, first: str, rest: list[str]) -> Value:
    if _BLOCK_SCALAR.fullmatch(first):
        joiner = "\n" if first.startswith("|") else " "
        return joiner.join(line.strip() for line in rest).strip()
    if not first:
        items = [_LIST_ITEM.fullmatch(line) for line in rest if line.strip()]
        if items and all(items):
            return [_unquote(item[1] or "") for item in items if item]
        nested = [_NESTED_KEY.fullmatch(line) for line in rest if line.strip()]
        if nested and all(nested):
            return {m[1]: _unquote(m[2] or "") for m in nested if m}
    text = " ".join(part.strip() for part in [first, *rest] if part.strip())
    if key in _LIST_KEYS and text.startswith("[") and text.endswith("]"):
        return [_unquote(part.strip()) for part in text[1:-1].split(",") if part.strip()]
    return _unquote(text) if text else None


def _unquote(text: str) -> str:
    """Remove YAML quotes only when they enclose the whole value."""
    if len(text) >= 2 and text[0] == text[-1] == "'" and "'" not in text[1:-1].replace("''", ""):
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if isinstance(value, str) else text
    return text
