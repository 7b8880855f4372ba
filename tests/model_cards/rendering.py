"""Render published Markdown the way the pages that show it do, and read what the HTML references.

Three renderers, all with raw HTML allowed, so only our escaping can keep text inert:
GitHub's cmark-gfm (autolinks on), markdown-it in CommonMark mode, and markdown-it with linkify-it's
fuzzy autolinks (bare `x.com/a`), the strictest autolinker we know of.
"""

import re
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options
from markdown_it import MarkdownIt

# Hostile strings a dataset can carry; the first three are the ones users reported.
HOSTILE = [
    "a star ![t](https://tracker.example/c.png)",
    "[link](http://phish.example)",
    "</details><h1>FAKE APPROVED</h1>",
    "<img src=https://tracker.example/p.png onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<https://phish.example/auto>",
    "see www.phish.com or phish.com/login now",
    "[ref]: https://phish.example/r and [ref]",
    "`code` and ``` fence",
    "**bold** _it_ ~~gone~~ $x^2$",
    "# FAKE HEADING",
    "> quoted",
    "1. listed",
    "- item",
    "cell | breaker | row",
    "back\\slash \\[not a link\\](http://phish.example)",
    "&lt;b&gt;entity&lt;/b&gt; &#60;i&#62;",
    "line one\n# line two\n<h2>x</h2>",
    "AT&T <= 5 < 6 > 4 snake_case_name",
    "![](javascript:alert(1)) [x](javascript:alert(1)) [y](data:text/html,hi)",
    "    four spaces make a code block",
]

_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//|\\\\)", re.IGNORECASE)
_CSS_URL = re.compile(r"url\s*\(", re.IGNORECASE)


def renderings(markdown: str) -> dict[str, str]:
    """`markdown` rendered to HTML by each renderer, by name."""
    unsafe = Options.CMARK_OPT_UNSAFE
    return {
        "cmark-gfm": cmarkgfm.github_flavored_markdown_to_html(markdown, options=unsafe),
        "markdown-it": MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown),
        "markdown-it+linkify": MarkdownIt("gfm-like", {"html": True, "linkify": True}).render(markdown),
    }


class Page(HTMLParser):
    """Tags, references (src, href, srcset, poster, CSS url()) and the text of an HTML page."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.css: list[str] = []
        self.chunks: list[str] = []
        self._in: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "action", "formaction", "data", "background"):
                self.refs.append((tag, name, value or ""))
            if name == "style" and value:
                self.css.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            del self._in[len(self._in) - 1 - self._in[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "style":
            self.css.append(data)
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def outside_refs(self) -> list[str]:
        """Every reference that leaves the page: a scheme (http:, javascript:, data:, ...) or `//host`.

        Embedded images (`data:image/...;base64` on an <img>) are the one allowed exception.
        """
        out = [
            f"<{tag} {attr}={value!r}>"
            for tag, attr, value in self.refs
            if _EXTERNAL.match(value)
            and not (tag == "img" and attr == "src" and value.startswith("data:image/"))
        ]
        return out + [f"css: {c[:80]!r}" for c in self.css if _CSS_URL.search(c)]


def normalized(text: str) -> str:
    """Text as md_text shows it: control characters dropped, line breaks as spaces, spaces collapsed."""
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text)
    return re.sub(r"\s+", " ", text).strip()
