"""Pure: Markdown with HTML and Liquid → blocks of plain text and the images they show."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from lxml import etree
from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.render.text import clean_text

_LIQUID_OPEN = re.compile(r"\{[%{]")
_KRAMDOWN_IAL = re.compile(r"\{:[^}\n]{0,200}\}")  # bounded: hostile text stays linear
# What makes inline text more than its words: a character a Markdown, HTML, Liquid or kramdown
# rule starts at (CommonMark's inline terminators, `|` for tables), NUL and CR (Markdown turns
# them into U+FFFD and a line break, clean_text drops them), or a line that opens with a number
# (an ordered list's `1.` or `1)`). Text without any reads as itself: paragraphs of its words.
_MARKUP = re.compile(r"[!#$%&*+\-:<=>@\[\\\]^_`{|}~\0\r]|^[ \t]*[0-9]+[.)]", re.MULTILINE)
# Where an image can start: Markdown's `![`, or an `<img` tag (libxml2 reads no other as one).
_IMAGE_START = re.compile(r"!\[|<img", re.IGNORECASE)
_IMG_TAG = re.compile(r"<img", re.IGNORECASE)
_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")
_CONTAINERS = {"bullet_list", "ordered_list", "blockquote", "table"}
_BLOCK_TAGS = frozenset(
    {
        *("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd"),
        *("table", "thead", "tbody", "tr", "td", "th", "caption", "blockquote", "pre", "hr"),
        *("section", "article", "header", "footer", "figure", "figcaption", "aside", "nav"),
        *("main", "details", "summary", "form", "fieldset", "address", "center", "body"),
    }
)
# Tags whose contents stand apart as a cell or an item when they sit inside a line of Markdown.
_ITEM_TAGS = frozenset({"td", "th", "li", "dt", "dd"})
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)")
# Cells and items read on one line are set apart by this, so that "방식 | 클리닝 방식 | 금액"
# never reads "방식클리닝 방식금액" (a generator's excerpt did, gluing a price table's cells).
ITEM_SEPARATOR = " · "
# A block ending in one of these already stands apart from the next: no separator after it.
_PUNCTUATED_END = frozenset(".!?。！？…:;,·")
# Quotes and brackets that may follow a sentence's final mark: '"끝났다."' ends at the quote.
CLOSING_MARKS = "\"'”’»)]」』"
_SKIPPED_TAGS = frozenset(
    {"script", "style", "template", "noscript", "iframe", "svg", "math", "head", "title", "object"}
)
_HTML_PARSER = etree.HTMLParser(
    recover=True, no_network=True, remove_comments=True, remove_pis=True
)


class BlockKind(StrEnum):
    """What a block of extracted text was in its source."""

    PARAGRAPH = "paragraph"
    HEADING = "heading"
    LIST = "list"
    TABLE = "table"
    CODE = "code"
    QUOTE = "quote"


_ITEM_KINDS = frozenset({BlockKind.LIST, BlockKind.TABLE})
_KIND_OF_CONTAINER = {
    "bullet_list": BlockKind.LIST,
    "ordered_list": BlockKind.LIST,
    "blockquote": BlockKind.QUOTE,
    "table": BlockKind.TABLE,
}
_KIND_OF_TAG = {
    **{f"h{n}": BlockKind.HEADING for n in range(1, 7)},
    "li": BlockKind.LIST,
    "dd": BlockKind.LIST,
    "td": BlockKind.TABLE,
    "th": BlockKind.TABLE,
    "pre": BlockKind.CODE,
    "blockquote": BlockKind.QUOTE,
}


@dataclass(frozen=True, slots=True)
class Block:
    """One block of plain text: a paragraph, a heading, a list item …"""

    kind: BlockKind
    text: str


@dataclass(slots=True)
class Extract:
    """What a piece of markup says, in reading order."""

    blocks: list[Block] = field(default_factory=list)
    images: list[str] = field(default_factory=list)

    def add(self, kind: BlockKind, text: str) -> None:
        """Append a block of `text`, cleaned; empty text adds nothing."""
        if text := clean_text(text):
            self.blocks.append(Block(kind, text))

    def first(self, kind: BlockKind) -> str | None:
        """Return the text of the first block of `kind`, if any."""
        return next((block.text for block in self.blocks if block.kind is kind), None)


def strip_liquid(markup: str) -> str:
    """Remove Liquid tags, outputs and comments, and kramdown attribute lists, in one pass.

    `{% highlight %}` blocks become fenced code, so they never read as a paragraph.
    """
    parts: list[str] = []
    position, in_comment = 0, False
    while (opening := _LIQUID_OPEN.search(markup, position)) is not None:
        start = opening.start()
        closer = "%}" if markup[start + 1] == "%" else "}}"
        end = markup.find(closer, start + 2)
        if end == -1:
            break  # nothing closes after here, so nothing more to remove
        if not in_comment:
            parts.append(markup[position:start])
        name = markup[start + 2 : end].strip(" \t\n-").split(" ", 1)[0]
        if closer == "%}" and name in ("comment", "endcomment"):
            in_comment = name == "comment"
        elif closer == "%}" and name in ("highlight", "endhighlight") and not in_comment:
            parts.append("\n```\n")
        position = end + 2
    if not in_comment:
        parts.append(markup[position:])
    return _KRAMDOWN_IAL.sub("", "".join(parts))


def read_markup(markup: str) -> Extract:
    """Reduce Markdown with HTML and Liquid to blocks of plain text and image sources."""
    extract = Extract()
    context: list[BlockKind] = []
    tokens = _MARKDOWN.parse(strip_liquid(markup))
    for index, token in enumerate(tokens):
        container = token.type.rsplit("_", 1)[0]
        if container in _CONTAINERS and token.nesting == 1:
            context.append(_KIND_OF_CONTAINER[container])
        elif container in _CONTAINERS and token.nesting == -1:
            context.pop()
        elif token.type == "inline":
            heading = index > 0 and tokens[index - 1].type == "heading_open"
            kind = BlockKind.HEADING if heading else context[-1] if context else BlockKind.PARAGRAPH
            extract.add(kind, _inline_text(token, extract.images))
        elif token.type == "html_block":
            inner = read_html(token.content)
            extract.blocks.extend(inner.blocks)
            extract.images.extend(inner.images)
        elif token.type in ("fence", "code_block"):
            extract.add(BlockKind.CODE, token.content)
    return extract


def read_images(markup: str) -> list[str]:
    """Return the image sources `read_markup(markup).images` lists, without reading the text."""
    markup = strip_liquid(markup)
    images: list[str] = []
    if _IMAGE_START.search(markup) is None:
        return images
    for token in _MARKDOWN.parse(markup):
        if token.type == "inline":
            _inline_text(token, images)
        elif token.type == "html_block" and _IMG_TAG.search(token.content):
            images.extend(read_html(token.content).images)
    return images


def _inline_text(token: Token, images: list[str]) -> str:
    """A line's words; HTML block tags in it part words, its cells and items stand apart."""
    items: list[list[str]] = [[]]
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            items[-1].append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            items[-1].append(" ")
        elif child.type == "image":
            images.append(str(child.attrs.get("src", "")))
        elif child.type == "html_inline" and (name := _tag_name(child.content)):
            if name in _ITEM_TAGS:
                items.append([])
            elif name in ("img", "br") or name in _BLOCK_TAGS:
                items[-1].append(" ")
            if name == "img":
                images.extend(read_html(child.content).images)
    return ITEM_SEPARATOR.join(text for item in items if (text := clean_text("".join(item))))


