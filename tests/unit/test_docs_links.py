"""Relative links in README.md and docs/: every file and heading they name exists.

A newcomer follows the README's links into docs/; a renamed doc or heading must fail
here, not on a reader. Links to other sites (``https:``, ``mailto:``) are not checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def documents(root: Path) -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def _prose(text: str) -> str:
    """The text without fenced code blocks and code spans (no links inside those)."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"`|\*\*|__", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, with GitHub's -1, -2 for repeats."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(document: Path, root: Path) -> list[str]:
    """The relative links of one document whose file or heading does not exist."""
    broken = []
    for target in _LINK.findall(_prose(document.read_text())):
        if _SCHEME.match(target):
            continue
        path, _, fragment = target.partition("#")
        dest = (document.parent / path).resolve() if path else document
        if not dest.is_relative_to(root.resolve()):
            broken.append(f"{target} (outside the repository)")
        elif not dest.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target} (no such heading)")
    return broken


@pytest.mark.parametrize("document", documents(ROOT), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    assert broken_links(document, ROOT) == []


def test_a_missing_file_a_missing_heading_and_an_escape_are_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A title\n\n## Measured (session 3)\n")
    (tmp_path / "README.md").write_text(
        "[ok](docs/a.md) [ok](docs/a.md#measured-session-3) [ok](#top-level)\n"
        "[gone](docs/b.md) [bad](docs/a.md#measured) [out](../elsewhere.md)\n"
        "[web](https://example.com/x.md) `[code](docs/c.md)`\n\n# Top level\n"
        "```\n[fenced](docs/d.md)\n```\n"
    )
    assert broken_links(tmp_path / "README.md", tmp_path) == [
        "docs/b.md (no such file)",
        "docs/a.md#measured (no such heading)",
        "../elsewhere.md (outside the repository)",
    ]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        (
            "Measured (this project's 2-core, 24 GiB machine)",
            "measured-this-projects-2-core-24-gib-machine",
        ),
        ("Client library (`statecast.client`)", "client-library-statecastclient"),
        (
            "Measured: `make e2e-faults`, three runs in a row",
            "measured-make-e2e-faults-three-runs-in-a-row",
        ),
    ],
)
def test_anchors_are_githubs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor
