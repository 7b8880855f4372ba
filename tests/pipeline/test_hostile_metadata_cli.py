"""Hostile metadata through the real CLI: captions, authors, licences, URLs, extra fields and even the
folder name are shown as text in the card, the attribution list and the datasheet; script-carrying
source URLs are quarantined with their reason; card.html references nothing outside itself.

The images are real third-party icons (tests/data/hostile_text/README.md). The data gate is set to
block (`data_gate.min_kept`), so the run stops before training and still writes the data card, the
attribution list and the datasheet: one cheap run (about 25 s wall-clock on 2 cores).
"""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from huggingface_hub import ModelCard

from pipeline.config import RunConfig
from pipeline.recording import Recorder, mlflow_description
from tests.model_cards.rendering import Page, normalized, renderings
from tests.pipeline.real_cli import cli, run_id_of

pytestmark = pytest.mark.slow

IMAGES = Path(__file__).parents[1] / "data" / "hostile_text"
FOLDER = "data [t](javascript:alert(1)) <b>x<b>"  # a folder name cannot hold "/"
TRACKER = "![t](https://tracker.example/c.png)"
FAKE = "</details><h1>FAKE APPROVED</h1>"
# file, caption, author, licence, source_url, skin_tone (an attribute field), expected decision
RECORDS = [
    ("calculator.png", f"a star {TRACKER}", "Ulisse Perusin", "CC0-1.0", "https://example.org/calc.png", "<img src=https://tracker.example/a.png>", "keep"),
    ("trash.png", "[link](http://phish.example)", FAKE, "CC0-1.0", "pkg:deb/debian/tango-icon-theme@0.8.90-8", "medium [x](http://phish.example)", "keep"),
    ("printer.png", "printer", "Rodney Dawes", "CC0-1.0", "javascript:alert(3)", "light", "quarantine"),
    ("weather-clear.png", "sun", "Lapo Calamandrei", "CC0-1.0", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "light", "quarantine"),
    ("web-browser.png", "globe", "Jakub Steiner", "CC0-1.0", "vbscript:msgbox(1)", "light", "quarantine"),
    ("go-home.png", "<img src=https://tracker.example/p.png onerror=alert(1)> home", "[Jakub](https://phish.example/j) Steiner", "CC0-1.0", "s3://bucket/icons/go-home.png", "dark", "keep"),
    ("star.png", "star www.phish.com or phish.com/login", "Twitter, Inc. <script>alert(1)</script>", "CC-BY-4.0", "gs://bucket/star.png", "medium", "keep"),
    ("link.png", "link", "Twitter, Inc.", "![l](https://tracker.example/l.png)", "ftp://mirror.example/link.png", "dark", "quarantine"),
]  # fmt: skip
SCRIPT_URLS = ("javascript:", "data:", "vbscript:")


@pytest.fixture(scope="module")
def blocked_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    data = root / FOLDER
    data.mkdir()
    rows = []
    for name, caption, author, licence, url, tone, _ in RECORDS:
        shutil.copyfile(IMAGES / name, data / name)
        rows.append(
            {
                "file_name": name,
                "text": caption,
                "author": author,
                "license": licence,
                "source_url": url,
                "skin_tone": tone,
                "notes": f"extra field {TRACKER}",
            }
        )
    (data / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    settings = ["data_gate.min_kept=1000", "run.budget=60s", "governance.data.attribute_fields=[skin_tone]"]
    proc = cli(root, "run", "--data", str(data), *[a for s in settings for a in ("--set", s)])
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = root / "runs" / run_id_of(proc)
    return run_dir, pd.read_parquet(run_dir / "governance" / "manifest.parquet").set_index("file_name")


def test_script_and_unknown_source_urls_are_quarantined_with_their_reason(blocked_run):
    _, manifest = blocked_run
    for name, *_, url, _, decision in RECORDS:
        row = manifest.loc[name]
        assert row["decision"] == decision, (name, row["decision"], list(row["reasons"]))
        invalid = "source_url_invalid" in list(row["reasons"])
        assert invalid == (url.startswith(SCRIPT_URLS) or url.startswith("ftp:")), name
        if invalid:
            evidence = json.loads(row["evidence"])["source_url"]
            assert evidence["source_url"] == url and evidence["problem"], evidence
    assert "license_unknown" in list(manifest.loc["link.png", "reasons"])


def _inert(markdown: str, allowed_links: set[str]) -> str:
    shown = ""
    for renderer, html in renderings(markdown).items():
        page = Page(html)
        assert {"script", "details", "iframe"}.isdisjoint(page.tags), renderer
        images = [v for tag, _, v in page.refs if tag == "img"]
        assert all(not v.startswith(("http", "//")) and ":" not in v.split("/")[0] for v in images), images
        links = {v for tag, _, v in page.refs if tag == "a"}
        assert links <= allowed_links, (renderer, links - allowed_links)
        assert "FAKE" not in " ".join(re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", html, flags=re.S)), renderer
        shown = normalized(page.text)
    return shown


def test_attribution_list_shows_every_kept_field_as_text_and_no_quarantined_url(blocked_run):
    run_dir, _ = blocked_run
    text = (run_dir / "card" / "attribution.md").read_text(encoding="utf-8")
    assert text == (run_dir / "governance" / "attribution.md").read_text(encoding="utf-8")
    licence_deeds = {
        "https://creativecommons.org/publicdomain/zero/1.0/",
        "https://creativecommons.org/licenses/by/4.0/",
    }
    shown = _inert(text, licence_deeds)
    for _, caption, author, _, url, _, decision in RECORDS:
        if decision == "keep":
            for value in (caption, author, url):
                assert normalized(value) in shown, value  # shown whole, as text
    for raw in (TRACKER, FAKE, "[link](http://phish.example)", "<img src=", "<script>"):
        assert not re.search(r"(?<!\\)" + re.escape(raw), text), raw  # only ever preceded by an escape
    assert not any(s in text for s in SCRIPT_URLS)


def test_datasheet_shows_attribute_values_and_the_folder_as_text(blocked_run):
    run_dir, _ = blocked_run
    text = (run_dir / "card" / "datasheet.md").read_text(encoding="utf-8")
    shown = _inert(text, set())
    for value in ("<img src=https://tracker.example/a.png>", "medium [x](http://phish.example)", FOLDER):
        assert normalized(value) in shown, value
    assert "source_url_invalid" in shown


def test_card_files_are_inert_and_card_html_is_standalone(blocked_run):
    run_dir, _ = blocked_run
    card_dir = run_dir / "card"
    body = ModelCard.load(card_dir / "README.md").text
    shown = _inert(body, _card_files(card_dir))
    assert normalized(FOLDER) in shown and "source_url_invalid" in shown
    page = Page((card_dir / "card.html").read_text(encoding="utf-8"))
    assert page.outside_refs() == []
    assert page.tags.count("details") == 1  # only the metadata block
    for path in card_dir.rglob("*"):
        if path.suffix in (".md", ".html", ".json", ".yaml"):
            content = path.read_text(encoding="utf-8")
            assert not any(u in content for u in ("javascript:alert(3)", "vbscript:", "data:text/html")), path


def _card_files(card_dir: Path) -> set[str]:
    """The card's own files: the only links it may have."""
    return {p.relative_to(card_dir).as_posix() for p in card_dir.rglob("*") if p.is_file()}


def test_mlflow_gets_a_description_its_renderer_shows_as_text(tmp_path, monkeypatch):
    """MLflow's UI (showdown) ignores `\\:` and `\\@`: they reach it as entities, code spans untouched."""
    from governance.markdown_text import md_code, md_text

    code = md_code("https://x.example/a\\:b")
    summary = f"caption {md_text(TRACKER + ' mail a@b.example $x$ AT&amp;T')} url {code}"
    text = mlflow_description(summary)
    assert (
        "https&#58;//tracker" in text
        and "a&#64;b" in text
        and "&#36;x&#36;" in text
        and "AT&amp;amp;T" in text
    )
    assert "`https://x.example/a\\:b`" in text  # verbatim inside the code span
    assert "\\:" not in text.replace("a\\:b", "") and "\\@" not in text and "<" not in text

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    rec = Recorder(
        RunConfig(
            tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
            artifact_location=(tmp_path / "artifacts").as_uri(),
            experiment="hostile",
        )
    )
    run_id = rec.start("hostile", tags={})
    version = rec.register_model("hostile-model", run_id, "training/model", summary)
    assert rec.client.get_model_version("hostile-model", version).description == text
    rec.describe_version("hostile-model", version, "<img src=https://tracker.example/x.png>")
    assert rec.client.get_model_version("hostile-model", version).description.startswith("&lt;img")