def _tag_name(tag: str) -> str:
    """The lower-cased name of an HTML tag such as `<br />` or `</td>`; empty for a comment."""
    name = _TAG_NAME.match(tag)
    return "" if name is None else name[1].lower()


def join_blocks(blocks: list[Block]) -> str:
    """Join blocks on one line: cells and items apart by ITEM_SEPARATOR, the rest by a space."""
    parts: list[str] = []
    for index, block in enumerate(blocks):
        if index:
            previous = blocks[index - 1]
            is_item = previous.kind in _ITEM_KINDS or block.kind in _ITEM_KINDS
            ended = previous.text.rstrip(CLOSING_MARKS)[-1:] in _PUNCTUATED_END
            parts.append(ITEM_SEPARATOR if is_item and not ended else " ")
        parts.append(block.text)
    return "".join(parts)


def plain_text(markup: str) -> str:
    """Reduce Markdown, HTML and Liquid to plain text, blocks separated by blank lines."""
    return "\n\n".join(block.text for block in read_markup(markup).blocks)


def inline_plain_text(markup: str) -> str:
    """Reduce a short marked-up field (an excerpt) to one line of plain text."""
    if _MARKUP.search(markup) is None:
        return clean_text(markup)
    return clean_text(join_blocks(read_markup(markup).blocks))


def read_html(fragment: str) -> Extract:
    """Reduce an HTML fragment to blocks of plain text and the sources of its images.

    libxml2 parses it (linear time, any brokenness); the walk is iterative, so depth is free.
    """
    extract = Extract()
    try:
        root = etree.fromstring(fragment, _HTML_PARSER) if fragment.strip() else None
    except (etree.LxmlError, ValueError):
        return extract
    if root is None:
        return extract
    parts: list[str] = []
    kinds: list[BlockKind] = []
    skipping = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _BLOCK_TAGS and not skipping:
            extract.add(kinds[-1] if kinds else BlockKind.PARAGRAPH, "".join(parts))
            parts.clear()
        if event == "start":
            skipping += tag in _SKIPPED_TAGS
            if tag in _KIND_OF_TAG:
                kinds.append(_KIND_OF_TAG[tag])
            if tag == "img" and not skipping and (source := element.get("src", "").strip()):
                extract.images.append(source)
            if tag == "br" and not skipping:  # a line break inside its block, not a new block
                parts.append(" ")
            if tag and not skipping and element.text:
                parts.append(element.text)
            continue
        skipping -= tag in _SKIPPED_TAGS
        if tag in _KIND_OF_TAG:
            kinds.pop()
        if not skipping and element.tail:
            parts.append(element.tail)
    extract.add(kinds[-1] if kinds else BlockKind.PARAGRAPH, "".join(parts))
    return extract
