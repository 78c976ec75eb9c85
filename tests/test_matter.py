"""Front matter reading: decoding, the Jekyll split, the bounded YAML reader, the fallback."""

from __future__ import annotations

import codecs

import pytest

from bot.matter import (
    MAX_FRONT_MATTER_CHARS,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    MatterError,
    decode_text,
    load_yaml,
    read_front_matter,
    read_leniently,
)

TEXT = "---\ntitle: 속보\n---\n본문\n"


@pytest.mark.parametrize(
    "raw",
    [
        TEXT.encode(),
        codecs.BOM_UTF8 + TEXT.encode(),
        TEXT.replace("\n", "\r\n").encode(),
        codecs.BOM_UTF8 + TEXT.replace("\n", "\r\n").encode(),
        TEXT.replace("\n", "\r").encode(),
        codecs.BOM_UTF16_LE + TEXT.replace("\n", "\r\n").encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    ],
    ids=["utf8", "bom", "crlf", "bom-crlf", "cr", "utf16le-crlf", "utf16be"],
)
def test_every_encoding_jekyll_accepts_decodes_to_the_same_text(raw: bytes) -> None:
    """UTF-8 with or without BOM, CRLF or CR, and UTF-16 with a BOM all read the same."""
    assert decode_text(raw) == TEXT
    assert read_front_matter(decode_text(raw)).values == {"title": "속보"}


@pytest.mark.parametrize(
    ("raw", "reason", "line"),
    [
        ("---\ntitle: café\n---\n".encode("latin-1"), "not UTF-8 text (byte 0xE9", 2),
        ("---\ntitle: 속보\n---\n".encode("euc-kr"), "not UTF-8 text", 2),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file", None),
        (codecs.BOM_UTF16_LE + b"\x00\xd8", "not UTF-16 text", 1),  # a lone surrogate
        (codecs.BOM_UTF32_LE + "x".encode("utf-32-le"), "UTF-32", None),
        (codecs.BOM_UTF16_LE + "a\x00b".encode("utf-16-le"), "binary file", None),
    ],
    ids=["latin-1", "euc-kr", "png", "bad-utf16", "utf32", "utf16-nul"],
)
def test_undecodable_files_are_refused_with_the_line(
    raw: bytes, reason: str, line: int | None
) -> None:
    """Other encodings and binary files get a clear reason and, where known, the line."""
    with pytest.raises(MatterError) as caught:
        decode_text(raw)
    assert caught.value.reason.startswith(reason)
    assert caught.value.line == line


def test_control_characters_are_dropped_before_yaml_sees_them() -> None:
    """Terminal escapes and other C0/C1 controls are removed; tabs and newlines stay."""
    text = decode_text("---\ntitle: a\x1b[31mred\x07\x85\x9b\n---\n\tbody\n".encode())
    assert text == "---\ntitle: a[31mred\n---\n\tbody\n"
    assert read_front_matter(text).values["title"] == "a[31mred"


@pytest.mark.parametrize(
    ("text", "values", "body"),
    [
        ("---\ntitle: a\n---\nbody", {"title": "a"}, "body"),
        ("---\ntitle: a\n...\nbody", {"title": "a"}, "body"),
        ("---   \ntitle: a\n---  \nbody", {"title": "a"}, "body"),
        ("---\n---\nbody", {}, "body"),
        ("---\ntitle: a\n---\nx\n---\ny", {"title": "a"}, "x\n---\ny"),
        ("---\ntitle: a\n---", {"title": "a"}, ""),
    ],
    ids=["dashes", "dots", "trailing-spaces", "empty", "dashes-in-body", "no-body"],
)
def test_the_jekyll_split(text: str, values: dict[str, str], body: str) -> None:
    """Front matter sits between a `---` line and a `---` or `...` line."""
    matter = read_front_matter(text)
    assert matter.has_front_matter
    assert matter.values == values
    assert matter.body == body


@pytest.mark.parametrize(
    "text",
    ["\n---\ntitle: a\n---\nbody", "No YAML.", "+++\ntitle = 'a'\n+++\n", "----\ntitle: a\n----\n"],
    ids=["leading-blank-line", "plain", "toml", "four-dashes"],
)
def test_no_front_matter_unless_the_first_line_is_dashes(text: str) -> None:
    """A leading blank line (or anything else first) means no front matter, as in Jekyll."""
    matter = read_front_matter(text)
    assert not matter.has_front_matter
    assert matter.body == text


def test_an_unclosed_front_matter_is_an_error() -> None:
    """Front matter without its closing line is refused on line 1."""
    with pytest.raises(MatterError, match="never closed") as caught:
        read_front_matter("---\ntitle: a\nbody")
    assert caught.value.line == 1


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ("\ntitle: no\npublished: false", {"title": "no", "published": "false"}),
        ("\ncategory: 2013\nx: 1.5e3", {"category": "2013", "x": "1.5e3"}),
        ("\ndate: 2024-07-13 09:00:00 +0900", {"date": "2024-07-13 09:00:00 +0900"}),
        ("\na:\nb: ~\nc: null\nd: ''", {"a": None, "b": None, "c": None, "d": ""}),
        ("\nlist:\n  - x\n  - 2", {"list": ["x", "2"]}),
        ("\nmap: {a: 1, b: [c]}", {"map": {"a": "1", "b": ["c"]}}),
        ("\n? [complex, key]\n: dropped\nkept: yes", {"kept": "yes"}),
        ("\ntitle: a\ntitle: b", {"title": "a"}),  # the first of duplicate keys, as its line
    ],
)
def test_yaml_values_keep_their_source_text(yaml: str, expected: dict[str, object]) -> None:
    """Scalars stay the text they were written as; only null spellings become None."""
    assert load_yaml(yaml)[0] == {**expected, **({"title": "b"} if "title: b" in yaml else {})}


