"""The posts folder on disk: which files count, safe reading, symbolic links, local images."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import SiteConfig
from bot.errors import PostError
from bot.source import MAX_IMAGE_BYTES, listed_path, load_post, scan, skip_reason, walk
from tests.conftest import NOW, post_file

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def write(path: Path, data: bytes | str) -> Path:
    """Write `data` to `path`, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("2024-07-13-a.md", None),
        ("news/2024-07-13-a.markdown", None),
        ("2024-07-13-a.HTML", None),
        (".hidden.md", "hidden file"),
        (".git/x.md", "hidden file"),
        ("a.md~", "editor or temporary file"),
        ("#a.md#", "editor or temporary file"),
        (".#a.md", "hidden file"),
        ("_drafts/a.md", "draft (in _drafts)"),
        ("notes.txt", "not a post file (.txt; posts are .md, .markdown, .html)"),
        ("Makefile", "not a post file (no extension; posts are .md, .markdown, .html)"),
    ],
)
def test_skip_reason(relative: str, reason: str | None) -> None:
    """Only .md, .markdown and .html files outside hidden and draft folders are posts."""
    assert skip_reason(relative) == reason


def test_walk_lists_post_files_in_order_and_not_images(site: SiteConfig) -> None:
    """Walking lists post-like files sorted, never images, hidden folders or their files."""
    posts = site.posts_dir
    for name in [
        "b.md",
        "a/c.html",
        "a.md~",
        ".hidden.md",
        ".git/d.md",
        "img/x.png",
        "_drafts/e.md",
    ]:
        write(posts / name, "x")
    assert [p.relative_to(posts).as_posix() for p in walk(posts)] == [
        "a.md~",
        "b.md",
        "_drafts/e.md",
        "a/c.html",
    ]


def test_links_back_into_the_folder_give_each_post_once_by_its_real_path(
    site: SiteConfig, tmp_path: Path
) -> None:
    """Links to the folder, into a loop or to an ancestor add no post, however a path names it."""
    posts = site.posts_dir
    write(posts / "2024-07-13-a.md", post_file("title: A"))
    write(posts / "sub" / "2024-07-13-b.md", post_file("title: B"))
    write(tmp_path / "elsewhere" / "2024-07-13-c.md", post_file("title: Outside"))
    (posts / "sub" / "up").symlink_to("..")
    (posts / "self").symlink_to(".")
    (posts / "top").symlink_to(tmp_path)
    (posts / "2024-07-13-alias.md").symlink_to("sub/2024-07-13-b.md")
    named = [  # as a watch that follows links reports them
        "sub/up/2024-07-13-a.md",
        "sub/up/sub/up/sub/2024-07-13-b.md",
        "self/2024-07-13-alias.md",
        "top/_posts/sub/2024-07-13-b.md",
        "top/elsewhere/2024-07-13-c.md",
    ]
    listed = {listed_path(posts / name, posts) for name in named}
    assert listed == {posts / "2024-07-13-a.md", posts / "sub" / "2024-07-13-b.md", None}
    assert [p.relative_to(posts).as_posix() for p in walk(posts)] == [
        "2024-07-13-a.md",
        "sub/2024-07-13-b.md",
    ]
    files = sorted({*walk(posts), *(path for path in listed if path is not None)})
    outcomes = list(scan(files, site=site, seen_at=NOW))
    assert [o.post.key for o in outcomes if o.post is not None] == [
        "2024-07-13-a",
        "sub/2024-07-13-b",
    ]
    assert len(outcomes) == 2


def test_a_link_to_a_place_only_it_reaches_is_followed_once(site: SiteConfig) -> None:
    """A link into a hidden folder lists its posts under the link, once, even with a loop in it."""
    posts = site.posts_dir
    write(posts / ".stash" / "2024-07-13-a.md", post_file("title: A"))
    write(posts / ".kept" / "2024-07-13-b.md", post_file("title: B"))
    (posts / ".stash" / "again").symlink_to(".")
    (posts / "shown").symlink_to(".stash")
    (posts / "2024-07-13-b.md").symlink_to(".kept/2024-07-13-b.md")
    assert [p.relative_to(posts).as_posix() for p in walk(posts)] == [
        "2024-07-13-b.md",
        "shown/2024-07-13-a.md",
    ]
    named = posts / "shown" / "again" / "again" / "2024-07-13-a.md"
    assert listed_path(named, posts) == posts / "shown" / "2024-07-13-a.md"
    assert listed_path(posts / "2024-07-13-b.md", posts) == posts / "2024-07-13-b.md"


def test_scan_reports_each_file_once(site: SiteConfig) -> None:
    """A scan gives each file one outcome: a post, a refusal, or a skip."""
    good = write(site.posts_dir / "2024-07-13-good.md", post_file("title: Good"))
    bad = write(site.posts_dir / "2024-07-13-bad.md", b"\xff\xfe\x00")
    draft = write(site.posts_dir / "_drafts/x.md", post_file("title: Draft"))
    outcomes = {o.file: o for o in scan([good, bad, draft], site=site, seen_at=NOW)}
    post = outcomes[good].post
    assert post is not None
    assert post.title == "Good"
    assert outcomes[bad].error is not None
    assert outcomes[draft].skipped == "draft (in _drafts)"


