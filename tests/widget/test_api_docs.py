"""``GET /docs/api``: the API reference page (Swagger UI from the swagger-ui-bundle package)
loads every file from the server itself, under a CSP that allows only this origin, and
renders the OpenAPI document in a real Chromium."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from playwright.async_api import BrowserContext, ConsoleMessage

from tests.support.http import http_client
from tests.support.server import ServerProcess


async def test_every_file_the_page_names_comes_from_the_server(
    widget_server: ServerProcess,
) -> None:
    async with http_client(base_url=widget_server.url) as http:
        page = await http.get("/docs/api")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert len(urls) >= 4, urls
        for url in urls:
            absolute = urljoin(widget_server.url + "/docs/api", url)
            assert urlsplit(absolute).netloc == urlsplit(widget_server.url).netloc, url
            got = await http.get(absolute)
            assert got.status_code == 200 and got.content, url
        bundle = await http.get("/docs/api/assets/swagger-ui-bundle.js",
                                headers={"Accept-Encoding": "gzip"})
        assert bundle.headers["content-encoding"] == "gzip" and b"SwaggerUIBundle" in bundle.content
        init = await http.get("/docs/api/init.js")
        assert "/api/v1/openapi.json" in init.text and "validatorUrl: null" in init.text
        # Only the page's files: not the rest of the package (its index.html names a
        # public demo document), nor a path outside it.
        for name in ("index.html", "swagger-initializer.js", "..%2F__init__.py",
                     "swagger-ui-bundle.js.map"):
            assert (await http.get(f"/docs/api/assets/{name}")).status_code == 404, name


async def test_the_page_renders_the_api_in_chromium_from_this_origin_only(
    widget_server: ServerProcess, context: BrowserContext,
) -> None:
    page = await context.new_page()
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))

    async with page.expect_response(lambda r: r.url.endswith("/api/v1/openapi.json")) as doc:
        await page.goto(widget_server.url + "/docs/api")
    assert (await doc.value).status == 200
    await page.locator(".swagger-ui .info .title").filter(has_text="Steadydesk API").wait_for(
        timeout=30_000)
    # An operation of the document is listed (the login route, with its body).
    login = page.locator('.opblock-post:has([data-path="/api/v1/auth/login"])')
    await login.wait_for(timeout=10_000)
    await login.locator(".opblock-summary").click()
    await login.locator(".opblock-section-request-body").wait_for(timeout=10_000)
    assert "password" in await login.inner_text()

    origin = urlsplit(widget_server.url).netloc
    foreign = [u for u in requested if not u.startswith("data:") and urlsplit(u).netloc != origin]
    assert not foreign, f"the page reached outside the server: {foreign}"
    assert not failed, failed
    assert not problems, problems
