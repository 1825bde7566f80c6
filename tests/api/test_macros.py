"""The shared Jinja macros in api/templates/_macros.html, rendered by the service's template environment."""

from __future__ import annotations

from api.routes.web import templates


def _pager(page: int, pages: int) -> str:
    macros = templates.env.get_template("_macros.html").module
    return str(macros.pager(page, pages, lambda n: f"/queue?type=a&page={n}", "← Previous", "Next →"))


def test_pager_is_empty_for_a_single_page():
    assert _pager(1, 1) == ""


def test_pager_links_only_to_pages_that_exist():
    first, middle, last = _pager(1, 3), _pager(2, 3), _pager(3, 3)
    assert "Page 2 of 3" in middle
    assert middle.count("<a ") == 2
    assert '<a href="/queue?type=a&amp;page=1">← Previous</a>' in middle
    assert '<a href="/queue?type=a&amp;page=3">Next →</a>' in middle
    assert first.count("<a ") == 1 and "Next →" in first and "Previous" not in first
    assert last.count("<a ") == 1 and "← Previous" in last and "Next" not in last
