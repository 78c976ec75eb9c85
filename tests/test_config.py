"""Config: TOML into frozen values, errors naming the key and value, secrets from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from bot.config import (
    BotSettings,
    Config,
    DiscordChannel,
    DiscordSettings,
    SiteConfig,
    TelegramChannel,
    TelegramSettings,
    load_config,
)
from bot.errors import ConfigError
from tests.conftest import REPO

TOKEN = "123456:not-a-real-token-just-for-tests"


def write_config(tmp_path: Path, text: str) -> Path:
    """Write a config file into tmp_path and return its path."""
    path = tmp_path / "sokbo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no file, every key has its documented default, paths under the current folder."""
    monkeypatch.chdir(tmp_path)
    config = load_config(None, {})
    assert config.site.posts_dir == tmp_path / "posts"
    assert config.site.url == "http://localhost:4000"
    assert config.site.timezone == "UTC"
    assert config.site.permalink == "date"
    assert config.site.site_root == tmp_path
    assert config.site.display_name == "localhost:4000"
    assert config.bot.database == tmp_path / "sokbo.db"
    assert (config.bot.language, config.bot.backfill, config.bot.max_burst) == ("ko", 0, 10)
    assert (config.bot.max_age_hours, config.bot.max_attempts) == (24.0, 8)
    assert (config.bot.on_edit, config.bot.edit_window_hours) == ("edit", 48.0)


def test_the_example_config_loads_and_documents_every_key() -> None:
    """config.example.toml loads, and every key of every table appears in it."""
    config = load_config(REPO / "config.example.toml", {})
    assert config.site.posts_dir == REPO / "posts"
    assert config.bot.database == REPO / "sokbo-example.db"  # never a bare run's sokbo.db
    assert config.site.zone.key == "Asia/Seoul"
    assert config.site.link_params == (("utm_source", "sokbo"), ("utm_medium", "chat"))
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    sections: dict[str, type[BaseModel]] = {"site": SiteConfig, "bot": BotSettings, "telegram": TelegramSettings,
                "discord": DiscordSettings, "telegram.channels": TelegramChannel,
                "discord.channels": DiscordChannel}  # fmt: skip
    for name, section in sections.items():
        for key in section.model_fields:
            documented = (f"\n{key} = ", f"\n# {key} = ", f"[{name}.{key}]", f"[[{name}.{key}]]")
            assert any(form in text for form in documented), f"{name}.{key}"


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    """posts_dir, root and database resolve against the config file's folder."""
    path = write_config(tmp_path, '[site]\nposts_dir = "p"\nroot = "r"\n[bot]\ndatabase = "d.db"\n')
    config = load_config(path, {})
    assert config.site.posts_dir == tmp_path / "p"
    assert config.site.site_root == tmp_path / "r"
    assert config.bot.database == tmp_path / "d.db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[bot]\nmax_attempts = "ten"',
            "bot.max_attempts: input should be a valid integer, got 'ten'",
        ),
        (
            "[bot]\nmax_attempts = 0",
            "bot.max_attempts: input should be greater than or equal to 1, got 0",
        ),
        ('[bot]\nlanguage = "fr"', "bot.language: input should be 'ko' or 'en', got 'fr'"),
        (
            '[bot]\non_edit = "delete"',
            "bot.on_edit: input should be 'edit' or 'ignore', got 'delete'",
        ),
        (
            "[bot]\nbackfill = -1",
            "bot.backfill: input should be greater than or equal to 0, got -1",
        ),
        (
            '[site]\ntimezone = "Mars/Olympus"',
            "site.timezone: expected an IANA time zone such as 'Asia/Seoul', got 'Mars/Olympus'",
        ),
        (
            '[site]\nurl = "news.example.com"',
            "site.url: expected an http(s) URL such as 'https://news.example.com', got 'news.example.com'",
        ),
        (
            "[site]\nlink_params = 5",
            'site.link_params: expected a table such as { utm_source = "telegram" }, got 5',
        ),
        (
            "[site]\nlink_params = { a = 1 }",
            "site.link_params: expected text for 'a', got {'a': 1}",
        ),
        (
            '[site]\nignore_images = "x.png"',
            "site.ignore_images: input should be a valid tuple, got 'x.png'",
        ),
        ("[site]\npost_dir = 'typo'", "site.post_dir: unknown key (is it misspelt?)"),
        ("[telegarm]\nx = 1", "telegarm: unknown key (is it misspelt?)"),
        (
            '[secrets]\ntelegram_token = "x"',
            "secrets: not a config table (tokens come from the environment only)",
        ),
        ("site = 5", "site: input should be a valid dictionary or instance of SiteConfig, got 5"),
    ],
)
def test_a_bad_value_names_the_key_and_the_value(tmp_path: Path, text: str, message: str) -> None:
    """Every validation error says which key, what is wrong, and the value given."""
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, text), {})
    assert str(caught.value) == message


