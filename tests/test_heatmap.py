"""``rnngen heatmap`` through the installed command, and its page in a real headless Chromium
(Debian's ``chromium``, driven by Playwright): the token spans, the top-5 box on hover, a unit
picked and the colours changed, a screenshot that is not blank; the page needs no network."""

import json
import re

import pytest
from clitools import CHROMIUM, err, headless_chromium, out, repetitive_text, run

SMALL = ["--hidden", "32", "--embed", "8", "--seq-len", "16", "--batch-size", "8"]
TEXT = 'the cat "sat" on (the mat).\nthe dog sat on the log.\na bird "sang" in (the tree).\n'


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    d = tmp_path_factory.mktemp("heatmap")
    corpus = repetitive_text().replace("sat", '"sat"').replace("the mat", "(the mat)")
    (d / "corpus.txt").write_text(corpus)
    p = run("train", "corpus.txt", *SMALL, "--steps", "150", "--lr", "0.01", "--out", "m", cwd=d)
    assert p.returncode == 0, err(p)
    (d / "text.txt").write_text(TEXT)
    p = run("heatmap", "m", "text.txt", "-o", "page.html", cwd=d)
    assert p.returncode == 0 and out(p) == "", err(p)
    return d / "page.html"


def _data(html: str) -> dict:
    blob = re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(blob.group(1))


def test_the_page_is_self_contained(page):
    html = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    data = _data(html)
    assert "".join(data["tokens"]) == TEXT
    assert len(data["top"]) == len(TEXT) and all(len(t) == 5 for t in data["top"])
    ranked = data["ranked"]
    assert set(ranked) == {"inside quotes", "inside brackets", "position in line", "inside a word"}
    assert all(
        len(units) == 8 and abs(units[0]["r"]) >= abs(units[-1]["r"]) for units in ranked.values()
    )


def test_in_a_real_browser_hover_pick_and_screenshot(page, tmp_path):
    assert CHROMIUM, "Debian's chromium is needed: apt-get install -y chromium"
    from PIL import Image

    with headless_chromium() as browser:
        tab = browser.new_page(viewport={"width": 1000, "height": 600})
        requests = []
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto(page.resolve().as_uri())
        spans = tab.locator("#text .t")
        assert spans.count() == len(TEXT)
        before = spans.evaluate_all("s => s.map(e => e.style.backgroundColor)")
        assert len(set(before)) > 3  # surprisal varies
        spans.nth(5).hover()
        tip = tab.locator("#tip")
        assert tip.is_visible()
        assert tab.locator("#tip .pred").count() == 5
        assert "bits" in tip.inner_text()
        tab.locator("#ranked button").first.click()
        assert tab.locator("#mode").input_value() == "unit"
        after = spans.evaluate_all("s => s.map(e => e.style.backgroundColor)")
        assert after != before
        tab.locator("#layer").select_option(index=1)
        tab.locator("#unit").fill("3")
        again = spans.evaluate_all("s => s.map(e => e.style.backgroundColor)")
        assert again != after
        shot = tmp_path / "shot.png"
        tab.mouse.move(0, 0)
        tab.screenshot(path=str(shot))
    assert requests == [page.resolve().as_uri()]  # nothing but the page itself
    img = Image.open(shot).convert("RGB")
    assert img.size == (1000, 600)
    assert len(img.getcolors(1_000_000)) > 50  # text and colours, not a blank page


def test_max_tokens_refuses_a_big_text_with_one_line(page):
    d = page.parent
    (d / "big.txt").write_text(repetitive_text(40_000))  # about 1 MB
    p = run("heatmap", "m", "big.txt", "-o", "big.html", cwd=d)
    assert p.returncode == 1 and not (d / "big.html").exists()
    assert err(p) == (
        "error: big.txt: has 950,000 tokens, more than --max-tokens 2,000; give a "
        "shorter text or a larger --max-tokens\n"
    )
    p = run(
        "heatmap",
        "m",
        "-",
        "-o",
        "small.html",
        "--max-tokens",
        "30",
        cwd=d,
        stdin=b"the cat sat.\n",
    )
    assert p.returncode == 0 and (d / "small.html").stat().st_size < 200_000, err(p)
