"""Pure: post file bytes → a Post, or a PostError naming the file, the reason and the line."""

from __future__ import annotations

import hashlib
import html
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher
from urllib.parse import quote, unquote, urlsplit

from bot.config import SiteConfig
from bot.dates import filename_date, parse_date
from bot.errors import PostError
from bot.excerpt import cut_excerpt, first_headline
from bot.matter import FrontMatter, MatterError, Value, decode_text, read_front_matter
from bot.model import DateSource, Post
from bot.permalink import build_url
from bot.render.markup import (
    BlockKind,
    Extract,
    inline_plain_text,
    read_images,
    read_markup,
)
from bot.render.text import clean_text

# Only the start of a body is read for its excerpt, heading and image: a 10 MB post costs no more.
BODY_SCAN_CHARS = 100_000
_TRUE = frozenset({"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"})
_FALSE = frozenset({"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"})
_EXCERPT_KEYS = ("excerpt", "description", "summary")
_HEADER_IMAGE_KEYS = ("image", "overlay_image", "teaser")
_TYPO_SIMILARITY = 0.8  # 'itle', 'tilte', 'titel', 'Title' pass; 'subtitle', 'tags' do not
_URL_SAFE = "/%:@!$&'()*+,;=-._~?#"


def parse_post(
    raw: bytes, *, path: str, site: SiteConfig, seen_at: datetime, light: bool = False
) -> Post:
    """Read one post file's bytes; `path` is under posts_dir, `seen_at` dates undated posts.

    `light` reads the front matter alone where it has the field (the body gives the title
    still when the front matter has none): no excerpt from the body's first paragraph, no image
    from the body. Only for recording an archive quickly, to be read whole right after.
    """
    try:
        text = decode_text(raw)
        matter = read_front_matter(text)
    except MatterError as error:
        raise PostError(path, error.reason, line=error.line) from None
    if not text.strip():
        raise PostError(path, "empty file")
    if not matter.has_front_matter:
        raise PostError(path, _why_no_front_matter(text), line=1)
    return _Reader(path, matter, site).post(raw, seen_at, light=light)


def _why_no_front_matter(text: str) -> str:
    if text.lstrip().startswith("---"):
        return "no front matter: blank lines before the first '---' (Jekyll then reads none)"
    if text.startswith("+++"):
        return "no front matter: '+++' TOML is Hugo's; a Jekyll post starts with a '---' line"
    return "no front matter (a post starts with a '---' line)"


class _Body:
    """The start of a post's body, read only as far as a field needs it (it is the costly part)."""

    def __init__(self, text: str, *, is_light: bool = False) -> None:
        self.text = text
        self.is_light = is_light  # its first paragraph and images are not wanted
        self._extract: Extract | None = None

    def extract(self) -> Extract:
        """The body's blocks and images, read once."""
        if self._extract is None:
            self._extract = read_markup(self.text)
        return self._extract

    def images(self) -> list[str]:
        """The body's image sources, without reading its text when that was not needed."""
        return read_images(self.text) if self._extract is None else self._extract.images


