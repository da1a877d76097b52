"""The web console behind the gateway (`/console/...`, `/` redirects there) and the air-gapped docs page."""

import re

from conftest import GatewayFactory


async def test_the_root_redirects_to_the_console(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/console/"


async def test_console_paths_pass_without_api_credentials_with_cookies_and_nothing_else(
    make_gateway: GatewayFactory, upstreams: dict[str, str]
) -> None:
    """The console signs its users in itself: its cookie passes; API credentials and forged identity never do."""
    headers = {
        "Cookie": "pledge_console_session=abc",
        "Authorization": "Bearer someone-elses-key",
        "X-Pledge-Identity": "forged",
        "X-Forwarded-For": "6.6.6.6",
    }
    async with make_gateway(console_url=upstreams["feedback"]) as gw:
        response = await gw.get("/console/status?month=2026-11", headers=headers)
    assert response.status_code == 200
    echoed = response.json()
    assert echoed["path"] == "/console/status"
    assert echoed["query"] == "month=2026-11"
    seen = echoed["headers"]
    assert seen["cookie"] == "pledge_console_session=abc"
    assert "authorization" not in seen
    assert "x-pledge-identity" not in seen
    assert "x-pledge-signature" not in seen
    assert seen["x-forwarded-for"] != "6.6.6.6"  # the gateway writes the address it sees
    assert "content-security-policy" not in response.headers  # the console sends its own (the stub sends none)


async def test_a_path_that_only_starts_like_the_console_is_not_the_console(make_gateway: GatewayFactory) -> None:
    async with make_gateway(console_url="http://127.0.0.1:9") as gw:
        response = await gw.get("/consoles")
        down = await gw.get("/console/")
    assert response.status_code == 404
    assert down.status_code == 503  # the console itself is down: a problem, never an upstream's page


async def test_the_docs_page_loads_only_the_gateways_own_assets(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        page = await gw.get("/docs")
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assets = {source: await gw.get(source) for source in sources}
        script = await gw.get("/docs/pledge-docs.js")
    assert page.status_code == 200
    assert "/openapi.json" in page.text
    assert not re.search(r"https?://", page.text + script.text)  # no CDN, nothing off the gateway
    assert sources
    assert all(s.startswith("/docs/") for s in sources)
    assert all(a.status_code == 200 for a in assets.values()), {s: a.status_code for s, a in assets.items()}
    assert not re.search(r"<script(?![^>]*\ssrc=)", page.text)  # no inline script
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "cdn" not in csp


async def test_the_redoc_page_loads_only_the_gateways_own_assets(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        page = await gw.get("/redoc")
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assets = {source: await gw.get(source) for source in sources}
    assert page.status_code == 200
    assert 'data-openapi="/openapi.json"' in page.text
    assert not re.search(r"https?://", page.text + assets["/redoc/pledge-redoc.js"].text)  # no CDN
    assert sources == ["/docs/static/favicon-32x32.png", "/redoc/static/redoc.standalone.js", "/redoc/pledge-redoc.js"]
    assert all(a.status_code == 200 for a in assets.values()), {s: a.status_code for s, a in assets.items()}
    bundle = assets["/redoc/static/redoc.standalone.js"]
    assert bundle.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert len(bundle.content) > 500_000  # ReDoc itself, not a stub
    assert b"Redoc" in bundle.content[:2000]
    assert not re.search(r"<script(?![^>]*\ssrc=)", page.text)  # no inline script
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "worker-src 'self' blob:" in csp


async def test_the_redoc_assets_need_no_credentials_and_stay_inside_their_folder(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        logo = await gw.get("/redoc/logo-mini.svg")  # asked for by the bundle, beside the page
        outside = await gw.get("/redoc/static/%2e%2e/%2e%2e/meta.py")
        unknown = [await gw.get("/redoc/static/nothing.js"), await gw.get("/docs/static/nothing.js")]
    assert (logo.status_code, logo.headers["content-type"]) == (200, "image/svg+xml")
    assert outside.status_code == 400  # a dot segment: refused before any file is looked up
    assert [u.status_code for u in unknown] == [404, 404]  # a problem, never a 500
    assert all(u.headers["content-type"] == "application/problem+json" for u in unknown)
