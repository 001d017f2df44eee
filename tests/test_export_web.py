"""The web export (``rnngen.export.web.write_web``) of small models trained by ``rnngen train``,
in a real headless Chromium (Debian's ``chromium``; one browser for the module, driven by
Playwright): its logits for a prime equal rnngen's within 1e-4 and its argmax continuation
equals ``rnngen sample --temp 0`` for 200 tokens, for every cell at character and word level, by
WebAssembly and by JavaScript; the int8 page follows the int8 model's own argmax; it reports its
tokens/s, streams and stops; and opened with ``autostart=1`` under ``chromium --headless
--dump-dom --virtual-time-budget=30000`` it finishes."""

import html
import json
import re
import subprocess
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from clitools import CHROMIUM, headless_chromium
from exporttools import MODELS, PRIMES, distinct, reference_int8_argmax, sample, shared_models

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium: apt-get install -y chromium"
)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    return shared_models(tmp_path_factory)


@pytest.fixture(scope="module")
def pages(models, tmp_path_factory) -> dict:
    """(cell, level, int8) -> the directory of an exported page."""
    from rnngen import load
    from rnngen.export.web import write_web

    where = tmp_path_factory.mktemp("export-web-pages")
    built = {}
    for (cell, level), run_dir in models.items():
        model = load(run_dir)
        for int8 in (False, True):
            dest = where / f"{cell}-{level}{'-int8' if int8 else ''}"
            files = write_web(model, dest, int8)
            assert sorted(p.name for p in files) == [
                "index.html",
                "page.js",
                "rnngen.js",
                "weights.js",
            ]
            built[(cell, level, int8)] = dest
    return built


def dump_dom(page: Path, **params) -> str:
    """The page's DOM after it ran under headless Chromium's virtual time."""
    url = page.joinpath("index.html").resolve().as_uri() + "?" + urllib.parse.urlencode(params)
    p = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            "--virtual-time-budget=30000",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


def element(dom: str, tag: str, id_: str) -> str:
    m = re.search(rf'<{tag} id="{id_}"[^>]*>(.*?)</{tag}>', dom, re.S)
    assert m, f"no <{tag} id={id_}> in the page"
    return html.unescape(m.group(1))


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module, driven by Playwright in real time."""
    with headless_chromium() as b:
        yield b


def visit(browser, page: Path, **params) -> dict:
    """Open the page with ``params``, wait until it has finished (or refused): its output (the
    continuation), state, engine, message and, with debug=logits, its logits."""
    tab = browser.new_page()
    try:
        url = page.joinpath("index.html").resolve().as_uri()
        tab.goto(url + "?" + urllib.parse.urlencode(params))
        tab.wait_for_selector("body[data-state=done], body[data-state=error]", timeout=60_000)
        debug = tab.locator("#debug").text_content()
        return {
            "output": tab.locator("#output").text_content(),
            "state": tab.evaluate("document.body.dataset.state"),
            "engine": tab.evaluate("document.body.dataset.engine"),
            "message": tab.locator("#message").text_content(),
            "logits": np.array(json.loads(debug)) if debug else None,
        }
    finally:
        tab.close()


def rnngen_logits(run_dir: Path, prime: str) -> np.ndarray:
    """rnngen's next-token logits (V,) after the start token and ``prime``, by its network."""
    from rnngen import load
    from rnngen.generate.text import start_ids

    ck = load(run_dir).checkpoint
    net = ck.build_model()
    ids = start_ids(ck.vocab, ck.vocab.encode(prime, close_last_line=False))
    return net.logits(ids[:, None], net.start_state(1))[-1].copy()


@pytest.mark.parametrize("cell,level", MODELS)
def test_logits_and_argmax_equal_rnngen(models, pages, browser, cell, level):
    prime = PRIMES[level]
    got = visit(
        browser, pages[(cell, level, False)], prime=prime, temp=0, length=200, autostart=1,
        debug="logits",
    )  # fmt: skip
    assert got["state"] == "done"
    assert got["engine"] == "wasm"  # Chromium has WebAssembly SIMD
    want = rnngen_logits(models[(cell, level)], prime)
    np.testing.assert_allclose(got["logits"], want, rtol=0, atol=1e-4)
    assert prime + got["output"] == sample(models[(cell, level)], prime)
    assert distinct(got["output"]) >= 5


@pytest.mark.parametrize("cell,level", [("lstm", "char"), ("gru", "word")])
def test_it_finishes_under_virtual_time(models, pages, cell, level):
    """``chromium --headless --dump-dom --virtual-time-budget=30000`` with autostart=1: the
    page is done within the budget, with the same text."""
    prime = PRIMES[level]
    dom = dump_dom(pages[(cell, level, False)], prime=prime, temp=0, length=200, autostart=1)
    assert 'data-state="done"' in dom
    assert prime + element(dom, "pre", "output") == sample(models[(cell, level)], prime)


