"""Stage 2 (apps): an API key -> the app it belongs to, from an in-process snapshot.

Every app is loaded once per metadata version (apps are few); a request never queries the
metadata DB, and an unknown key costs one dict lookup by its prefix and an HMAC.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from apikeys.keys import PREFIX_LENGTH, matches
from apikeys.models import App


@dataclass(frozen=True, slots=True)
class AppSnapshot:
    id: int
    name: str
    is_active: bool
    role_id: int | None
    digest: str


class _Apps:
    MAX_VERIFIED = 10_000

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_prefix: dict[str, tuple[AppSnapshot, ...]] | None = None
        # keys already matched to an app (like verified session tokens): no HMAC next time
        self.verified: dict[str, AppSnapshot] = {}

    def load(self) -> dict[str, tuple[AppSnapshot, ...]]:
        loaded = self.by_prefix
        if loaded is not None:
            return loaded
        with self.lock:
            if self.by_prefix is None:
                grouped: dict[str, list[AppSnapshot]] = {}
                for row in App.objects.values(
                    "id", "name", "is_active", "role_id", "api_key_prefix", "api_key_digest"
                ):
                    grouped.setdefault(row["api_key_prefix"], []).append(
                        AppSnapshot(
                            row["id"],
                            row["name"],
                            row["is_active"],
                            row["role_id"],
                            row["api_key_digest"],
                        )
                    )
                self.by_prefix = {p: tuple(apps) for p, apps in grouped.items()}
            return self.by_prefix

    def clear(self) -> None:
        with self.lock:
            self.by_prefix = None
            self.verified = {}


_apps = _Apps()


def clear_cache() -> None:
    _apps.clear()


def resolve(api_key: str | None) -> AppSnapshot | None:
    """The active app a key belongs to; None for an unknown key or an inactive app."""
    if not api_key or len(api_key) > 256:
        return None
    known = _apps.verified.get(api_key)
    if known is None:
        for app in _apps.load().get(api_key[:PREFIX_LENGTH], ()):
            if matches(api_key, app.digest):
                known = app
                with _apps.lock:
                    if len(_apps.verified) >= _apps.MAX_VERIFIED:
                        _apps.verified = {}
                    _apps.verified[api_key] = app
                break
    return known if known is not None and known.is_active else None


def by_id(app_id: int | None) -> AppSnapshot | None:
    """The active app with this id (a sign-in that left for a provider and came back carries
    the id it began with, not the key)."""
    if app_id is None:
        return None
    for apps in _apps.load().values():
        for app in apps:
            if app.id == app_id:
                return app if app.is_active else None
    return None
