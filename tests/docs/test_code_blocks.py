"""Every code block in README.md and docs/*.md runs, so the documentation cannot rot.

Rules (docs/README.md repeats them for writers):

- A block fenced ```` ```python ```` is executed. The blocks of one file run in
  order in one shared namespace, with the working directory a fresh temporary
  folder that is also on ``sys.path`` (a module written by one block imports
  in the next). Modules imported from that folder are forgotten after each
  block, so another file's ``my_port.py`` is never served from the cache.
- A block fenced ```` ```console ```` holds shell lines; each line starting with
  ``$ `` is one command (a trailing ``\\`` continues it on the next line), run
  by ``bash -c`` in that same folder with this interpreter's ``bin`` first on
  ``PATH``, stdin closed and a 120 s timeout. It must exit 0, or the status
  that a trailing ``# exit N`` comment states. Other lines are shown output,
  not checked. ``cd`` and ``export`` do not carry from one line to the next.
- Any other fence (```` ```text ````, ```` ```sh ```` for setup commands that CI runs
  itself, ...) is shown only and must name one of :data:`SHOWN_ONLY`.
- No indented (4-space) code blocks outside lists: they would show commands
  that nothing runs. Fence them instead.
- The pages stand alone: they never point to the maintainers' private notes
  (:data:`PRIVATE_REFERENCES`).

One test item per runnable block, with the id ``<file>:<n>`` where n counts
the file's fenced blocks from 1 (runnable or not), so ``docs/algorithm.md:2``
is the second fenced block of that page. An item replays the blocks before it
when its worker has not just run them (xdist may split a file across
workers), so any item also passes alone. A failure names the file and line.

The blocks seed every generator they use, so their statistical assertions
(the gate at its declared family-wise false-positive rate of 1e-3, a
uniformity test at level 1e-3) give the same verdict on every run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Fenced blocks of these languages run.
RUNNABLE = ("python", "console")
#: Fenced blocks of these languages are shown only (keep them rare).
SHOWN_ONLY = ("text", "sh", "json", "toml", "yaml", "diff")
COMMAND_TIMEOUT_S = 120
#: Set in the commands' environment so a documented ``pytest`` cannot recurse into these tests.
NESTED_ENV = "PCG_DOCS_BLOCKS_RUNNING"

#: Patterns that point outside the repository, to notes users do not have.
PRIVATE_REFERENCES = (r"\bSPEC\b", r"\.\./shared")

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
_EXIT = re.compile(r"#\s*exit\s+(?P<status>\d+)\s*$")
_LIST_ITEM = re.compile(r"^ {0,3}([-*+]|\d{1,9}[.)])( |$)")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language and its text (fence indentation removed)."""

    path: str  # relative to the repository root, e.g. "docs/algorithm.md"
    number: int  # 1-based among the file's fenced blocks
    line: int  # 1-based line of the first line of the body
    language: str
    body: str

    @property
    def id(self) -> str:
        return f"{self.path}:{self.number}"


def documentation_files() -> list[Path]:
    """README.md and every page under docs/, in a fixed order."""
    files = [REPO / "README.md"] if (REPO / "README.md").exists() else []
    return files + sorted((REPO / "docs").glob("*.md"))


def fenced_blocks(path: Path, root: Path = REPO) -> list[Block]:
    """The fenced blocks of a Markdown file (CommonMark fences: ``` or ~~~, closed by a longer-or-equal run)."""
    relative = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        language = opening["info"].split()[0].lower() if opening["info"].strip() else ""
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            text = lines[j]
            strip = min(indent, len(text) - len(text.lstrip(" ")))
            body.append(text[strip:])
            j += 1
        blocks.append(Block(relative, len(blocks) + 1, i + 2, language, "\n".join(body) + "\n"))
        i = j + 1  # an unclosed fence runs to the end of the file, as in CommonMark
    return blocks


def indented_code_lines(text: str) -> list[int]:
    """1-based lines that open an indented code block outside fences and lists (a heuristic:
    a line indented 4+ columns after a blank line, while no list item is open)."""
    found: list[int] = []
    in_fence, in_list, after_blank = "", False, True
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.expandtabs(4)
        fence = _FENCE.match(line)
        if in_fence:
            if fence and fence["fence"][0] == in_fence[0] and len(fence["fence"]) >= len(in_fence):
                in_fence = ""
            continue
        if fence:
            in_fence, after_blank = fence["fence"], False
            continue
        if not line.strip():
            after_blank = True
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent >= 4 and after_blank and not in_list:
            found.append(number)
        elif _LIST_ITEM.match(line):
            in_list = True
        elif indent == 0 and after_blank:
            in_list = False  # a paragraph, heading or table at column 0 closes any list
        after_blank = False
    return found


def console_commands(block: Block) -> list[tuple[int, str, int]]:
    """(line, command, expected exit status) for each ``$ `` line of a console block."""
    commands: list[tuple[int, str, int]] = []
    lines = block.body.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            i += 1
            continue
        line, command = block.line + i, lines[i][2:]
        while command.endswith("\\") and i + 1 < len(lines):
            i += 1
            command = command[:-1] + " " + lines[i].strip()
        status = _EXIT.search(command)
        commands.append((line, command, int(status["status"]) if status else 0))
        i += 1
    return commands


ALL_BLOCKS = {path: fenced_blocks(path) for path in documentation_files()}
RUNNABLE_BLOCKS = [b for blocks in ALL_BLOCKS.values() for b in blocks if b.language in RUNNABLE]


# ---------------------------------------------------------------------------- running
@dataclass
class _FileState:
    """What the blocks of one file share in this process: a folder, a namespace, progress."""

    folder: Path
    namespace: dict[str, Any] = field(default_factory=dict)
    done: int = 0  # number of the last block run; blocks run in order


