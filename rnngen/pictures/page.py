"""The picture pages: one HTML file each, its style, script and data inline (no network, no
external script or font), from a template beside this module: ``heatmap.html`` (a language model
reading a text), ``alignment.html`` (a sequence-to-sequence model's attention), each with the
style they share (``base.css``) put in."""

import json
from importlib import resources


def render(data: dict, template_name: str = "heatmap.html") -> str:
    """The page showing ``data`` (``rnngen.pictures.heatmap.page_data``, or
    ``rnngen.pictures.alignment.page_data`` with ``alignment.html``)."""
    here = resources.files("rnngen.pictures")
    template = here.joinpath(template_name).read_text("utf-8")
    template = template.replace("/*__BASE__*/", here.joinpath("base.css").read_text("utf-8"))
    # inside <script>, "</" could end the element early: JSON allows "<\/" for it
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return template.replace("__DATA__", blob.replace("<!--", "<\\u0021--"))
