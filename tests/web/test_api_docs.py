"""/docs renders Swagger UI from the service's own files: no request leaves for a CDN."""

from __future__ import annotations

from tests.web.conftest import REPO_SCREENSHOTS


def test_api_docs_render_offline_from_local_assets(service, new_page):
    page = new_page(1280, 900)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto("/docs")
    page.wait_for_selector(".opblock-summary-path")  # Swagger UI ran and read /openapi.json
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/intake/violations" in paths and len(paths) >= 20
    assert requests and all(url.startswith(service.url) for url in requests), [
        u for u in requests if not u.startswith(service.url)
    ]
    page.screenshot(path=str(REPO_SCREENSHOTS / "api-docs.png"))