@dataclass(frozen=True, slots=True)
class _Reader:
    """The field rules, over one file's front matter."""

    path: str
    matter: FrontMatter
    site: SiteConfig

    def post(self, raw: bytes, seen_at: datetime, *, light: bool = False) -> Post:
        body = _Body(self.matter.body[:BODY_SCAN_CHARS], is_light=light)
        title = self._title(body)
        categories = self._names("categories", split=True) + self._names("category")
        tags = self._names("tags", split=True) + self._names("tag", split=True)
        date, source, slug = self._date(seen_at)
        image_url, image_path, image_notes = self._image(body)
        return Post(
            key=self._key(),
            path=self.path,
            title=title,
            excerpt=self._excerpt(body),
            categories=tuple(dict.fromkeys(categories)),
            tags=tuple(dict.fromkeys(tags)),
            date=date,
            date_source=source,
            is_published=self._published(),
            url=self._url(date, slug, categories),
            image_url=image_url,
            image_path=image_path,
            image_file=None,
            content_hash=hashlib.sha256(raw).hexdigest(),
            notes=self._lenient_note() + image_notes,
        )

    def refuse(self, reason: str, key: str | None = None) -> PostError:
        line = None if key is None else self.matter.lines.get(key)
        return PostError(self.path, reason, line=line)

    def text(self, key: str) -> str | None:
        """A scalar value as its source text; None when absent or empty."""
        value = self.matter.values.get(key)
        if isinstance(value, list | dict):
            shape = "a list" if isinstance(value, list) else "a mapping"
            raise self.refuse(f"{key}: expected a single value, got {shape}", key)
        return value

    def _title(self, body: _Body) -> str:
        title = clean_text(html.unescape(self.text(self._title_key()) or ""))
        if title:
            return first_headline(title)
        heading = body.extract().first(BlockKind.HEADING)
        if heading:
            return first_headline(heading)
        error = self.matter.yaml_error
        if error is not None:
            raise PostError(
                self.path, f"no title can be recovered: {error.reason}", line=error.line
            )
        raise self.refuse("no title: no `title:` in the front matter and no heading in the body")

    def _title_key(self) -> str:
        """`title`, or a key that is plainly a misspelling of it (`itle:`, `Title:`, `tilte:`)."""
        if "title" in self.matter.values:
            return "title"
        for key in self.matter.values:
            if SequenceMatcher(None, key.lower(), "title").ratio() >= _TYPO_SIMILARITY:
                return key
        return "title"

    def _names(self, key: str, *, split: bool = False) -> list[str]:
        value = self.matter.values.get(key)
        items: list[Value] = value if isinstance(value, list) else [value]
        if isinstance(value, str) and split:  # Jekyll splits a string, never a list's items
            items = list(value.split())
        names: list[str] = []
        for item in items:
            if isinstance(item, list | dict):
                raise self.refuse(f"{key}: expected names, got a nested list or mapping", key)
            if item is not None:
                names.append(item)
        return [name for name in (clean_text(n) for n in names) if name]

    def _excerpt(self, body: _Body) -> str:
        """The excerpt as written, cut to what a push shows (cut_excerpt)."""
        return cut_excerpt(self._whole_excerpt(body))

    def _whole_excerpt(self, body: _Body) -> str:
        for key in _EXCERPT_KEYS:
            given = self.text(key)
            if given and (excerpt := inline_plain_text(given)):
                return excerpt
        separator = self.text("excerpt_separator")
        if separator and separator in body.text:
            return inline_plain_text(body.text.split(separator, 1)[0])
        return "" if body.is_light else body.extract().first(BlockKind.PARAGRAPH) or ""

    def _date(self, seen_at: datetime) -> tuple[datetime, DateSource, str]:
        stem = unicodedata.normalize("NFC", self.path.rsplit("/", 1)[-1].rsplit(".", 1)[0])
        from_name = filename_date(stem, self.site.zone)
        slug = self.text("slug") or (stem if from_name is None else from_name[1])
        given = self.text("date")
        if given is not None:
            try:
                return parse_date(given, self.site.zone), DateSource.FRONT_MATTER, slug
            except ValueError as exc:
                raise self.refuse(f"date: {exc}, got {given!r}", "date") from None
        if from_name is not None:
            return from_name[0], DateSource.FILENAME, slug
        return seen_at, DateSource.FIRST_SEEN, slug

    def _published(self) -> bool:
        flag = self.text("published")
        if flag is None or flag in _TRUE:
            return True
        if flag in _FALSE:
            return False
        raise self.refuse(f"published: expected true or false, got {flag!r}", "published")

    def _key(self) -> str:
        given = clean_text(self.text("id") or "")
        if given:
            return unicodedata.normalize("NFC", given)
        stem = self.path.rsplit(".", 1)[0] if "." in self.path.rsplit("/", 1)[-1] else self.path
        return unicodedata.normalize("NFC", stem)

    def _url(self, date: datetime, slug: str, categories: list[str]) -> str:
        pattern = self.text("permalink") or self.site.permalink
        return build_url(
            self.site.url,
            pattern,
            date=date.astimezone(self.site.zone),
            slug=slug,
            categories=categories,
            link_params=self.site.link_params,
        )

    def _image(self, body: _Body) -> tuple[str | None, str | None, tuple[str, ...]]:
        notes: list[str] = []
        for candidate in self._image_candidates(body):
            resolved = self._resolve_image(candidate)
            if resolved is None:
                notes.append(f"image {candidate[:80]!r} skipped: not an http(s) URL or path")
            elif self._is_ignored(candidate, resolved[0]):
                notes.append(f"image {candidate[:80]!r} skipped: listed in site.ignore_images")
            else:
                return resolved[0], resolved[1], tuple(notes)
        return None, None, tuple(notes)

    def _image_candidates(self, body: _Body) -> Iterator[str]:
        """Each image once: the front matter's, then the body's (read only if those all fail)."""
        given = self._front_matter_images()
        yield from dict.fromkeys(given)
        if not body.is_light:
            yield from (image for image in dict.fromkeys(body.images()) if image not in given)

    def _front_matter_images(self) -> list[str]:
        values = self.matter.values
        header = values.get("header")
        found = [values.get("image")]
        if isinstance(header, dict):
            found += [header.get(key) for key in _HEADER_IMAGE_KEYS]
        found.append(values.get("feature_image"))
        images: list[str] = []
        for given in found:
            value = given
            if isinstance(given, dict):
                value = given.get("path") or given.get("url") or given.get("src")
            if isinstance(value, list):
                raise self.refuse("image: expected a path or URL, got a list", "image")
            if isinstance(value, str) and value.strip():
                images.append(value.strip())
        return images

    def _resolve_image(self, value: str) -> tuple[str, str | None] | None:
        """Return (absolute URL, path under site.root for a relative image), or None."""
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.netloc:
            return value, None
        if value.startswith("//"):
            return "https:" + value, None
        if parts.scheme or parts.netloc or not parts.path:
            return None
        path = parts.path
        subpath = self.text("media_subpath") or self.text("img_path")
        if subpath and not path.startswith("/"):
            path = subpath.rstrip("/") + "/" + path
        relative = path.lstrip("/")
        url = self.site.url + "/" + quote(relative, safe=_URL_SAFE)
        if parts.query:
            url += "?" + parts.query
        return url, unquote(relative)

    def _is_ignored(self, raw: str, url: str) -> bool:
        for entry in self.site.ignore_images:
            resolved = self._resolve_image(entry)
            if entry == raw or (resolved is not None and resolved[0] == url):
                return True
        return False

    def _lenient_note(self) -> tuple[str, ...]:
        notes = []
        error = self.matter.yaml_error
        if error is not None:
            notes.append(f"front matter read leniently: {error.reason} (line {error.line})")
        key = self._title_key()
        if key != "title" and key in self.matter.values:
            notes.append(f"no `title:`; `{key}:` on line {self.matter.lines.get(key)} read as it")
        return tuple(notes)
