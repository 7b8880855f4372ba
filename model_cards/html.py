"""The card as one standalone HTML file: the README's Markdown rendered, charts embedded as data URIs.

Uses markdown-it-py (CommonMark + tables) with raw HTML disabled, so text from reports is escaped and
cannot inject markup. No network fonts, stylesheets or scripts.
"""

import base64
import mimetypes
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt

BANNER_COLOURS = {
    "approved": "#2e7d32",
    "not_approved": "#c62828",
    "blocked": "#c62828",
    "incomplete": "#ef6c00",
}


def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def markdown_to_html(text: str, base_dir: Path) -> str:
    """Render Markdown; images with a relative path under `base_dir` are embedded so the file stands alone."""
    md = _markdown()
    tokens = md.parse(text)
    root = base_dir.resolve()
    for token in tokens:
        for child in token.children or []:
            if child.type != "image":
                continue
            src = str(child.attrGet("src") or "")
            target = (root / src).resolve()
            # Only files inside the card folder are embedded: a crafted path must not pull in other files.
            if "://" not in src and target.is_relative_to(root) and target.is_file():
                child.attrSet("src", _data_uri(target))
    return md.renderer.render(tokens, md.options, {})


def render_html(
    env: jinja2.Environment, markdown_body: str, metadata_yaml: str, title: str, verdict: str, base_dir: Path
) -> str:
    """card.html: the same content as README.md, as a standalone page."""
    return env.get_template("card.html.j2").render(
        title=title,
        body=markdown_to_html(markdown_body, base_dir),
        metadata_yaml=metadata_yaml,
        banner_colour=BANNER_COLOURS.get(verdict, "#555"),
    )
