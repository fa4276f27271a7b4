"""The README's walkthrough as steps a test can run: the ```` ```sh walkthrough ```` blocks, in
order, each split into shell commands with the answers the README promises for them.

The convention (README.md authors, read this):

- A fenced block whose info string is ``sh walkthrough`` is run, in document order, by one bash
  (variables carry over from block to block), against a fresh ``make run`` demo server whose
  URL replaces ``http://127.0.0.1:8000``. Blocks that must not run stay plain ``sh``.
- A *step* is one shell command: a line, with its ``\\`` continuations, open quotes and open
  ``$(...)``. Comment lines and trailing comments are prose, except expectations.
- An *expectation* is a comment ``# -> ...``, trailing the step's last line or on lines of its
  own right after it. It is about the answer of the step's last ``curl``:
  ``# -> 201`` (the status), ``# -> {"id": 1}`` (the JSON body), ``# -> 400 {"error": ...}``
  (both), ``# -> X-Cache: HIT`` (a header). Words after the JSON (or after a status alone) are
  prose. JSON is matched loosely: an object needs the keys shown (others may be there), a list
  needs exactly the items shown unless its last item is ``"..."``, a string ``"..."`` matches any
  value and ``...`` inside a string any text (``"eyJ..."``: a string starting ``eyJ``). A
  header's value matches as such a string does (``ETag: "..."``).
- Every ``curl`` answer of a step must be 2xx (or 304) unless its expectation gives the status,
  and every step must exit 0.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

README_HOST = "http://127.0.0.1:8000"
FENCE = re.compile(r"^```(.*)$")
STATUS = re.compile(r"^([1-5]\d\d)(?=[\s:,;]|$)[\s:,;]*")
HEADER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$")
ANY = "..."


@dataclass(frozen=True)
class Expect:
    """One ``# -> ...`` comment: a status, a JSON body and/or one header."""

    line: int
    status: int | None = None
    body: Any = None
    has_body: bool = False
    header: tuple[str, str] | None = None


@dataclass
class Step:
    """One shell command of a walkthrough block, with where it stands in the README."""

    section: str
    line: int
    text: str
    expects: list[Expect] = field(default_factory=list)

    @property
    def where(self) -> str:
        first = self.text.strip().splitlines()[0]
        return f'README.md line {self.line} ("{self.section}"): {first[:90]}'


class ReadmeSyntaxError(ValueError):
    """A walkthrough block the parser cannot split or an expectation it cannot read."""


def parse_expect(text: str, line: int) -> Expect:
    """``200 {"id": 1}``, ``{"id": 1}``, ``X-Cache: HIT``, ``401 prose``."""
    rest = text.strip()
    status = None
    if match := STATUS.match(rest):
        status, rest = int(match.group(1)), rest[match.end() :]
    if rest[:1] in ("{", "[", '"') or re.match(r"^-?\d", rest) or rest in ("true", "false"):
        try:
            body, _end = json.JSONDecoder().raw_decode(rest)
        except json.JSONDecodeError as exc:
            raise ReadmeSyntaxError(f"README.md line {line}: bad JSON in `# ->`: {exc}") from None
        return Expect(line, status, body, True)
    if status is None and (header := HEADER.match(rest)):
        return Expect(line, header=(header.group(1).lower(), header.group(2).strip()))
    if status is None:
        raise ReadmeSyntaxError(f"README.md line {line}: `# -> {text}` says nothing checkable")
    return Expect(line, status)


class _Scanner:
    """Tracks shell quoting across lines: is a command complete, where does a comment start."""

    def __init__(self) -> None:
        self.quote = ""
        self.depth = 0

    def feed(self, line: str) -> tuple[str, str | None, bool]:
        """(the code part, the comment or None, whether the command goes on)."""
        i, n = 0, len(line)
        while i < n:
            char = line[i]
            if self.quote == "'":
                if char == "'":
                    self.quote = ""
            elif self.quote == '"':
                if char == "\\":
                    i += 1
                elif char == '"':
                    self.quote = ""
            elif char == "\\":
                if i == n - 1:
                    return line[:i], None, True
                i += 1
            elif char in "'\"":
                self.quote = char
            elif char == "$" and line[i + 1 : i + 2] == "(":
                self.depth += 1
                i += 1
            elif char == ")" and self.depth:
                self.depth -= 1
            elif char == "#" and (i == 0 or line[i - 1].isspace()):
                return line[:i], line[i + 1 :], bool(self.depth)
            i += 1
        return line, None, bool(self.quote or self.depth)