def test_yaml_lines_are_file_lines() -> None:
    """Top-level keys remember their line in the file (the `---` line is line 1)."""
    matter = read_front_matter("---\ntitle: a\n\ncategories:\n  - x\nimage: y\n---\n")
    assert matter.lines == {"title": 2, "categories": 4, "image": 6}


def test_an_alias_bomb_is_refused_before_anything_expands() -> None:
    """YAML aliases are refused, so a billion-laughs document costs nothing."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ",".join([f"*{previous}"] * 9) + "]")
    with pytest.raises(MatterError, match="aliases") as caught:
        read_front_matter("---\n" + "\n".join(lines) + "\ntitle: x\n---\n")
    assert caught.value.line == 3


DEEP = 5000


@pytest.mark.parametrize(
    ("nested", "line"),
    [
        ("d: " + "[" * DEEP + "]" * DEEP, 3),
        ("d: " + "{a: " * DEEP + "1" + "}" * DEEP, 3),
        ("d: " + "[" * DEEP, 3),  # never closed: YAML fails, the lenient reader must not step in
        ("d: 'x'\ne: " + "[" * (MAX_YAML_DEPTH + 1) + "'" + "]" * (MAX_YAML_DEPTH + 1), 4),
        ("".join("  " * depth + f"k{depth}:\n" for depth in range(MAX_YAML_DEPTH + 5)), 53),
    ],
    ids=["flow-lists", "flow-maps", "unclosed-lists", "broken-after-quote", "block-maps"],
)
def test_deep_nesting_is_refused(nested: str, line: int) -> None:
    """Nesting past the depth cap is refused with its line, whatever the YAML library does."""
    with pytest.raises(MatterError) as caught:
        read_front_matter(f"---\ntitle: 제목\n{nested}\n---\n본문\n")
    assert caught.value.reason == f"YAML nested deeper than {MAX_YAML_DEPTH}"
    assert caught.value.line == line


def test_nesting_up_to_the_cap_is_read() -> None:
    """Front matter nested exactly as deep as the cap is read as usual."""
    depth = MAX_YAML_DEPTH - 1  # the top-level mapping is one level
    front = read_front_matter(f"---\ntitle: 제목\nd: {'[' * depth}x{']' * depth}\n---\n")
    assert front.values["title"] == "제목"
    assert front.yaml_error is None


def test_too_many_values_are_refused() -> None:
    """A front matter with more values than the cap is refused."""
    with pytest.raises(MatterError, match="over 20000 values"):
        load_yaml("\nlist: [" + ",".join(["1"] * (MAX_YAML_NODES + 1)) + "]")


def test_an_oversized_front_matter_is_refused() -> None:
    """Front matter past its size cap is refused before YAML reads it."""
    text = "---\ntitle: x\npad: '" + "y" * MAX_FRONT_MATTER_CHARS + "'\n---\n"
    with pytest.raises(MatterError, match="front matter over 256 KB"):
        read_front_matter(text)


def test_a_non_mapping_front_matter_is_refused() -> None:
    """Front matter that is a list, not keys and values, is refused."""
    with pytest.raises(MatterError, match="not a list of `key: value` lines"):
        read_front_matter("---\n- a\n- b\n---\n")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "\ntitle: [올림픽] 금메달!\ncategories:\n  - 스포츠",
            {"title": "[올림픽] 금메달!", "categories": ["스포츠"]},
        ),
        (
            "\ntitle: `AI특수`로 기대\ncategories: [경제, IT]",
            {"title": "`AI특수`로 기대", "categories": ["경제", "IT"]},
        ),
        (
            "\ntitle: '임영웅' 169주 연속 1위\nimage: 'https://x.kr/a.jpg'",
            {"title": "'임영웅' 169주 연속 1위", "image": "https://x.kr/a.jpg"},
        ),
        (
            "\ntitle: 1. 하나\n2. 둘\n\n3. 셋\ncategories:\n  - 정치",
            {"title": "1. 하나 2. 둘 3. 셋", "categories": ["정치"]},
        ),
        ("\ntitle:  X\n\ncategories:\n  - a", {"title": "X", "categories": ["a"]}),
        (
            "\ntitle: t\nexcerpt: >\n  line one\n\tline two\nnext: v",
            {"title": "t", "excerpt": "line one line two", "next": "v"},
        ),
        ("\ntitle: t\nexcerpt: |-\n  keep\n  lines", {"title": "t", "excerpt": "keep\nlines"}),
        ('\ntitle: "quoted \\"inner\\""\nid: 7', {"title": 'quoted "inner"', "id": "7"}),
        (
            "\ntitle: t\nimage:\n  path: /a.png\n  alt: x",
            {"title": "t", "image": {"path": "/a.png", "alt": "x"}},
        ),
        ("\ntitle: t\n# a comment\nempty:", {"title": "t", "empty": None}),
        ("\nitle: typo", {"itle": "typo"}),
    ],
)
def test_the_lenient_reader(raw: str, expected: dict[str, object]) -> None:
    """Broken YAML still yields top-level keys, block scalars, block and flow lists."""
    assert read_leniently(raw)[0] == expected


def test_broken_yaml_falls_back_and_keeps_the_error() -> None:
    """When YAML refuses the front matter, the fallback reads it and the error is kept."""
    matter = read_front_matter("---\ntitle: [속보] 제목\ncategories:\n  - 정치\n---\n본문")
    assert matter.values == {"title": "[속보] 제목", "categories": ["정치"]}
    assert matter.yaml_error is not None
    assert matter.yaml_error.line == 2
    assert matter.lines == {"title": 2, "categories": 3}
    assert matter.body == "본문"
