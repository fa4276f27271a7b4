"""The verb bit mask of access rules (spec §8.1): GET=1, POST=2, PUT=4, PATCH=8, DELETE=16."""

from __future__ import annotations

from collections.abc import Iterable

GET, POST, PUT, PATCH, DELETE = 1, 2, 4, 8, 16
ALL_VERBS = GET | POST | PUT | PATCH | DELETE
VERB_BITS = {"GET": GET, "POST": POST, "PUT": PUT, "PATCH": PATCH, "DELETE": DELETE}
WRITE_VERBS = POST | PUT | PATCH | DELETE


def verb_names(mask: int) -> list[str]:
    """The verbs a mask allows, in the spec's order (`access` in list answers)."""
    return [name for name, bit in VERB_BITS.items() if mask & bit]


def mask_of(names: Iterable[str]) -> int:
    """The mask for verb names; an unknown name is a ValueError naming it."""
    mask = 0
    for name in names:
        bit = VERB_BITS.get(str(name).upper())
        if bit is None:
            raise ValueError(f"Unknown verb '{name}'; use GET, POST, PUT, PATCH or DELETE.")
        mask |= bit
    return mask
