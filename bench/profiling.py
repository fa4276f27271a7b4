"""Where the time goes: sample the gateway under load with py-spy and summarise by layer.

Optional (`python bench/run.py --profile DIR`, needs `pip install py-spy`). Samples are taken
with `--gil`, so they count Python CPU (a thread waiting on a socket or on PostgreSQL has
released the GIL and is not sampled), aggregated by function (`--function`), across every
worker (`--subprocesses`). The raw collapsed stacks are kept in DIR (open them in
https://www.speedscope.app or flamegraph.pl); the summary gives:

- the share of samples per layer: the app server (gunicorn/granian), Django, the gateway's own
  code (gateway/, services/, rbac/, apikeys/), psycopg, DRF; standard-library frames count for
  the layer that called them
- the top functions by self samples, and the gateway's own functions by inclusive samples
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

LAYERS = {
    "gunicorn": "app server",
    "granian": "app server",
    "django": "Django",
    "asgiref": "Django",
    "rest_framework": "DRF",
    "gateway": "gateway code",
    "services": "gateway code",
    "rbac": "gateway code",
    "apikeys": "gateway code",
    "psycopg": "psycopg",
    "psycopg_pool": "psycopg",
    "jwt": "PyJWT",
}
OWN_LAYER = "gateway code"


def py_spy() -> str | None:
    """The py-spy executable (next to this interpreter, or on PATH)."""
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start_recording(pid: int, seconds: float, output: Path, rate: int = 100) -> subprocess.Popen:
    """Start sampling process `pid` and its children for `seconds`; wait on the result."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    argv = [exe, "record", "--pid", str(pid), "--subprocesses", "--gil", "--function"]
    argv += ["--rate", str(rate), "--duration", str(max(1, int(seconds)))]
    argv += ["--format", "raw", "--output", str(output)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _module(frame: str) -> str:
    """'handle (gateway/pipeline.py:47)' -> 'gateway'."""
    location = frame.rsplit(" (", 1)[-1].rstrip(")")
    path = location.rsplit(":", 1)[0]
    return path.split("/", 1)[0].removesuffix(".py")


def _layer(frames: list[str]) -> str:
    for frame in reversed(frames):
        layer = LAYERS.get(_module(frame))
        if layer is not None:
            return layer
    return "other"


@dataclass
class Profile:
    samples: int = 0
    layers: Counter[str] = field(default_factory=Counter)
    self_time: Counter[str] = field(default_factory=Counter)
    own_inclusive: Counter[str] = field(default_factory=Counter)

    def share(self, n: int) -> str:
        return f"{n / self.samples:.1%}" if self.samples else "-"


def summarize(raw: Path) -> Profile:
    """Read py-spy's raw output (one 'frame;frame;... count' line per distinct stack)."""
    profile = Profile()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        profile.samples += n
        profile.layers[_layer(frames)] += n
        profile.self_time[frames[-1]] += n
        for frame in set(frames):
            if LAYERS.get(_module(frame)) == OWN_LAYER:
                profile.own_inclusive[frame] += n
    return profile


def markdown(title: str, profile: Profile, top: int = 12) -> str:
    layers = ", ".join(f"{name} {profile.share(n)}" for name, n in profile.layers.most_common())
    lines = [f"#### {title}", "", f"{profile.samples} GIL samples. By layer: {layers}.", ""]
    lines += ["Top self (function, share of samples):", ""]
    lines += [f"- {profile.share(n)} `{f}`" for f, n in profile.self_time.most_common(top)]
    lines += ["", "Gateway code, inclusive:", ""]
    lines += [f"- {profile.share(n)} `{f}`" for f, n in profile.own_inclusive.most_common(top)]
    return "\n".join([*lines, ""])
