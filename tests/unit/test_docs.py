"""The README stays a page a person reads, and every page under docs/ can be found."""

from __future__ import annotations

import re

from tests.support.services import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"
README_MAX_BYTES = 15_000


def test_the_readme_stays_short() -> None:
    assert README.stat().st_size < README_MAX_BYTES


def test_the_docs_index_links_every_page() -> None:
    index = (DOCS / "README.md").read_text()
    linked = set(re.findall(r"\]\(([a-z-]+\.md)\)", index))
    assert {page.name for page in DOCS.glob("*.md")} - {"README.md"} <= linked
    readme = README.read_text()
    assert "docs/README.md" in readme
