"""Text from a dataset written into Markdown, inert: it shows as the same characters and never as markup.

A caption, an author, a licence string or a URL comes from whoever made the dataset. Written into a
Markdown file as it is, `![t](https://tracker.example/c.png)` becomes a remote image, `[x](http://...)`
a link and `</details><h1>...` raw HTML on any page that renders the file (the Hub, GitHub, MLflow).
`md_text` escapes such text for Markdown prose and table cells; `md_code` shows it as a code span (for
URLs and paths); `Markdown` marks a string that is already Markdown made by this project, so a
template or a table writer knows not to escape it again. The governance files (attribution list,
datasheet) and the model card share these functions, so there is one definition of "escaped".

The escapes are CommonMark backslash escapes, which every CommonMark renderer honours, plus what
GitHub-flavoured renderers need on top: a scheme's `://`, a `www.`, an `@` and the dot before a
top-level domain are escaped too, so that their autolinking finds no URL in plain text.
"""

import re

# Characters that start inline markup in CommonMark or GFM wherever they stand: code, emphasis,
# strikethrough, links and images, table cells, math (the Hub renders $...$).
# `_` only where it can open or close emphasis: intraword underscores never do (CommonMark flanking
# rules), so `max_heldout_loss` stays readable.
_INLINE = re.compile(r"[\\`*\[\]|~$]|(?<![^\W_])_|_(?![^\W_])")
# `<` opens raw HTML or an autolink only before a letter, `/`, `!` or `?`; `&` only in a whole entity.
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d{1,9}[.)](?=\s|$))")  # a heading, quote, list or setext marker
_FUZZY_TLDS = "biz|com|edu|gov|net|org|pro|web|xxx|aero|asia|coop|info|museum|name|shop"
_AUTOLINK = re.compile(
    r":(?=//)"  # scheme://host
    r"|(?<=(?<![A-Za-z0-9])(?i:www))\."  # www.host
    # a bare host name (x.com/a): linkify-it links the TLDs it knows by default and any two-letter one
    rf"|(?<=[A-Za-z0-9])\.(?=(?i:{_FUZZY_TLDS}|[a-z]{{2}})(?![A-Za-z0-9-]))"
    r"|@"  # e-mail addresses and mentions
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)((?:\\\\)*)\|")
# Text with none of these needs no escape (most captions): one search instead of every rule.
_ANY_RULE = re.compile(
    r"[\\`*\[\]|~$_<&@\x00-\x08\x0b-\x1f\x7f\r\n\u2028\u2029]|://|\.[A-Za-z]|^\s|\s$|^(?:[#>+=-]|\d{1,9}[.)])"
)


class Markdown(str):
    """A string that is already Markdown written by this project (a table, a code span): not escaped again."""

    __slots__ = ()


def md_text(value: object) -> Markdown:
    """`value` as Markdown text that renders as exactly its characters, on one line.

    Line breaks become spaces, control characters and surrounding spaces are dropped: a table cell or
    a list item must stay one line, and a newline in a caption could otherwise start a block of its own.
    """
    if isinstance(value, Markdown):
        return value
    text = "" if value is None else str(value)
    if not _ANY_RULE.search(text):
        return Markdown(text)
    # Leading spaces could make an indented code block after a list marker; trailing ones a line break.
    text = _LINE_BREAKS.sub(" ", _CONTROL.sub("", text)).strip()
    out = _INLINE.sub(r"\\\g<0>", text)
    out = _ENTITY.sub(r"\\&", _HTML_START.sub(r"\\<", out))
    out = _AUTOLINK.sub(r"\\\g<0>", out)
    out = _LINE_START.sub(lambda m: f"{m.group(1)}{m.group(2)[:-1]}\\{m.group(2)[-1]}", out, count=1)
    return Markdown(out)


def md_code(value: object) -> Markdown:
    """`value` as a Markdown code span: shown verbatim (a URL stays text, never a link or an image).

    The fence is one backtick longer than the longest run inside, as CommonMark requires; a space pads
    text that starts or ends with a backtick. Pipes are escaped by the table writer, not here.
    """
    text = _CONTROL.sub("", "" if value is None else str(value))
    text = _LINE_BREAKS.sub(" ", text)
    if not text:
        return Markdown("")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each end when both ends have one: the pad keeps the text exact.
    pad = " " if "`" in (text[0], text[-1]) or (text[0] == text[-1] == " ") else ""
    return Markdown(f"{fence}{pad}{text}{pad}{fence}")


def md_cell(value: object) -> str:
    """One Markdown table cell: text is escaped with `md_text`; Markdown is kept, with its pipes escaped.

    GFM splits a row at every unescaped `|`, code spans included, so a pipe in a code span is escaped
    too (GFM renderers show it as `|`).
    """
    if isinstance(value, Markdown):
        return _UNESCAPED_PIPE.sub(r"\1\\|", _LINE_BREAKS.sub(" ", value)).strip()
    return md_text(value).strip()
