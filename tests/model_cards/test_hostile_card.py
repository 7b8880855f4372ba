"""Dataset text that reaches the card through the reports is inert in README.md, LICENSES.md, the summary
and card.html; card.html references nothing outside itself."""

import re

import yaml
from huggingface_hub import ModelCard

from audits.report import AuditCheck
from model_cards.api import render_card
from model_cards.html import markdown_to_html

from .rendering import HOSTILE, Page, normalized, renderings

CAPTION = HOSTILE[0]  # a star ![t](https://tracker.example/c.png)
AUTHOR = HOSTILE[2]  # </details><h1>FAKE APPROVED</h1>
DATA_DIR = "data [x](javascript:alert(1)) <img src=x onerror=alert(2)>"


def _hostile_inputs(make_inputs):
    inputs = make_inputs()
    gov = inputs.governance.model_copy(
        update={
            "source": f"imagefolder:/home/me/{DATA_DIR}",
            "licenses_kept": {"CC-BY-4.0": 3000, "LicenseRef-<b>x</b>[y](http://phish.example)": 511},
            "obligations": inputs.governance.obligations.model_copy(
                update={"statements": [f"Credit {AUTHOR} for {CAPTION}"], "conflicts": [HOSTILE[1]]}
            ),
        }
    )
    quality, bias, deepfake = inputs.audits
    bias = bias.model_copy(
        update={
            "tables": {"by_group": [{"group": HOSTILE[3], "share": 0.4}, {"group": "dark", "share": 0.1}]}
        }
    )
    pii = AuditCheck(
        name="pii_captions",
        measured=1,
        threshold=0,
        direction="max",
        passed=False,
        message=f"PII in {CAPTION}",
    )
    deepfake = deepfake.model_copy(
        update={
            "checks": [*deepfake.checks, pii],
            "passed": False,
            "tables": {"pii_captions": [{"caption": c, "patterns": "email"} for c in HOSTILE]},
            "notes": [HOSTILE[6], HOSTILE[1]],
        }
    )
    return inputs.model_copy(
        update={
            "governance": gov,
            "audits": [quality, bias, deepfake],
            "verdict": "not_approved",
            "verdict_reasons": [f"deepfake.pii_captions: {AUTHOR}"],
        }
    )


def _assert_inert(markdown: str, allowed_links: set[str]) -> str:
    """Render `markdown` every way; no image, no heading or link that we did not write. Returns the text."""
    shown = ""
    for renderer, html in renderings(markdown).items():
        page = Page(html)
        assert "script" not in page.tags and "details" not in page.tags, renderer
        images = [v for tag, attr, v in page.refs if tag == "img"]
        assert all(not v.startswith(("http", "//", "javascript")) for v in images), (renderer, images)
        links = {v for tag, attr, v in page.refs if tag == "a"}
        assert links <= allowed_links, (renderer, links - allowed_links)
        assert "FAKE APPROVED" not in _headings(html), renderer
        shown = normalized(page.text)
    return shown


def _headings(html: str) -> str:
    return " ".join(re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", html, flags=re.S))


def test_hostile_report_text_is_escaped_in_every_markdown_file(make_inputs, tmp_path):
    result = render_card(_hostile_inputs(make_inputs), tmp_path / "card")
    readme = ModelCard.load(result.readme_path).text  # the body: the Hub shows the YAML header as metadata
    local = {str(p) for p in result.files} | {"LICENSES.md"}
    shown = _assert_inert(readme, local)
    for text in (
        CAPTION,
        AUTHOR,
        HOSTILE[3],
        HOSTILE[6],
        DATA_DIR,
        "LicenseRef-<b>x</b>[y](http://phish.example)",
    ):
        assert normalized(text) in shown, text  # shown to the reader, as text
    for text in HOSTILE:
        assert normalized(text) in shown, text  # every PII caption row, whole
    licenses = (tmp_path / "card" / "LICENSES.md").read_text(encoding="utf-8")
    assert normalized(AUTHOR) in _assert_inert(licenses, local)
    assert normalized(AUTHOR) in _assert_inert(result.summary, set())


def test_hostile_dataset_name_round_trips_through_the_yaml_metadata(make_inputs, tmp_path):
    result = render_card(_hostile_inputs(make_inputs), tmp_path / "card")
    card = ModelCard.load(result.readme_path)
    # The Hub links `datasets:` entries as repo ids: the folder name is reduced to what it can link.
    assert card.data.datasets == ["data-x-javascript-alert-1-img-src-x-onerror-alert-2"]
    header = yaml.safe_load(result.readme_path.read_text(encoding="utf-8").split("---\n")[1])
    assert header["datasets"] == card.data.datasets
    # The model-index shows the name as text: kept exactly, quoted by the YAML writer.
    names = {r["dataset"]["name"] for entry in header["model-index"] for r in entry["results"]}
    assert names == {DATA_DIR}


def test_card_html_references_nothing_outside_itself(make_inputs, tmp_path):
    result = render_card(_hostile_inputs(make_inputs), tmp_path / "card")
    page = Page(result.html_path.read_text(encoding="utf-8"))
    assert page.outside_refs() == []
    assert any(tag == "img" and v.startswith("data:image/png;base64,") for tag, _, v in page.refs)
    assert page.tags.count("details") == 1  # the metadata block; the author's </details> is text
    assert {"script", "iframe", "object", "embed", "link"}.isdisjoint(page.tags)
    assert normalized(AUTHOR) in normalized(page.text) and normalized(CAPTION) in normalized(page.text)


def test_card_html_turns_any_remote_image_or_link_into_text(tmp_path):
    """Defence in depth: even Markdown that reached the renderer unescaped cannot reach the network."""
    (tmp_path / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    body = (
        "![pixel](https://tracker.example/c.png) ![proto](//tracker.example/d.png) "
        "[phish](http://phish.example) [js](javascript:alert(1)) <https://auto.example> "
        "![outside](../secret.png) ![chart](chart.png) [list](attribution.md)"
    )
    page = Page(markdown_to_html(body, tmp_path))
    assert page.outside_refs() == []
    assert [(t, a) for t, a, _ in page.refs] == [("img", "src"), ("a", "href")]
    assert ("a", "href", "attribution.md") in page.refs
    for word in ("pixel", "proto", "phish", "js", "https://auto.example", "outside"):
        assert word in page.text


def test_a_folder_name_cannot_end_the_yaml_header_or_set_a_field(make_inputs, tmp_path):
    name = "evil\n---\nlicense: mit\n# x: ']"
    inputs = make_inputs()
    gov = inputs.governance.model_copy(update={"source": f"imagefolder:/x/{name}"})
    result = render_card(inputs.model_copy(update={"governance": gov}), tmp_path / "card")
    card = ModelCard.load(result.readme_path)
    assert card.data.license == "other" and card.data.datasets == ["evil-----license-mit-x"]
    names = {e["results"][0]["dataset"]["name"] for e in card.data.to_dict()["model-index"]}
    assert names == {name}
