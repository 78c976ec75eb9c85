"""The posts folder on disk: which files are posts, reading them safely, local images."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from bot.config import SiteConfig
from bot.errors import PostError
from bot.model import Fingerprint, Post
from bot.posts import parse_post

POST_SUFFIXES = frozenset({".md", ".markdown", ".html"})
MAX_POST_BYTES = 16 * 1024 * 1024  # a 10 MB body with room to spare; larger is not a post
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # Telegram's limit for a photo upload (Bot API sendPhoto)
# Bump when reading the same file gives a different Post: a restart then reads every file again.
# 2: excerpts cut to two sentences and 300 units, cells and items apart, numbered titles' first.
READER_VERSION = 2
_LISTED_SUFFIXES = POST_SUFFIXES | {".swp", ".swx", ".tmp"}
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one file turned out to be: a post, a refusal, or not a post at all."""

    file: Path
    post: Post | None = None
    error: PostError | None = None
    skipped: str | None = None


def skip_reason(relative: str) -> str | None:
    """Say why a file (its path under posts_dir) is not a post candidate; None if it is one."""
    parts = relative.split("/")
    name = parts[-1]
    if any(part.startswith(".") for part in parts):
        return "hidden file"
    if name.endswith(("~", ".swp", ".swx", ".tmp")) or name.startswith(("#", ".#")):
        return "editor or temporary file"
    if "_drafts" in parts:
        return "draft (in _drafts)"
    suffix = _suffix(name)
    if suffix not in POST_SUFFIXES:
        return f"not a post file ({suffix or 'no extension'}; posts are .md, .markdown, .html)"
    return None


def walk(folder: Path) -> Iterator[Path]:
    """Yield the post-like files under `folder` once each, sorted; hidden folders aren't entered.

    Each file is listed under its real path when a walk without links reaches it. A linked
    folder is entered only when its real path is inside `folder`, out of that walk's reach and
    not entered already, so a loop (`sub/up -> ..`) or a second way in adds nothing; a linked
    file is listed unless the walk lists its target. Images and other files beside the posts
    are not listed at all; drafts and editor files are, so that a report can say why they are
    skipped.
    """
    root = os.path.realpath(folder)
    return (Path(entry.path) for entry in _walk(str(folder), root, root, set()))


def fingerprints(folder: Path) -> dict[str, Fingerprint | None]:
    """The files `walk` lists, by path as text, each with its fingerprint (None: no stat).

    One `stat` a file and no path objects: what a rescan that finds nothing changed costs.
    """
    root = os.path.realpath(folder)
    found: dict[str, Fingerprint | None] = {}
    for entry in _walk(str(folder), root, root, set()):
        try:
            found[entry.path] = fingerprint(entry.stat())
        except OSError:
            found[entry.path] = None
    return found


def fingerprint(info: os.stat_result) -> Fingerprint:
    """What tells a file's change from its `stat`: any write changes one of these."""
    return (info.st_size, info.st_mtime_ns, info.st_ino)


def _walk(path: str, real: str, root: str, entered: set[str]) -> Iterator[os.DirEntry[str]]:
    """Walk the folder at `path` (really `real`), then its folders, unless it was entered."""
    if real in entered:
        return
    entered.add(real)
    try:
        with os.scandir(path) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return
    folders = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if not _is_dir(entry):
            listed = _suffix(entry.name) in _LISTED_SUFFIXES
            if listed and not (entry.is_symlink() and _listed_target(entry.path, root)):
                yield entry
        elif not entry.is_symlink():
            folders.append((entry.path, os.path.join(real, entry.name)))
        elif _inside(target := os.path.realpath(entry.path), root) and not _reachable(target, root):
            folders.append((entry.path, target))
    for folder, folder_real in folders:
        yield from _walk(folder, folder_real, root, entered)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _listed_target(link: str, root: str) -> str | None:
    """Return the real path of the file `link` leads to if a walk of `root` lists it there."""
    target = os.path.realpath(link)
    listed = _suffix(os.path.basename(target)) in _LISTED_SUFFIXES
    return target if listed and _reachable(target, root) and os.path.exists(target) else None


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _reachable(real: str, root: str) -> bool:
    """Whether a walk of `root` reaches the real path `real` without links (nothing hidden)."""
    inside = _inside(real, root)
    return inside and not any(part.startswith(".") for part in real[len(root) :].split(os.sep))


def listed_path(path: Path, folder: Path) -> Path | None:
    """Return the path `walk(folder)` lists for the file `path` names; None if it is outside.

    A watch follows every link, into loops and ancestors, so an event may name `a.md` as
    `sub/up/a.md` or `up/_posts/a.md` (which one is the watch's choice, not sokbo's).
    """
    try:
        parts = path.relative_to(folder).parts
    except ValueError:
        return None
    if not any(os.path.islink(folder.joinpath(*parts[:end])) for end in range(1, len(parts) + 1)):
        return path  # no link on the way (the common case, and the folder itself)
    root = os.path.realpath(folder)
    shown, real = _listed_folder(folder, root, parts[:-1])
    if not _inside(real, root):
        return None
    file = os.path.join(real, parts[-1])
    target = _listed_target(file, root) if os.path.islink(file) else None
    return shown / parts[-1] if target is None else folder / os.path.relpath(target, root)


