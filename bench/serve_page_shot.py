"""The screenshot of ``rnngen serve``'s page in docs/serve-page.png: a real server, Debian's
headless Chromium driven by Playwright, a prime typed in and the text streamed.

    python bench/serve_page_shot.py runs/tinyshakespeare --prime "ROMEO:" -o docs/serve-page.png

(docs/serve-page.png: a char L2 H256 LSTM trained for 2 minutes on tiny Shakespeare, temperature
0.8, seed 7, 400 tokens.)
"""

import argparse
import os
import re
import subprocess
import sys
import threading

from benchlib import ROOT


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--prime", default="ROMEO:")
    ap.add_argument("--temp", default="0.8")
    ap.add_argument("--length", default="400")
    ap.add_argument("--seed", default="7")
    ap.add_argument("-o", "--out", default=str(ROOT / "docs" / "serve-page.png"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "rnngen", "serve", f"shakespeare={args.model}", "--port", "0", "-q"],
        stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    found = threading.Event()
    url = []

    def read() -> None:
        for raw in server.stderr:
            m = re.search(r"(http://127\.0\.0\.1:\d+)/ serving", raw.decode())
            if m:
                url.append(m.group(1))
                found.set()
        found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not found.wait(120) or not url:
            raise SystemExit("the server did not start")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            tab = browser.new_page(viewport={"width": 900, "height": 720})
            tab.goto(url[0] + "/")
            tab.wait_for_selector("body[data-state=idle]")
            tab.fill("#prime", args.prime)
            tab.fill("#temp", args.temp)
            tab.fill("#length", args.length)
            tab.fill("#seed", args.seed)
            tab.click("#go")
            tab.wait_for_selector("body[data-state=done]", timeout=60_000)
            tab.screenshot(path=args.out, full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(60)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
