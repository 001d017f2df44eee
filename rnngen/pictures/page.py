"""The heatmap page: one HTML file, its style, script and data inline (no network, no external
script or font), from the template ``heatmap.html`` beside this module."""

import json
from importlib import resources


def render(data: dict) -> str:
    """The page showing ``data`` (``rnngen.pictures.heatmap.page_data``)."""
    template = resources.files("rnngen.pictures").joinpath("heatmap.html").read_text("utf-8")
    # inside <script>, "</" could end the element early: JSON allows "<\/" for it
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return template.replace("__DATA__", blob.replace("<!--", "<\\u0021--"))
