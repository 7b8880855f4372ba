"""The card as one standalone HTML file: the README's Markdown rendered, charts embedded as data URIs.

Uses markdown-it-py (CommonMark + tables) with raw HTML disabled and no linkify, so text from reports
cannot inject markup. The file references nothing outside itself: images are embedded from the card
folder, links may only be relative (the card's own files); any other image or link, wherever it came
from, is rendered as its text. No network fonts, stylesheets or scripts.
"""

import base64
import mimetypes
import re
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from markdown_it.token import Token

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

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


def _is_local(target: str) -> bool:
    """A link target inside the card: no scheme (`http:`, `javascript:`, `data:`...), no `//host`."""
    return bool(target) and not target.startswith(("/", "\\")) and not _SCHEME.match(target)


def _inline(children: list[Token], root: Path) -> list[Token]:
    """`children` with local images embedded, and every other image or link reduced to its text."""
    out: list[Token] = []
    dropped_links: list[bool] = []  # per open link: was its link_open dropped?
    for child in children:
        if child.type == "image":
            src = str(child.attrGet("src") or "")
            target = (root / src).resolve()
            # Only files inside the card folder are embedded: a crafted path must not pull in other files.
            if _is_local(src) and target.is_relative_to(root) and target.is_file():
                child.attrSet("src", _data_uri(target))
                out.append(child)
            else:
                text = Token("text", "", 0)
                text.content = child.content
                out.append(text)
        elif child.type == "link_open":
            drop = not _is_local(str(child.attrGet("href") or ""))
            dropped_links.append(drop)
            if not drop:
                out.append(child)
        elif child.type == "link_close":
            if not (dropped_links.pop() if dropped_links else False):
                out.append(child)
        else:
            out.append(child)
    return out


def markdown_to_html(text: str, base_dir: Path) -> str:
    """Render Markdown; images with a relative path under `base_dir` are embedded so the file stands alone."""
    md = _markdown()
    tokens = md.parse(text)
    root = base_dir.resolve()
    for token in tokens:
        if token.children:
            token.children = _inline(token.children, root)
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