def test_errors_are_all_reported_at_once(tmp_path: Path) -> None:
    """Several bad keys give one line each."""
    path = write_config(tmp_path, '[bot]\nlanguage = "fr"\nmax_burst = 0\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert len(str(caught.value).splitlines()) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [("[site\n", "not valid TOML"), (None, "no such config file")],
)
def test_unreadable_files(tmp_path: Path, text: str | None, message: str) -> None:
    """A missing file or broken TOML is a ConfigError naming the file."""
    path = tmp_path / "sokbo.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path, {})
    assert str(path) in str(caught.value)


def test_tokens_come_from_the_environment_and_never_show() -> None:
    """Tokens are read from the environment; repr and str of the config never contain them."""
    config = load_config(None, {"TELEGRAM_BOT_TOKEN": TOKEN, "DISCORD_BOT_TOKEN": "d" * 40})
    assert config.secrets.telegram_token is not None
    assert config.secrets.telegram_token.get_secret_value() == TOKEN
    assert config.secrets.discord_token is not None
    for shown in (repr(config), str(config), repr(config.secrets), str(config.model_dump())):
        assert TOKEN not in shown
        assert "d" * 40 not in shown


def test_an_unset_token_is_no_token() -> None:
    """Without the variables the platforms are off (sokbo runs on the console)."""
    secrets = load_config(None, {"PATH": "/usr/bin"}).secrets
    assert (secrets.telegram_token, secrets.discord_token) == (None, None)


@pytest.mark.parametrize("variable", ["TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN"])
@pytest.mark.parametrize("value", ["", "  ", "\n"])
def test_a_token_set_but_empty_is_an_error_naming_the_variable(variable: str, value: str) -> None:
    """An empty or blank variable is a mistake to report, not a quiet fall-back to the console."""
    with pytest.raises(ConfigError) as caught:
        load_config(None, {variable: value})
    assert str(caught.value) == (
        f"{variable} is set but empty; unset it to run on the console, or give the bot's token"
    )


@pytest.mark.parametrize(
    ("table", "key", "variable"),
    [
        ("telegram", "token", "TELEGRAM_BOT_TOKEN"),
        ("discord", "token", "DISCORD_BOT_TOKEN"),
        ("telegram", "bot_token", "TELEGRAM_BOT_TOKEN"),
    ],
)
def test_a_token_in_the_config_file_says_where_tokens_go(
    tmp_path: Path, table: str, key: str, variable: str
) -> None:
    """A token key in [telegram] or [discord] names the variable, and the token never shows."""
    path = write_config(tmp_path, f'[{table}]\n{key} = "{TOKEN}"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert str(caught.value) == (
        f"{table}.{key}: tokens go in {variable} in the environment, never in the config file"
    )
    assert TOKEN not in str(caught.value)


def test_config_is_frozen() -> None:
    """A loaded config cannot be changed."""
    config = load_config(None, {})
    with pytest.raises(ValidationError):
        config.bot.max_attempts = 3
    assert isinstance(config, Config)


def test_the_webhook_secret_comes_from_the_environment_and_never_shows(tmp_path: Path) -> None:
    """SOKBO_WEBHOOK_SECRET is read like the tokens; a secret in [http] says where it goes."""
    config = load_config(None, {"SOKBO_WEBHOOK_SECRET": "hook-secret-42"})
    assert config.secrets.webhook_secret is not None
    assert config.secrets.webhook_secret.get_secret_value() == "hook-secret-42"
    for shown in (repr(config), str(config), str(config.model_dump())):
        assert "hook-secret-42" not in shown
    path = write_config(tmp_path, '[http]\nport = 8470\nsecret = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert str(caught.value) == (
        "http.secret: the webhook secret goes in SOKBO_WEBHOOK_SECRET in the environment"
    )


def test_live_check_and_pull_settings(tmp_path: Path) -> None:
    """The live check's and the puller's keys: defaults, and bad values named."""
    site = SiteConfig()
    assert (site.live_timeout_minutes, site.on_live_timeout, site.git_pull_seconds) == (
        15.0,
        "push",
        None,
    )
    assert not site.checks_live  # http://localhost:4000, jekyll serve's address
    path = write_config(tmp_path, '[site]\non_live_timeout = "wait"\ngit_pull_seconds = 0\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert str(caught.value).splitlines() == [
        "site.on_live_timeout: input should be 'push' or 'hold', got 'wait'",
        "site.git_pull_seconds: input should be greater than or equal to 1, got 0",
    ]
