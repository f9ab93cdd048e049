"""Reads forge/manifest.yml without a YAML library: a parser for the block subset it uses
(mappings, sequences, `- key: value` items, plain and quoted scalars, `true`/`false`,
comments). Anything outside that subset is an error, not a guess."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORGE = REPO / "forge"
MANIFEST = FORGE / "manifest.yml"

_PAIR = re.compile(r"^(?P<key>[^\s\"'#-][^\"']*?|\"[^\"]*\"|'[^']*'):(?: +(?P<value>.*))?$")


def _scalar(text: str):
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text[:1] in "[{&*!|>\"'`@%":
        raise ValueError(f"not in the YAML subset: {text!r}")
    return {"true": True, "false": False}.get(text, text)


def _lines(text: str) -> list[list]:
    lines = []
    for raw in text.splitlines():
        if "\t" in raw:
            raise ValueError(f"a tab: {raw!r}")
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if line.strip():
            lines.append([len(line) - len(line.lstrip(" ")), line.strip()])
    return lines


def _block(lines: list[list], i: int, indent: int):
    if lines[i][1] == "-" or lines[i][1].startswith("- "):
        items = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1][:2] in ("-", "- "):
            rest = lines[i][1][1:].strip()
            if not rest:
                value, i = _block(lines, i + 1, lines[i + 1][0])
            elif _PAIR.match(rest):
                lines[i] = [indent + 2, rest]  # the item's first key, as if on its own line
                value, i = _block(lines, i, indent + 2)
            else:
                value, i = _scalar(rest), i + 1
            items.append(value)
        return items, i
    mapping = {}
    while i < len(lines) and lines[i][0] == indent:
        match = _PAIR.match(lines[i][1])
        if not match:
            raise ValueError(f"not a `key: value` line: {lines[i][1]!r}")
        key = _scalar(match["key"])
        if key in mapping:
            raise ValueError(f"a repeated key: {key!r}")
        if match["value"]:
            mapping[key], i = _scalar(match["value"]), i + 1
        elif i + 1 < len(lines) and (
            lines[i + 1][0] > indent
            or (lines[i + 1][0] == indent and lines[i + 1][1][:2] in ("-", "- "))
        ):
            mapping[key], i = _block(lines, i + 1, lines[i + 1][0])
        else:
            mapping[key], i = None, i + 1
    return mapping, i


def parse(text: str):
    """The data of a YAML document written in the subset above."""
    lines = _lines(text)
    value, end = _block(lines, 0, lines[0][0])
    if end != len(lines):
        raise ValueError(f"unexpected indentation at {lines[end][1]!r}")
    return value


def load() -> dict:
    """forge/manifest.yml as data (not interpolated)."""
    return parse(MANIFEST.read_text(encoding="utf-8"))
