"""Settings of the adapter's own connection to Telegram: ``mode``, ``polling`` and
``webhook`` (the plugin README, "Connecting")."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: What Telegram accepts as a webhook's ``secret_token``.
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,256}")


class PollingSettings(BaseModel):
    """``mode: polling`` (the default): ``getUpdates`` long polling."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: int = Field(
        default=30, ge=0, le=50, description="seconds Telegram holds a getUpdates call open"
    )
    limit: int = Field(default=100, ge=1, le=100, description="updates per getUpdates call")
    delete_webhook: bool = Field(
        default=False,
        description="call deleteWebhook before polling (a set webhook makes getUpdates fail)",
    )
    drop_pending_updates: bool = Field(
        default=False, description="with delete_webhook: drop the updates Telegram kept"
    )
    retry_base: float = Field(default=1.0, gt=0, description="first backoff, in seconds")
    retry_max: float = Field(default=60.0, gt=0, description="longest backoff, in seconds")


class BotWebhookSettings(BaseModel):
    """``mode: webhook``: an HTTP server for Telegram's own webhook calls."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = Field(default="127.0.0.1:8443", description="HOST:PORT to listen on")
    path: str = Field(default="/telegram", description="the path Telegram posts to")
    secret_token: str = Field(
        description="X-Telegram-Bot-Api-Secret-Token: 16-256 of A-Z, a-z, 0-9, _ and -",
        repr=False,
    )
    url: str | None = Field(
        default=None, description="the public https:// URL Telegram posts to (setWebhook)"
    )
    set_webhook: bool = Field(default=False, description="call setWebhook with `url` at start")
    drop_pending_updates: bool = Field(
        default=False, description="with set_webhook: drop the updates Telegram kept"
    )
    max_connections: int = Field(
        default=40, ge=1, le=100, description="connections open at once (also sent to setWebhook)"
    )
    max_body: int = Field(default=1_048_576, ge=1024, description="bytes of one update at most")
    read_timeout: float = Field(
        default=10.0, gt=0, description="seconds a client has to send a whole request"
    )
    commit_timeout: float = Field(
        default=30.0, gt=0, description="seconds to wait for an update to be durable"
    )

    @field_validator("secret_token")
    @classmethod
    def _secret(cls, value: str) -> str:
        if not _SECRET_TOKEN.fullmatch(value):
            raise ValueError(
                "secret_token must be 16 to 256 characters of A-Z, a-z, 0-9, _ and - "
                "(what Telegram accepts)"
            )
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c in value for c in " ?#"):
            raise ValueError(f"path {value!r} must start with / and have no spaces, ? or #")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme != "https" or not parts.hostname:
                raise ValueError(f"url {value!r} must be an https:// URL (Telegram requires it)")
        return value

    @model_validator(mode="after")
    def _url_to_set(self) -> BotWebhookSettings:
        if self.set_webhook and self.url is None:
            raise ValueError("set_webhook needs `url`, the public URL Telegram posts to")
        return self

    def address(self) -> tuple[str, int]:
        host, sep, port = self.listen.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"listen {self.listen!r} must be HOST:PORT")
        return host.strip("[]") or "127.0.0.1", int(port)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        _host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"listen {value!r} must be HOST:PORT")
        return value


Mode = Literal["polling", "webhook"]