def test_a_duplicate_id_refuses_the_second_file(site: SiteConfig) -> None:
    """Two files with one `id`: the first keeps it, the second is refused naming the first."""
    first = write(site.posts_dir / "a.md", post_file("title: A\nid: same"))
    second = write(site.posts_dir / "b.md", post_file("title: B\nid: same"))
    outcomes = list(scan([first, second], site=site, seen_at=NOW))
    assert outcomes[0].post is not None
    assert outcomes[1].error is not None
    assert outcomes[1].error.reason == "duplicate key 'same': a.md has it already"


def test_a_symlink_leading_outside_is_never_followed(site: SiteConfig, tmp_path: Path) -> None:
    """A link to a file outside the posts folder is refused, and the file is not read."""
    secret = write(tmp_path / "outside" / "secret.md", post_file("title: Secret"))
    link = site.posts_dir / "2024-07-13-link.md"
    link.symlink_to(secret)
    with pytest.raises(PostError, match="symbolic link to a file outside the posts folder"):
        load_post(link, site=site, seen_at=NOW)


def test_a_symlink_inside_the_folder_is_followed(site: SiteConfig) -> None:
    """A link to another file inside the posts folder reads that file."""
    target = write(site.posts_dir / "real" / "2024-07-13-a.md", post_file("title: Inside"))
    link = site.posts_dir / "2024-07-13-link.md"
    link.symlink_to(target)
    assert load_post(link, site=site, seen_at=NOW).title == "Inside"


def test_a_dangling_symlink_is_refused(site: SiteConfig) -> None:
    """A link to nothing is a refusal, not a crash."""
    link = site.posts_dir / "2024-07-13-gone.md"
    link.symlink_to(site.posts_dir / "missing.md")
    with pytest.raises(PostError, match="cannot read"):
        load_post(link, site=site, seen_at=NOW)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_without_blocking(site: SiteConfig) -> None:
    """A FIFO named like a post is refused instead of blocking the reader forever."""
    fifo = site.posts_dir / "2024-07-13-pipe.md"
    os.mkfifo(fifo)
    with pytest.raises(PostError, match="not a regular file"):
        load_post(fifo, site=site, seen_at=NOW)


def test_an_oversized_file_is_refused(site: SiteConfig) -> None:
    """A file over the size cap is refused without being read into memory."""
    big = site.posts_dir / "2024-07-13-big.md"
    with big.open("wb") as handle:
        handle.truncate(17 * 1024 * 1024)
    with pytest.raises(PostError, match="file too large"):
        load_post(big, site=site, seen_at=NOW)


def test_a_ten_megabyte_body_is_a_post(site: SiteConfig) -> None:
    """A 10 MB body parses, with its excerpt from the first paragraph."""
    body = "First paragraph.\n\n" + ("filler " * 150 + "\n\n") * 10_000
    path = write(site.posts_dir / "2024-07-13-long.md", post_file("title: Long", body))
    assert path.stat().st_size > 10_000_000
    post = load_post(path, site=site, seen_at=NOW)
    assert post.excerpt == "First paragraph."


@pytest.mark.parametrize(
    ("image", "content", "attached", "note"),
    [
        ("/assets/a.png", PNG, True, None),
        ("/assets/photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 16, True, None),
        ("/assets/anim.gif", b"GIF89a" + b"\x00" * 16, True, None),
        ("/assets/pic.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", True, None),
        (
            "/assets/fake.png",
            b"<html>not an image</html>",
            False,
            "is not a JPEG, PNG, GIF or WebP image",
        ),
        ("/assets/missing.png", None, False, None),
    ],
)
def test_local_images_under_the_site_root(
    site: SiteConfig, image: str, content: bytes | None, attached: bool, note: str | None
) -> None:
    """A relative image found under site.root is noted for upload only if it is a real image."""
    if content is not None:
        write(site.site_root / image.lstrip("/"), content)
    path = write(site.posts_dir / "2024-07-13-a.md", post_file(f"title: A\nimage: {image}"))
    post = load_post(path, site=site, seen_at=NOW)
    assert post.image_url == f"https://news.example.com{image}"
    assert (post.image_file == str((site.site_root / image.lstrip("/")).resolve())) is attached
    assert (post.image_file is None) is not attached
    assert any(note in n for n in post.notes) if note else post.notes == ()


def test_a_local_image_over_ten_megabytes_is_not_uploaded(site: SiteConfig) -> None:
    """An image file over 10 MB keeps its URL and is not marked for upload."""
    image = write(site.site_root / "assets" / "huge.png", PNG)
    with image.open("r+b") as handle:
        handle.truncate(MAX_IMAGE_BYTES + 1)
    path = write(site.posts_dir / "2024-07-13-a.md", post_file("title: A\nimage: /assets/huge.png"))
    post = load_post(path, site=site, seen_at=NOW)
    assert post.image_file is None
    assert post.notes == ("local image 'assets/huge.png' is over 10 MB; its URL is sent instead",)


def test_a_local_image_linking_outside_the_root_is_not_uploaded(
    site: SiteConfig, tmp_path: Path
) -> None:
    """An image path that resolves (through a link or ..) outside site.root is never read."""
    root = site.site_root / "site"
    root.mkdir()
    site = SiteConfig.model_validate({**site.model_dump(), "root": root})
    write(tmp_path / "private.png", PNG)
    (root / "assets").mkdir()
    (root / "assets" / "link.png").symlink_to(tmp_path / "private.png")
    for image in ("/assets/link.png", "/../private.png"):
        path = write(site.posts_dir / "2024-07-13-a.md", post_file(f"title: A\nimage: '{image}'"))
        post = load_post(path, site=site, seen_at=NOW)
        assert post.image_file is None
        assert post.notes[-1].endswith("leads outside site.root; its URL is sent instead")
