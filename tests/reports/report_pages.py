"""Helpers of the reports tier: write a gate report, and parse a page into a tree (html.parser only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pcg_verify import run_gate
from pcg_verify.reliability import gate_results, write_report

PLANTED = "pcg_verify.bugs:mutants.dense_shared_uniform"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    """One element of a parsed page: tag, attributes, children and its own text."""

    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        """Descendants with ``tag`` whose attributes contain ``attrs`` (``class_`` matches one class)."""
        wanted = {k.rstrip("_"): v for k, v in attrs.items()}
        out = []
        for node in self.iter():
            if tag is not None and node.tag != tag:
                continue
            ok = True
            for key, value in wanted.items():
                have = node.attrs.get(key)
                if have is None or (value != have and not (key == "class" and value in have.split())):
                    ok = False
            if ok:
                out.append(node)
        return out

    def all_text(self) -> str:
        return "".join(self.text) + "".join(child.all_text() for child in self.children)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return
        raise AssertionError(f"closing tag </{tag}> without an open <{tag}>")

    def handle_data(self, data: str) -> None:
        self.stack[-1].text.append(data)


def parse_html(text: str) -> Node:
    """The page as a tree; raises when a closing tag has no opening one (a malformed page)."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


@dataclass(frozen=True)
class Written:
    """A written report: its directory, results and page text."""

    directory: Path
    results: dict[str, Any]
    html: str

    @property
    def run(self) -> dict[str, Any]:
        run: dict[str, Any] = self.results["runs"][0]
        return run


def write_gate_report(directory: Path, port: str, budget: str = "quick", **kwargs: Any) -> Written:
    """Run the gate on ``port`` in-process and write its report into ``directory``."""
    report = run_gate(port, budget=budget, seed=0, **kwargs)
    results = gate_results(report, command=f"pcg-verify check {port} --budget {budget} --seed 0")
    page = write_report(directory, results)
    return Written(directory, json.loads((directory / "results.json").read_text(encoding="utf-8")),
                   page.read_text(encoding="utf-8"))