_STATES: dict[str, _FileState] = {}


def _forget_modules_from(folder: Path) -> None:
    """Drop modules imported from ``folder`` so the next import re-reads the file."""
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if origin and Path(origin).resolve().is_relative_to(folder.resolve()):
            del sys.modules[name]


def _run_python(block: Block, state: _FileState, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.body.lstrip().startswith(">>>"):
        pytest.fail(f"{block.path}:{block.line}: write a python block as plain code, not a >>> session")
    # Leading newlines make tracebacks quote the Markdown file's own line numbers.
    code = compile("\n" * (block.line - 1) + block.body, str(REPO / block.path), "exec")
    with monkeypatch.context() as patch:
        patch.chdir(state.folder)
        patch.syspath_prepend(str(state.folder))
        try:
            exec(code, state.namespace)
        finally:
            _forget_modules_from(state.folder)


def _command_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env[NESTED_ENV] = "1"
    return env


def _run_console(block: Block, state: _FileState) -> None:
    commands = console_commands(block)
    if not commands:
        pytest.fail(f"{block.path}:{block.line}: a console block needs at least one '$ ' command line")
    for line, command, expected in commands:
        try:
            done = subprocess.run(
                ["bash", "-c", command], cwd=state.folder, env=_command_env(), stdin=subprocess.DEVNULL,
                capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{block.path}:{line}: `{command}` ran past {COMMAND_TIMEOUT_S} s")
        if done.returncode != expected:
            pytest.fail(
                f"{block.path}:{line}: `{command}` exited {done.returncode}, expected {expected}\n"
                f"--- stdout (tail)\n{done.stdout[-3000:]}\n--- stderr (tail)\n{done.stderr[-3000:]}"
            )


def _run(block: Block, state: _FileState, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.language == "python":
        _run_python(block, state, monkeypatch)
    else:
        _run_console(block, state)
    state.done = block.number


@pytest.mark.skipif(bool(os.environ.get(NESTED_ENV)), reason="run from inside a documented command")
@pytest.mark.parametrize("block", RUNNABLE_BLOCKS, ids=lambda b: b.id)
def test_code_block(
    block: Block, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _STATES.get(block.path)
    earlier = [b for b in RUNNABLE_BLOCKS if b.path == block.path and b.number < block.number]
    if state is None or state.done != (earlier[-1].number if earlier else 0):
        # Fresh folder and namespace, then replay the file's earlier blocks.
        state = _STATES[block.path] = _FileState(tmp_path_factory.mktemp(Path(block.path).stem, numbered=True))
        for previous in earlier:
            try:
                _run(previous, state, monkeypatch)
            except BaseException as error:
                if isinstance(error, KeyboardInterrupt):
                    raise
                _STATES.pop(block.path, None)
                pytest.fail(f"{previous.id} (an earlier block of this file) failed: {error!r}")
    try:
        _run(block, state, monkeypatch)
    except BaseException:
        _STATES.pop(block.path, None)  # the next block replays from a clean start
        raise


# ---------------------------------------------------------------------------- the rules themselves
@pytest.mark.parametrize("path", list(ALL_BLOCKS), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_fence_names_its_language(path: Path) -> None:
    unknown = [f"{b.id} (line {b.line - 1}): {b.language or 'no language'}"
               for b in ALL_BLOCKS[path] if b.language not in RUNNABLE + SHOWN_ONLY]
    assert not unknown, (f"fence each block as one of {RUNNABLE} (run) or {SHOWN_ONLY} (shown only): "
                         + "; ".join(unknown))


@pytest.mark.parametrize("path", list(ALL_BLOCKS), ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_indented_code_blocks(path: Path) -> None:
    lines = indented_code_lines(path.read_text(encoding="utf-8"))
    assert not lines, (f"{path.relative_to(REPO).as_posix()}: indented code block at line(s) {lines}; "
                       "fence it as ```python / ```console (run) or ```text / ```sh (shown only)")


@pytest.mark.parametrize("path", list(ALL_BLOCKS), ids=lambda p: p.relative_to(REPO).as_posix())
def test_pages_stand_alone(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [f"line {n}: {line.strip()!r}" for n, line in enumerate(text.splitlines(), start=1)
             if any(re.search(pattern, line) for pattern in PRIVATE_REFERENCES)]
    assert not found, (f"{path.relative_to(REPO).as_posix()} points to notes users do not have "
                       f"({'; '.join(found)}); say it here or link a page under docs/")


def test_parser_reads_fences_and_commands(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(textwrap.dedent("""\
        Text.

        ```python
        x = 1
        ```

          ~~~~console
          $ true
          $ echo a \\
            b   # exit 3
          output line
          ~~~~

        ````text
        ```python
        not a block
        ```
        ````
        """), encoding="utf-8")
    blocks = fenced_blocks(page, tmp_path)
    assert [(b.number, b.line, b.language) for b in blocks] == [(1, 4, "python"), (2, 8, "console"), (3, 15, "text")]
    assert blocks[0].body == "x = 1\n"
    assert blocks[2].body == "```python\nnot a block\n```\n"
    assert console_commands(blocks[1]) == [(8, "true", 0), (9, "echo a  b   # exit 3", 3)]


def test_indented_code_is_found_outside_lists_only() -> None:
    text = textwrap.dedent("""\
        Para.

            hidden command

        - item

            item's second paragraph, indented in the list

        Para again.

            hidden again
        ```text
            inside a fence
        ```
        """)
    assert indented_code_lines(text) == [3, 11]
