"""Every lookup as an in-process snapshot, read once and dropped when the metadata version
moves (lookups/signals.py), so substituting `{name}` never queries the metadata DB."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lookups.models import Lookup

Values = dict[str, tuple[str, bool]]  # name -> (value, private)


@dataclass(frozen=True, slots=True)
class LookupSnapshot:
    system: Values = field(default_factory=dict)
    by_app: dict[int, Values] = field(default_factory=dict)
    by_role: dict[int, Values] = field(default_factory=dict)
    by_user: dict[int, Values] = field(default_factory=dict)

    def values_for(
        self,
        app_id: int | None = None,
        role_id: int | None = None,
        user_id: int | None = None,
        *,
        private: bool = False,
    ) -> dict[str, str]:
        """The lookups one caller sees: system-wide, overridden by the app's, then the role's,
        then the user's (spec §7.6); private ones only when `private` (service config)."""
        merged: dict[str, str] = {}
        for level in (
            self.system,
            self.by_app.get(app_id or 0, {}),
            self.by_role.get(role_id or 0, {}),
            self.by_user.get(user_id or 0, {}),
        ):
            for name, (value, is_private) in level.items():
                if private or not is_private:
                    merged[name] = value
        return merged


def load() -> LookupSnapshot:
    """Read every lookup (one query)."""
    snap = LookupSnapshot()
    rows = Lookup.objects.order_by("id").values(
        "name", "value", "private", "app_id", "role_id", "user_id"
    )
    for row in rows:
        entry = (row["value"], row["private"])
        if row["app_id"] is not None:
            snap.by_app.setdefault(row["app_id"], {})[row["name"]] = entry
        elif row["role_id"] is not None:
            snap.by_role.setdefault(row["role_id"], {})[row["name"]] = entry
        elif row["user_id"] is not None:
            snap.by_user.setdefault(row["user_id"], {})[row["name"]] = entry
        else:
            snap.system[row["name"]] = entry
    return snap


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.snapshot: LookupSnapshot | None = None

    def get(self) -> LookupSnapshot:
        loaded = self.snapshot
        if loaded is not None:
            return loaded
        with self.lock:
            if self.snapshot is None:
                self.snapshot = load()
            return self.snapshot

    def clear(self) -> None:
        with self.lock:
            self.snapshot = None


_cache = _Cache()


def current() -> LookupSnapshot:
    return _cache.get()


def clear_cache() -> None:
    _cache.clear()


def values_for(
    app_id: int | None, role_id: int | None, user_id: int | None, *, private: bool = False
) -> dict[str, str]:
    """The merged lookups of a caller, from this process's snapshot."""
    return _cache.get().values_for(app_id, role_id, user_id, private=private)


class CallerValues(Mapping[str, Any]):
    """A caller's lookup values: the built-in ones (`user.id`, ...) first, then the admin's
    lookups, read from the snapshot only when a token names one (names without a dot)."""

    __slots__ = ("_admin", "_builtins", "_ids")

    def __init__(
        self,
        builtins: Mapping[str, Any],
        app_id: int | None,
        role_id: int | None,
        user_id: int | None,
    ) -> None:
        self._builtins = builtins
        self._ids = (app_id, role_id, user_id)
        self._admin: dict[str, str] | None = None

    def admin(self) -> dict[str, str]:
        if self._admin is None:
            self._admin = values_for(*self._ids)
        return self._admin

    def __getitem__(self, name: str) -> Any:
        if name in self._builtins:
            return self._builtins[name]
        if "." in name:
            raise KeyError(name)
        return self.admin()[name]

    def __contains__(self, name: object) -> bool:
        if name in self._builtins:
            return True
        return isinstance(name, str) and "." not in name and name in self.admin()

    def __iter__(self) -> Iterator[str]:
        yield from self._builtins
        yield from (name for name in self.admin() if name not in self._builtins)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return True  # without reading the admin's lookups (`values or {}` stays lazy)
