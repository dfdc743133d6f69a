"""The console in a real browser: Debian's chromium driven by Playwright (never a downloaded browser).

Sign in, submit from the playground (with an upload), watch the task's progress, see the preview,
run the code the playground shows, browse tasks and usage, see the cluster's status and revoke a key
as the operator.
Skipped only where chromium is not installed; CI installs it.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from support.server import OPERATOR_TOKEN, Server

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NODE_DIR = Path(__file__).parent / "conformance" / "node"
# Generous: the machine may be busy; every wait ends as soon as the page is ready.
WAIT_MS = 90_000

if CHROMIUM.exists():
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    errors: list[str] = []
    elsewhere: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))

    def outside(request: Any) -> None:
        if not request.url.startswith(("http://127.0.0.1:", "data:", "blob:")):
            elsewhere.append(request.url)

    def blocked(request: Any) -> None:
        if request.failure == "csp":  # stopped by the page's Content-Security-Policy: it never left
            elsewhere.remove(request.url)

    tab.on("request", outside)
    tab.on("requestfailed", blocked)
    yield tab
    tab.screenshot(path=str(tmp_path / "last.png"))  # for whoever debugs a failure; never committed
    context.close()
    assert not errors, errors
    assert not elsewhere, f"the pages fetched from outside the server: {elsewhere}"


def operator(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    return httpx.request(method, f"{server.base_url}/operator{path}", headers=headers, timeout=30, **kwargs)


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def sign_in(page: Page, server: Server, key: str) -> None:
    page.goto(server.base_url + "/")
    page.click("#open-console")
    page.fill("#api-key", "key_" + "0" * 128)
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    page.fill("#api-key", key)
    page.click("button[type=submit]")
    expect(page.locator("#page-title")).to_have_text("Tasks")


def run_snippet(command: list[str], code: str, key: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "RUNWAYML_API_SECRET": key}
    env.pop("RUNWAYML_BASE_URL", None)
    done = subprocess.run(
        [*command], input=code, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_sign_in_generate_watch_and_preview(page: Page, operator_server: Server) -> None:
    server = operator_server
    assert operator(server, "POST", "/organizations", json={"name": "browser", "credits": 2000}).is_success
    key = operator(server, "POST", "/organizations/browser/keys", json={"name": "ui"}).json()
    sign_in(page, server, key["key"])
    expect(page.locator("#tasks-table")).to_contain_text("No tasks yet")

    # Playground: image_to_video with an uploaded first frame; a standing latency keeps it RUNNING
    # long enough to watch its progress.
    simulation = {"settings": ["latency=3s"], "keyId": key["id"]}
    assert operator(server, "PUT", "/organizations/browser/simulation", json=simulation).is_success
    page.click("a.nav[data-path=playground]")
    page.select_option("#pg-endpoint", "image_to_video")
    page.select_option("#pg-model", "gen4_turbo")
    frame = tempfile.NamedTemporaryFile(suffix=".png", delete=False)  # noqa: SIM115 - handed to the browser
    frame.write(png(640, 360))
    frame.close()
    page.set_input_files("input[data-media=promptImage]", frame.name)
    expect(page.locator("input[name=promptImage]")).to_have_value(re.compile(r"^runway://"))
    page.fill("textarea[name=promptText]", "slow push in on a blue wall")
    page.fill("input[name=duration]", "2")
    page.select_option("select[name=ratio]", "1280:720")
    code = page.locator("#pg-code")
    expect(code).to_contain_text('"promptText": "slow push in on a blue wall"')
    page.click("#pg-submit")
    expect(page.locator("#pg-task[data-status=RUNNING] .progress")).to_be_visible()
    expect(page.locator("#pg-task[data-status=SUCCEEDED]")).to_be_visible()
    video = page.locator("#pg-task video.output-video")
    expect(video).to_be_visible()
    page.wait_for_function("document.querySelector('#pg-task video.output-video').readyState >= 1")
    assert page.evaluate("document.querySelector('#pg-task video.output-video').duration") == pytest.approx(
        2, abs=0.1
    )
    operator(server, "DELETE", "/organizations/browser/simulation", params={"keyId": key["id"]})

    # The code the playground shows sends the same request: run the Python and Node versions.
    page.select_option("#pg-endpoint", "text_to_image")
    page.fill("textarea[name=promptText]", "a teal lighthouse from the playground")
    page.click(".tabs button[data-lang=python]")
    expect(code).to_contain_text("client.text_to_image.create(")
    output = run_snippet([sys.executable, "-"], code.inner_text(), key["key"])
    assert "/outputs/" in output
    generations = 3
    if shutil.which("node") and (NODE_DIR / "node_modules" / "@runwayml" / "sdk").exists():
        page.click(".tabs button[data-lang=node]")
        expect(code).to_contain_text("client.textToImage")
        output = run_snippet(["node", "--input-type=module"], code.inner_text(), key["key"], cwd=NODE_DIR)
        assert "/outputs/" in output
        generations += 1
    page.click(".tabs button[data-lang=curl]")
    page.click("#pg-submit")
    expect(page.locator("#pg-task[data-status=SUCCEEDED]")).to_be_visible()
    page.wait_for_function("document.querySelector('#pg-task img.output-image').naturalWidth === 1920")

    # Tasks: the three generations, filters, the preview, and deletion.
    page.click("a.nav[data-path=tasks]")
    rows = page.locator("#tasks-table tbody tr[data-task-id]")
    expect(rows).to_have_count(generations)
    page.select_option("#filter-endpoint", "image_to_video")
    expect(rows).to_have_count(1)
    rows.first.click()
    expect(page.locator("#task-detail video.output-video")).to_be_visible()
    expect(page.locator("#task-detail")).to_contain_text("slow push in on a blue wall")
    page.get_by_role("button", name="Open in playground").click()
    expect(page.locator("#pg-model")).to_have_value("gen4_turbo")
    expect(page.locator("textarea[name=promptText]")).to_have_value("slow push in on a blue wall")
    expect(page.locator("input[name=promptImage]")).to_have_value(re.compile(r"^runway://"))
    page.go_back()  # to the task, still selected
    expect(page.locator("#task-detail video.output-video")).to_be_visible()
    page.click("#delete-task")
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(rows).to_have_count(generations - 1)
    expect(page.locator("#task-detail")).to_be_hidden()

    # Usage: the balance and a bar per model and day.
    page.click("a.nav[data-path=usage]")
    expect(page.locator("#usage-chart rect")).not_to_have_count(0)
    balance = sdk_balance(server, key["key"])
    expect(page.locator("#usage-balance")).to_have_text(f"{balance:,}")


def sdk_balance(server: Server, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}", "X-Runway-Version": "2024-11-06"}
    return int(httpx.get(f"{server.base_url}/v1/organization", headers=headers).json()["creditBalance"])


def test_operator_creates_and_revokes_a_key(page: Page, operator_server: Server) -> None:
    server = operator_server
    page.goto(server.base_url + "/console")
    page.click("#operator-signin")
    page.fill("#operator-token", "wrong")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("not the operator token")
    page.fill("#operator-token", OPERATOR_TOKEN)
    page.click("button[type=submit]")
    expect(page.locator("#orgs-table")).to_contain_text("default")

    # The cluster section shows what `GET /operator/cluster` (and `taxiway cluster status`) reports.
    cluster = operator(server, "GET", "/cluster").json()
    assert cluster["engines"]["executor"] == "local"
    expect(page.locator("#cluster-executor")).to_contain_text("Local executor")
    for status, count in cluster["queue"].items():
        expect(page.locator(f"#cluster-queue [data-status={status}] .value")).to_have_text(f"{count:,}")
    loaded = ",".join(cluster["engines"]["engines"])
    expect(page.locator("#cluster-engines td[data-engines]")).to_have_attribute("data-engines", loaded)

    page.fill("#new-org-name", "ops-browser")
    page.click("#create-org")
    expect(page.locator("h1")).to_have_text("ops-browser")
    page.fill("#credit-amount", "250")
    page.click("#credit-form button[type=submit]")
    expect(page.locator("#org-balance")).to_have_text("1,250")

    page.fill("#new-key-name", "revoke-me")
    page.click("#create-key")
    plain = page.locator("#new-key-value").inner_text().strip()
    assert sdk_balance(server, plain) == 1250
    row = page.locator("#keys-table tr", has_text="revoke-me")
    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("Revoked")
    headers = {"Authorization": f"Bearer {plain}", "X-Runway-Version": "2024-11-06"}
    page.wait_for_function(
        """async ([url, headers]) => (await fetch(url, { headers })).status === 401""",
        arg=[f"{server.base_url}/v1/organization", headers],
        polling=250,
    )


def test_api_reference_renders_offline(page: Page, server: Server) -> None:
    page.goto(server.base_url + "/docs")
    expect(page.locator(".swagger-ui .opblock-summary-path", has_text="/v1/text_to_image")).to_be_visible()
    page.goto(server.base_url + "/redoc")
    expect(page.get_by_text("/v1/text_to_image").first).to_be_attached()
    expect(page.locator("h1").first).to_contain_text("taxiway")


def test_playground_has_a_form_for_every_model(page: Page, operator_server: Server) -> None:
    """Every endpoint and model of the catalog can be picked, every form the catalog's models make is
    drawn with a body that names its model, and a media field of the catalog gets an upload button.
    Models whose fields and media are the same make the same form: one of each is opened."""
    from taxiway.catalog import ENDPOINTS

    page.goto(operator_server.base_url + "/console")
    page.fill("#api-key", operator_server.key)
    page.click("button[type=submit]")
    expect(page.locator("#page-title")).to_have_text("Tasks")
    for endpoint in ENDPOINTS.values():
        forms = {}
        for model in endpoint.models:
            media = tuple(sorted(field.path for field in model.assets))
            forms.setdefault((tuple(sorted(model.fields)), media), model)
        for model in forms.values():
            page.goto(f"{operator_server.base_url}/console#/playground/{endpoint.name}/{model.id}")
            expect(page.locator("#pg-model")).to_have_value(model.id)
            expect(page.locator("#pg-code")).to_contain_text(f'"model": "{model.id}"')
            for path in {field.path for field in model.assets if not set(".[") & set(field.path)}:
                picker = page.locator(f"select[data-variant={path}]")
                if picker.count():  # a URI or a list: show its one-file form (an optional one starts unset)
                    picker.select_option(
                        picker.evaluate("s => [...s.options].find(o => o.text.startsWith('One ')).value")
                    )
                expect(page.locator(f"input[type=file][data-media={path}]")).to_be_attached()
        offered = page.locator("#pg-model option").evaluate_all("options => options.map(o => o.value)")
        assert set(offered) >= {model.id for model in endpoint.models}, endpoint.name


def test_library_lists_creates_and_deletes(page: Page, operator_server: Server) -> None:
    server = operator_server
    assert operator(server, "POST", "/organizations", json={"name": "library", "credits": 10}).is_success
    key = operator(server, "POST", "/organizations/library/keys", json={}).json()["key"]
    sign_in(page, server, key)
    for section in ("avatars", "voices"):
        page.click(f"a.nav[data-path={section}]")
        expect(page.locator(f"#{section[:-1]}-list")).to_contain_text(f"No {section} yet")
    page.click("a.nav[data-path=documents]")
    expect(page.locator("#document-list")).to_contain_text("No documents yet")
    page.get_by_role("button", name="New document").click()
    page.fill("#document-form input[name=name]", "Opening hours")
    page.fill("#document-form textarea[name=content]", "The lighthouse opens at nine.")
    page.get_by_role("dialog").get_by_role("button", name="Create").click()
    tile = page.locator("#document-list .tile", has_text="Opening hours")
    expect(tile).to_contain_text("Not used by an avatar")
    tile.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.locator("#document-list")).to_contain_text("No documents yet")