def _complete(text: str) -> bool:
    """Whether an expectation's JSON is closed (else it goes on in the next comment line)."""
    depth = 0
    quoted = escaped = False
    for char in text:
        if quoted:
            escaped, quoted = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            quoted = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return depth <= 0


def _finish(step: Step | None, unfinished: tuple[int, str] | None) -> None:
    if step is not None and unfinished is not None:
        step.expects.append(parse_expect(unfinished[1], unfinished[0]))


def walkthrough_steps(readme: str) -> list[Step]:
    """Every step of the README's ``sh walkthrough`` blocks, in order."""
    steps: list[Step] = []
    section = ""
    in_block = run = pending = False
    current: Step | None = None
    unfinished: tuple[int, str] | None = None  # a `# ->` whose JSON goes on in the next comment
    scanner = _Scanner()
    for number, line in enumerate(readme.splitlines(), start=1):
        fence = FENCE.match(line)
        if not in_block:
            if line.startswith("#"):
                section = line.lstrip("#").strip()
            if fence:
                in_block, run = True, fence.group(1).split() == ["sh", "walkthrough"]
                current, pending, scanner = None, False, _Scanner()
            continue
        if fence:
            _finish(current, unfinished)
            unfinished = None
            if pending and current is not None:
                raise ReadmeSyntaxError(f"{current.where}: the block ends inside the command")
            in_block = False
            continue
        if not run:
            continue
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            note = stripped[1:].strip()
            if unfinished is not None and stripped.startswith("#") and not note.startswith("->"):
                unfinished = (unfinished[0], f"{unfinished[1]} {note}")  # the JSON goes on
            elif note.startswith("->"):
                if current is None:
                    raise ReadmeSyntaxError(f"README.md line {number}: `# ->` before any command")
                _finish(current, unfinished)
                unfinished = (number, note[2:])
            if unfinished is not None and _complete(unfinished[1]):
                _finish(current, unfinished)
                unfinished = None
            continue
        _finish(current, unfinished)
        unfinished = None
        if not pending:
            current = Step(section, number, "")
            steps.append(current)
        assert current is not None
        code, comment, pending = scanner.feed(line)
        keep = line if comment is None else code.rstrip()
        current.text += keep + "\n"
        if comment is not None and comment.strip().startswith("->"):
            current.expects.append(parse_expect(comment.strip()[2:], number))
    return steps


CURL_WRAPPER = r"""
__answers=%(answers)s
mkdir -p "$__answers"
curl() {  # the real curl, with a time limit; headers and body also kept for the checks
    local file
    file=$(mktemp "$__answers/$__step.XXXXXX")
    echo "$file" >>"$__answers/$__step.calls"
    command curl -D "$file.head" --max-time %(max_time)d "$@" | tee "$file.body"
    return "${PIPESTATUS[0]}"
}
"""


def bash_script(steps: list[Step], base_url: str, answers: Path, max_time: int = 20) -> str:
    """One bash script running every step in order in the same shell, the README's host
    replaced by `base_url`; each step's output, exit code and curl answers go to `answers`."""
    parts = [CURL_WRAPPER % {"answers": shlex.quote(str(answers)), "max_time": max_time}]
    for index, step in enumerate(steps):
        text = step.text.replace(README_HOST, base_url)
        parts.append(
            f"__step={index}\n{{\n{text}\n}} >{shlex.quote(str(answers / f'{index}.out'))} 2>&1\n"
            f"echo $? >{shlex.quote(str(answers / f'{index}.rc'))}\n"
        )
    return "\n".join(parts)


