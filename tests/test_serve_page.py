"""``rnngen serve``'s page in a real headless Chromium (Debian's ``chromium``, driven by
Playwright): it lists the models, streams a completion typed into it (at temperature 0 the text
of ``rnngen sample --temp 0``), stops a long one, and shows a seq2seq model's n-best list. With
``$RNNGEN_SERVE_SCREENSHOT`` set to a path, it writes its screenshot there (docs/serve-page.png
is made so)."""

import os

import pytest
from clitools import CHROMIUM, err, headless_chromium, out, run
from servetools import LM_PRIME, Server, shared_models

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium: apt-get install -y chromium"
)
TOKEN = "page-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    found = shared_models(tmp_path_factory)
    where = found["lm"].parent
    s = Server(
        *(f"{name}={path}" for name, path in found.items()),
        "--token", TOKEN, "--max-tokens", "100000", "--quiet",
        cwd=where,
    )  # fmt: skip
    yield s, found
    assert s.stop() == 0
    assert "Traceback" not in s.stderr


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module, driven by Playwright in real time."""
    with headless_chromium() as b:
        yield b


def open_page(browser, server, model: str):
    tab = browser.new_page(viewport={"width": 900, "height": 640})
    tab.add_init_script(f"localStorage.setItem('rnngen-token', {TOKEN!r})")
    tab.goto(f"{server.url}/?model={model}")
    tab.wait_for_selector("body[data-state=idle]", timeout=30_000)
    return tab


def test_typing_a_prime_streams_the_text_of_rnngen_sample(served, browser):
    server, found = served
    p = run("sample", str(found["lm"]), "--temp", "0", "--length", "300", "--prime", LM_PRIME)
    assert p.returncode == 0, err(p)
    tab = open_page(browser, server, "lm")
    try:
        assert tab.locator("#model option").all_text_contents() == ["lm", "words", "rev"]
        tab.fill("#prime", LM_PRIME)
        tab.fill("#temp", "0")
        tab.fill("#length", "300")
        tab.click("#go")
        tab.wait_for_selector("body[data-state=done]", timeout=30_000)
        assert tab.locator("#output").text_content() == out(p)
        assert "300 tokens" in tab.locator("#status").text_content()
        shot = os.environ.get("RNNGEN_SERVE_SCREENSHOT")
        if shot:
            tab.screenshot(path=shot, full_page=True)
    finally:
        tab.close()


def test_stop_ends_a_long_stream(served, browser):
    server, _ = served
    tab = open_page(browser, server, "lm")
    try:
        tab.fill("#prime", "the ")
        tab.fill("#length", "100000")
        tab.click("#go")
        tab.wait_for_function("document.getElementById('output').textContent.length > 50")
        tab.click("#stop")
        tab.wait_for_selector("body[data-state=stopped]", timeout=10_000)
        assert len(tab.locator("#output").text_content()) < 100_000
    finally:
        tab.close()
    assert server.health()["rows"] == 0 or _rows_drain(server)


def _rows_drain(server) -> bool:
    from servetools import wait_for

    return wait_for(lambda: server.health()["rows"] == 0)


def test_a_seq2seq_model_shows_its_n_best(served, browser):
    server, _ = served
    tab = open_page(browser, server, "rev")
    try:
        assert tab.locator("#s2s").is_visible() and not tab.locator("#lm").is_visible()
        tab.fill("#source", "abcd\nqrst")
        tab.fill("#beam", "4")
        tab.fill("#nbest-n", "3")
        tab.click("#translate")
        tab.wait_for_selector("body[data-state=done]", timeout=30_000)
        assert tab.locator("#translations h3").all_text_contents() == ["abcd", "qrst"]
        assert tab.locator("#translations li").count() == 6
    finally:
        tab.close()
