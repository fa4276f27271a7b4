"""Every environment variable gateway/settings.py reads is documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_read_from_the_environment_is_in_the_readme() -> None:
    source = (ROOT / "gateway" / "settings.py").read_text()
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', source))
    names |= set(re.findall(r'"([A-Z][A-Z0-9_]+)" (?:not )?in env', source))
    assert len(names) > 20  # the pattern still finds the reads
    readme = (ROOT / "README.md").read_text()
    missing = sorted(n for n in names if f"`{n}`" not in readme)
    assert not missing, f"settings without a README entry: {missing}"