@pytest.mark.parametrize("cell,level", [("lstm", "char"), ("gru", "word")])
def test_the_javascript_engine_too(models, pages, browser, cell, level):
    """?engine=js: the products in plain JavaScript, as a browser without WebAssembly SIMD
    runs them."""
    prime = PRIMES[level]
    got = visit(
        browser, pages[(cell, level, False)], prime=prime, temp=0, length=200, autostart=1,
        debug="logits", engine="js",
    )  # fmt: skip
    assert got["engine"] == "js"
    np.testing.assert_allclose(
        got["logits"], rnngen_logits(models[(cell, level)], prime), atol=1e-4
    )
    assert prime + got["output"] == sample(models[(cell, level)], prime)


@pytest.mark.parametrize("prime", ["", "a bird\nthe dog "])
def test_argmax_from_other_primes(models, pages, browser, prime):
    for key in [("gru", "char"), ("lstm", "word")]:
        got = visit(browser, pages[(*key, False)], prime=prime, temp=0, length=200, autostart=1)
        assert prime + got["output"] == sample(models[key], prime), key


@pytest.mark.parametrize("cell,level", [("lstm", "char"), ("gru", "word"), ("rnn-relu", "char")])
def test_int8_page_follows_its_own_argmax(models, pages, browser, cell, level):
    prime = PRIMES[level]
    got = visit(browser, pages[(cell, level, True)], prime=prime, temp=0, length=200, autostart=1)
    assert prime + got["output"] == reference_int8_argmax(models[(cell, level)], prime, 200)


def test_unknown_characters_are_refused_and_unknown_words_read_as_unk(models, pages, browser):
    got = visit(browser, pages[("lstm", "char", False)], prime="the Zebra", temp=0, autostart=1)
    assert got["state"] == "error" and "does not know" in got["message"]
    assert got["output"] == ""
    prime = "the zebra sat"
    got = visit(
        browser, pages[("lstm", "word", False)], prime=prime, temp=0, length=200, autostart=1
    )
    assert prime + got["output"] == sample(models[("lstm", "word")], prime)
    assert "zebra" in got["message"]


def test_same_seed_same_text(pages, browser):
    page = pages[("gru", "char", False)]
    runs = [
        visit(browser, page, temp=1, length=300, seed=s, autostart=1)["output"] for s in (3, 3, 4)
    ]
    assert runs[0] == runs[1] != runs[2]
    assert len(runs[0]) == 300 and distinct(runs[0]) > 10


def test_the_page_needs_no_network(pages):
    for f in pages[("lstm", "char", False)].iterdir():
        text = f.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), f.name
        assert "fetch(" not in text and "XMLHttpRequest" not in text and "@import" not in text


def test_in_real_time_it_reports_its_speed_streams_and_stops(pages, browser):
    """In real time (no virtual clock) the page times itself; the controls stream and stop."""
    page = pages[("lstm", "char", False)]
    url = page.joinpath("index.html").resolve().as_uri()
    tab = browser.new_page()
    try:
        requests = []
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto(url + "?prime=the&temp=0.8&length=400&seed=1&autostart=1")
        tab.wait_for_selector("body[data-state=done]", timeout=60_000)
        speed = float(tab.locator("#speed").get_attribute("data-tokens-per-second"))
        assert speed > 0 and "tokens/s" in tab.locator("#speed").inner_text()
        assert len(tab.locator("#output").text_content()) == 400
        assert all(u.startswith("file://") for u in requests)

        # the controls: a long run, streamed, then stopped
        tab.fill("#prime", "the cat")
        tab.fill("#length", "2000000")
        tab.click("#generate")
        tab.wait_for_function("document.getElementById('output').textContent.length > 50")
        assert tab.evaluate("document.body.dataset.state") == "running"
        tab.click("#stop")
        tab.wait_for_selector("body[data-state=stopped]", timeout=10_000)
        n = len(tab.locator("#output").text_content())
        assert 50 < n < 2_000_000
        tab.wait_for_timeout(200)
        assert len(tab.locator("#output").text_content()) == n  # it stays stopped
    finally:
        tab.close()


def test_written_whole_or_not_at_all(models, tmp_path):
    """A new directory appears whole (written under a temporary name, then renamed); an
    existing one has its files replaced; a file where the directory should go is refused."""
    from rnngen import UserError, load
    from rnngen.export.web import write_web

    model = load(models[("lstm", "char")])
    write_web(model, tmp_path / "page", int8=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page"]  # no temporary left
    before = (tmp_path / "page" / "weights.js").stat().st_size
    write_web(model, tmp_path / "page", int8=True)
    assert (tmp_path / "page" / "weights.js").stat().st_size < before / 2.5
    assert sorted(p.name for p in (tmp_path / "page").iterdir()) == [
        "index.html",
        "page.js",
        "rnngen.js",
        "weights.js",
    ]
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        write_web(model, tmp_path / "file", int8=False)