@dataclass(frozen=True)
class Answer:
    """One curl call's answer: status, headers (lower-case names), body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes


def read_answer(file: str) -> Answer | None:
    """The answer curl stored under `file` (None when none came: refused, timed out)."""
    head = Path(file + ".head")
    if not head.exists() or not head.read_bytes().strip():
        return None
    status, headers = 0, dict[str, str]()
    for raw in head.read_text("latin-1").splitlines():
        if raw.startswith("HTTP/"):
            status, headers = int(raw.split()[1]), {}
        elif ":" in raw:
            name, value = raw.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = Path(file + ".body").read_bytes() if Path(file + ".body").exists() else b""
    while body.startswith(b"HTTP/") and b"\r\n\r\n" in body:  # curl -i: headers in the output
        body = body.split(b"\r\n\r\n", 1)[1]
    return Answer(status, headers, body)


def step_answers(answers: Path, index: int) -> list[Answer | None]:
    calls = answers / f"{index}.calls"
    if not calls.exists():
        return []
    return [read_answer(name) for name in calls.read_text().split()]


def mismatch(expected: Any, actual: Any, path: str = "") -> str | None:
    """Where `actual` differs from the README's `expected` (see the module's convention)."""
    where = path or "the answer"
    if expected == ANY:
        return None
    if isinstance(expected, str) and ANY in expected:
        pattern = ".*".join(re.escape(part) for part in expected.split(ANY))
        if isinstance(actual, str) and re.fullmatch(pattern, actual, re.DOTALL):
            return None
        return f"{where}: expected {expected!r} (... is anything), got {actual!r}"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {json.dumps(actual)[:200]}"
        for key, value in expected.items():
            if key not in actual:
                return f"{where}: no {key!r} in {json.dumps(actual)[:300]}"
            if problem := mismatch(value, actual[key], f"{path}.{key}" if path else key):
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected a list, got {json.dumps(actual)[:200]}"
        open_ended = bool(expected) and expected[-1] == ANY
        items = expected[:-1] if open_ended else expected
        if len(actual) < len(items) or (not open_ended and len(actual) != len(items)):
            return f"{where}: expected {len(items)} items, got {len(actual)}: {actual!r:.300}"
        for i, value in enumerate(items):
            if problem := mismatch(value, actual[i], f"{path}[{i}]"):
                return problem
        return None
    if isinstance(expected, bool) or isinstance(actual, bool):
        same = expected is actual
    elif isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        same = expected == actual
    else:
        same = expected == actual
    return None if same else f"{where}: expected {expected!r}, got {actual!r}"


def check_step(step: Step, answers: Path, index: int) -> list[str]:
    """What in this step's answers differs from what the README says (empty: all good)."""
    problems: list[str] = []
    got = step_answers(answers, index)
    rc_file = answers / f"{index}.rc"
    if not rc_file.exists():
        return ["never ran (the script stopped before it)"]
    if any(answer is None for answer in got):
        problems.append("a curl got no answer (refused, or over the time limit)")
    last = got[-1] if got else None
    stated = [e.status for e in step.expects if e.status is not None]
    for answer in got:
        if answer is None:
            continue
        wanted = stated if answer is last and stated else None
        if wanted and answer.status not in wanted:
            problems.append(f"status {answer.status}, the README says {wanted[0]}")
        elif not wanted and not (200 <= answer.status < 300 or answer.status == 304):
            problems.append(f"status {answer.status} where the README expects success")
    if step.expects and last is None:
        problems.append("no curl answer to check the `# ->` lines against")
    for expect in step.expects if last is not None else []:
        assert last is not None
        if expect.has_body:
            try:
                body = json.loads(last.body)
            except ValueError:
                problems.append(f"line {expect.line}: not JSON: {last.body[:200]!r}")
                continue
            if problem := mismatch(expect.body, body):
                problems.append(f"line {expect.line}: {problem}")
        if expect.header is not None:
            name, value = expect.header
            if name not in last.headers:
                problems.append(f"line {expect.line}: no {name} header in {sorted(last.headers)}")
            elif problem := mismatch(value, last.headers[name], name):
                problems.append(f"line {expect.line}: {problem}")
    code = rc_file.read_text().strip()
    if code != "0":
        problems.append(f"the command exited with {code}")
    if problems:
        out = (answers / f"{index}.out").read_text(errors="replace").strip()
        bodies = [a.body[:400].decode(errors="replace") for a in got if a is not None]
        problems.append(f"output: {out[:600]!r}; answers: {bodies!r:.800}")
    return problems
