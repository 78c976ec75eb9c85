"""TOML config plus secrets from the environment, loaded once into frozen values."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from bot.errors import ConfigError
from bot.liveness import is_reserved_host

DEFAULT_CONFIG_NAME = "sokbo.toml"  # looked for in the current folder when --config is not given
TOKEN_VARIABLES = {"telegram": "TELEGRAM_BOT_TOKEN", "discord": "DISCORD_BOT_TOKEN"}
WEBHOOK_SECRET_VARIABLE = "SOKBO_WEBHOOK_SECRET"  # the git host's webhook secret


T = TypeVar("T")


def _listed(value: object) -> object:
    """TOML gives lists; the frozen config keeps tuples."""
    return tuple(value) if isinstance(value, list) else value


Listed = Annotated[tuple[T, ...], BeforeValidator(_listed)]  # a TOML list, kept as a tuple


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class SiteConfig(_Frozen):
    """`[site]`: where the posts are and how the site builds their links."""

    posts_dir: Path = Path("posts")
    url: str = "http://localhost:4000"
    name: str = ""
    timezone: str = "UTC"
    root: Path | None = None
    permalink: str = "date"
    ignore_images: Listed[str] = ()
    link_params: tuple[tuple[str, str], ...] = ()
    live_check: bool | None = None  # None: on for a real host, off for test and example hosts
    live_timeout_minutes: Annotated[float, Field(gt=0)] = 15.0
    on_live_timeout: Literal["push", "hold"] = "push"
    git_pull_seconds: Annotated[float, Field(ge=1)] | None = None  # None: sokbo never pulls

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("expected an http(s) URL such as 'https://news.example.com'")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone such as 'Asia/Seoul'") from None
        return value

    @field_validator("link_params", mode="before")
    @classmethod
    def _table_to_pairs(cls, value: object) -> object:
        if isinstance(value, Mapping):
            for name, text in value.items():
                if not isinstance(text, str):
                    raise ValueError(f"expected text for {name!r}")
            return tuple(value.items())
        if isinstance(value, tuple):
            return value
        raise ValueError('expected a table such as { utm_source = "telegram" }')

    @property
    def zone(self) -> ZoneInfo:
        """The site's time zone, for naive and date-only post dates."""
        return ZoneInfo(self.timezone)

    @property
    def site_root(self) -> Path:
        """The folder that relative image paths are looked up in (default: above posts_dir)."""
        return self.posts_dir.parent if self.root is None else self.root

    @property
    def display_name(self) -> str:
        """The site's name, or its host when none is configured."""
        return self.name or urlsplit(self.url).netloc

    @property
    def checks_live(self) -> bool:
        """Whether a new post waits for its page: `live_check`, else whether the host is real."""
        if self.live_check is not None:
            return self.live_check
        return not is_reserved_host(urlsplit(self.url).hostname or "")


class BotSettings(_Frozen):
    """`[bot]`: the service's own behaviour."""

    database: Path = Path("sokbo.db")
    language: Literal["ko", "en"] = "ko"
    backfill: Annotated[int, Field(ge=0)] = 0
    max_burst: Annotated[int, Field(ge=1)] = 10
    max_age_hours: Annotated[float, Field(gt=0)] = 24.0
    max_attempts: Annotated[int, Field(ge=1)] = 8
    on_edit: Literal["edit", "ignore"] = "edit"
    edit_window_hours: Annotated[float, Field(ge=0)] = 48.0
    rescan_seconds: Annotated[float, Field(gt=0)] = 60.0
    settle_seconds: Annotated[float, Field(ge=0, le=10)] = 0.3


class TelegramChannel(_Frozen):
    """`[[telegram.channels]]`: a chat that always gets pushes, set here rather than by command."""

    chat_id: int | str  # a numeric id, or @channelusername
    categories: Listed[str] = ()
    thread_id: int | None = None  # a forum topic
    silent: bool = False
    link_preview: bool = True
    language: Literal["ko", "en"] | None = None


class TelegramSettings(_Frozen):
    """`[telegram]`: the Bot API server, admins, notices and static channels."""

    api_url: str = "https://api.telegram.org/bot"  # python-telegram-bot's base_url; token appended
    api_file_url: str = "https://api.telegram.org/file/bot"  # its base_file_url
    admins: Listed[int] = ()  # Telegram user ids of the bot's admins
    notify_chat: int | str | None = None  # where admin notices go (refused files, bursts, dead)
    channels: Listed[TelegramChannel] = ()
    per_second: Annotated[float, Field(gt=0, le=30)] = 28.5  # overall pace, below the 30/s limit


class DiscordChannel(_Frozen):
    """`[[discord.channels]]`: a channel that always gets pushes."""

    channel_id: int
    categories: Listed[str] = ()
    mention_role: int | None = None  # the one mention allowed in its pushes
    crosspost: bool = False  # publish each push to the followers of an announcement channel
    language: Literal["ko", "en"] | None = None