def _listed_folder(folder: Path, root: str, parts: Iterable[str]) -> tuple[Path, str]:
    """Follow `parts` from `folder` as a walk shows them: the path it lists, the real path."""
    shown, real, known = folder, root, dict[str, Path]()  # known: folders reached by links
    for part in parts:
        real = os.path.realpath(os.path.join(real, part))
        if _reachable(real, root):
            shown = folder / os.path.relpath(real, root)
        else:
            shown = known.setdefault(real, shown / part)
    return shown, real


def _suffix(name: str) -> str:
    """A name's extension, lower-cased, an editor's trailing `~` aside (`.md` for `a.MD~`)."""
    base = name.removesuffix("~")
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 and base[:dot].strip(".") else ""


def is_post_file(name: str) -> bool:
    """Whether a file name has a post's extension (an editor's `post.md~` counts, to be skipped)."""
    return _suffix(name) in POST_SUFFIXES


def relative_name(file: Path, posts_dir: Path) -> str:
    """Return `file`'s '/'-separated path under `posts_dir` (or its name when outside it)."""
    folder, name = str(posts_dir), str(file)
    if folder.startswith("/") and folder[1:2] not in ("", "/") and name.startswith(folder + "/"):
        return name[len(folder) + 1 :]  # what relative_to says of two plain absolute paths
    try:
        return file.absolute().relative_to(posts_dir.absolute()).as_posix()
    except ValueError:
        return file.name


def read_post_bytes(file: Path, *, relative: str, posts_dir: Path) -> bytes:
    """Read a post file, following a symbolic link only when it stays inside `posts_dir`."""
    try:
        if file.is_symlink():
            target = file.resolve(strict=True)
            if not target.is_relative_to(posts_dir.resolve()):
                raise PostError(relative, "symbolic link to a file outside the posts folder")
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise PostError(relative, "not a regular file")
            if info.st_size > MAX_POST_BYTES:
                size = info.st_size // (1024 * 1024)
                raise PostError(relative, f"file too large ({size} MB; the limit is 16 MB)")
            # Asking for the size read, not the limit, spares a 16 MB buffer a post; a file
            # that grew since fstat is read on up to the same limit (MAX_POST_BYTES + 1).
            data = handle.read(info.st_size + 1)
            if len(data) > info.st_size:
                data += handle.read(MAX_POST_BYTES - info.st_size)
            return data
    except (OSError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise PostError(relative, f"cannot read: {reason}") from None


def load_post(file: Path, *, site: SiteConfig, seen_at: datetime, light: bool = False) -> Post:
    """Read and parse one post file, then check its local image for upload."""
    relative = relative_name(file, site.posts_dir)
    raw = read_post_bytes(file, relative=relative, posts_dir=site.posts_dir)
    post = parse_post(raw, path=relative, site=site, seen_at=seen_at, light=light)
    return attach_local_image(post, site)


def attach_local_image(post: Post, site: SiteConfig) -> Post:
    """Note a relative image that exists under site.root as a file to upload, if it is safe."""
    if post.image_path is None:
        return post
    problem = None
    try:
        # The image first: most are not on this disk, and then site.root need not be resolved.
        real = (site.site_root / post.image_path).resolve(strict=True)
        root = site.site_root.resolve()
        if not real.is_relative_to(root):
            problem = "leads outside site.root"
        elif not real.is_file():
            problem = "is not a file"
        elif real.stat().st_size > MAX_IMAGE_BYTES:
            problem = "is over 10 MB"
        else:
            with real.open("rb") as handle:
                head = handle.read(16)
            if not (head.startswith(_IMAGE_MAGIC) or head[8:12] == b"WEBP"):
                problem = "is not a JPEG, PNG, GIF or WebP image"
    except OSError:
        return post  # not on this disk: the URL is what gets sent
    except RuntimeError:  # a symbolic link loop: in site.root itself, that is raised
        site.site_root.resolve()
        return post
    if problem is not None:
        note = f"local image {post.image_path!r} {problem}; its URL is sent instead"
        return replace(post, notes=(*post.notes, note))
    return replace(post, image_file=str(real))


def read_outcome(
    file: Path, *, site: SiteConfig, seen_at: datetime, light: bool = False
) -> Outcome:
    """Read one file into an Outcome: a post, a refusal, or why it is not a post."""
    reason = skip_reason(relative_name(file, site.posts_dir))
    if reason is not None:
        return Outcome(file, skipped=reason)
    try:
        return Outcome(file, post=load_post(file, site=site, seen_at=seen_at, light=light))
    except PostError as error:
        return Outcome(file, error=error)


def dedupe(outcomes: Iterable[Outcome]) -> Iterator[Outcome]:
    """Refuse each post whose key an earlier post already has, naming that post."""
    keys: dict[str, str] = {}
    for outcome in outcomes:
        post = outcome.post
        first = None if post is None else keys.setdefault(post.key, post.path)
        if post is None or first == post.path:
            yield outcome
        else:
            reason = f"duplicate key {post.key!r}: {first} has it already"
            yield Outcome(outcome.file, error=PostError(post.path, reason))


def scan(files: Iterable[Path], *, site: SiteConfig, seen_at: datetime) -> Iterator[Outcome]:
    """Read each file into an Outcome; a second file with a key already seen is refused."""
    return dedupe(read_outcome(file, site=site, seen_at=seen_at) for file in files)
