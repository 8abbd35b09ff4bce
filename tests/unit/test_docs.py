"""The README stays a page a person reads, and every page under docs/ can be found."""

from __future__ import annotations

import re

from tests.support.services import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"
README_MAX_BYTES = 15_000


def test_the_readme_stays_short() -> None:
    assert README.stat().st_size < README_MAX_BYTES


def test_the_quick_start_works_in_a_new_terminal() -> None:
    """The demo block loads the local stack's addresses itself before the first command."""
    blocks = re.findall(r"```\n(.*?)```", README.read_text(), re.S)
    demo = next(block for block in blocks if "utxoiq publish" in block)
    lines = [line for line in demo.splitlines() if line.strip()]
    assert lines[0].startswith("set -a; . .stack/env; set +a")


def test_the_docs_index_links_every_page() -> None:
    index = (DOCS / "README.md").read_text()
    linked = set(re.findall(r"\]\(([a-z-]+\.md)\)", index))
    assert {page.name for page in DOCS.glob("*.md")} - {"README.md"} <= linked
    readme = README.read_text()
    assert "docs/README.md" in readme