class DiscordSettings(_Frozen):
    """`[discord]`: the REST API, the channels, and how posts look on Discord."""

    api_url: str = "https://discord.com/api/v10"  # discord.http.Route.BASE
    gateway_url: str = "wss://gateway.discord.gg/"  # DiscordWebSocket.DEFAULT_GATEWAY
    admins: Listed[int] = ()  # Discord user ids of the bot's admins
    admin_roles: Listed[int] = ()  # and role ids whose members are admins too
    notify_channel: int | None = None  # where admin notices go (refused files, bursts, dead)
    channels: Listed[DiscordChannel] = ()
    colors: tuple[tuple[str, int], ...] = ()  # category → embed colour, from "#rrggbb"

    @field_validator("colors", mode="before")
    @classmethod
    def _hex_table(cls, value: object) -> object:
        if isinstance(value, tuple):
            return value
        if not isinstance(value, Mapping):
            raise ValueError('expected a table such as { 정치 = "#1a5490" }')
        pairs = []
        for name, color in value.items():
            text = str(color).removeprefix("#")
            if len(text) != 6 or any(c not in "0123456789abcdefABCDEF" for c in text):
                raise ValueError(f'expected a colour such as "#1a5490" for {name!r}')
            pairs.append((str(name), int(text, 16)))
        return tuple(pairs)

    @property
    def color_table(self) -> dict[str, int]:
        """The colours by category."""
        return dict(self.colors)


class HttpSettings(_Frozen):
    """`[http]`: the listener for the git host's webhooks (off unless a port is given)."""

    host: str = "127.0.0.1"  # behind a reverse proxy that serves the public HTTPS address
    port: Annotated[int, Field(ge=0, le=65535)] | None = None


class Secrets(_Frozen):
    """Tokens and the webhook secret, from the environment only; their repr never shows them."""

    telegram_token: SecretStr | None = None
    discord_token: SecretStr | None = None
    webhook_secret: SecretStr | None = None


class Config(_Frozen):
    """The whole configuration."""

    site: SiteConfig = SiteConfig()
    bot: BotSettings = BotSettings()
    telegram: TelegramSettings = TelegramSettings()
    discord: DiscordSettings = DiscordSettings()
    http: HttpSettings = HttpSettings()
    secrets: Secrets = Secrets()
    source: Path | None = None  # the file it was read from, if any


def load_config(path: Path | None, environ: Mapping[str, str]) -> Config:
    """Read `path` (or the defaults when None) and the tokens in `environ` into a Config."""
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_toml(path)
    base = Path.cwd() if path is None else path.resolve().parent
    data = _resolve_paths(data, base)
    if "secrets" in data or "source" in data:
        key = "secrets" if "secrets" in data else "source"
        raise ConfigError(f"{key}: not a config table (tokens come from the environment only)")
    data["secrets"] = _tokens(environ)
    data["source"] = path
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _tokens(environ: Mapping[str, str]) -> dict[str, SecretStr]:
    """The platform tokens that are set; a variable set to nothing is an error, not "off"."""
    tokens = {}
    for name, variable in TOKEN_VARIABLES.items():
        value = environ.get(variable)
        if value is None:
            continue
        if not value.strip():
            raise ConfigError(
                f"{variable} is set but empty; unset it to run on the console, "
                "or give the bot's token"
            )
        tokens[f"{name}_token"] = SecretStr(value)
    if secret := environ.get(WEBHOOK_SECRET_VARIABLE, "").strip():
        tokens["webhook_secret"] = SecretStr(secret)
    return tokens


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the config's relative paths relative to the config file's folder."""
    site = data.get("site", {})
    bot = data.get("bot", {})
    if isinstance(site, dict):
        site = {**site, "posts_dir": _under(base, site.get("posts_dir", "posts"))}
        if "root" in site:
            site["root"] = _under(base, site["root"])
    if isinstance(bot, dict):
        bot = {**bot, "database": _under(base, bot.get("database", "sokbo.db"))}
    return {**data, "site": site, "bot": bot}


def _under(base: Path, value: object) -> object:
    return base / value if isinstance(value, str) else value


def _describe(exc: ValidationError) -> str:
    """Turn pydantic's report into 'key: what is wrong, got value' lines."""
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            lines.append(f"{loc}: {_unknown_key(error['loc'])}")
            continue
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
        lines.append(f"{loc}: {message}, got {error['input']!r}")
    return "\n".join(lines)


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    """Why a key is not allowed; a token in [telegram] or [discord] is told where tokens go."""
    key = str(loc[-1])
    variable = TOKEN_VARIABLES.get(str(loc[0]))
    if variable is not None and (key == "token" or key.endswith("_token")):
        return f"tokens go in {variable} in the environment, never in the config file"
    if "secret" in key:
        return f"the webhook secret goes in {WEBHOOK_SECRET_VARIABLE} in the environment"
    return "unknown key (is it misspelt?)"
