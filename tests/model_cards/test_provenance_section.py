"""The card's provenance section, from a deepfake report whose outputs were really signed and attacked."""

import pytest

from audits.config import DeepfakeConfig
from audits.provenance_robustness import OutputSigner, audit_output_provenance, signer_row
from model_cards.api import render_card
from tests.audits.emoji_governed import ASSETS
from tests.governance.c2pa_signing import signer_credentials
from training.output_credentials import load_credentials

RUN = "0123456789abcdef0123456789abcdef"  # the run id of the conftest's card inputs


@pytest.fixture(scope="module")
def provenance_audit(tmp_path_factory):
    from audits.governed_data import load_image

    image = load_image(ASSETS / "2764.png", 32)[None]  # red heart, Twemoji (CC-BY 4.0)
    cfg = DeepfakeConfig(watermark_images=1)
    out = tmp_path_factory.mktemp("deepfake")
    return audit_output_provenance(
        cfg, image, OutputSigner.for_run(RUN, "emoji-t2i-tiny"), out, lambda *a: None
    )


def _card(make_inputs, tmp_path, found, signing=None) -> str:
    inputs = make_inputs()
    deepfake = next(a for a in inputs.audits if a.audit == "deepfake")
    deepfake.tables["mark_survival"] = found.rows
    deepfake.tables["output_signing"] = signing or found.signing
    deepfake.charts.append(found.chart)
    return render_card(inputs, tmp_path / "card").readme_path.read_text(encoding="utf-8")


def test_the_card_says_which_marks_who_signed_and_what_survived(make_inputs, tmp_path, provenance_audit):
    text = _card(make_inputs, tmp_path, provenance_audit)
    section = text.split("## Provenance of generated images", 1)[1].split("\n## ", 1)[0]
    assert "trainedAlgorithmicMedia" in section and "dwtDctSvd" in section and "C2PA" in section
    assert "self-signed throw-away: not trustworthy for publishing" in section
    subject = provenance_audit.signing[0]["subject"]  # read from the signing certificate
    assert "throw-away signer" in subject and RUN in subject and subject in section
    rows = {r["attack"]: r for r in provenance_audit.rows}
    for name in ("jpeg_q75", "crop_0.9", "webp_q80", "unmarked"):
        shown = f"{100 * rows[name]['watermark']:.0f}%"
        line = next(ln for ln in section.splitlines() if ln.startswith(f"| {name} "))
        assert shown in line, (name, line)
    assert "| none " in section and "100%" in section.split("| none ", 1)[1].splitlines()[0]
    assert f"pipeline provenance IMAGE.png --run-id {RUN}" in section
    assert "Article 50(2)" in section and "time-stamp" in section
    assert "mark_survival" in section  # the chart


def test_a_configured_signer_is_named_by_subject_and_issuer(make_inputs, tmp_path, provenance_audit):
    chain, key, _ = signer_credentials()
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "key.pem").write_bytes(key)
    row = signer_row(load_credentials(tmp_path / "chain.pem", tmp_path / "key.pem"))
    text = _card(make_inputs, tmp_path, provenance_audit, [row])
    section = text.split("## Provenance of generated images", 1)[1].split("\n## ", 1)[0]
    assert row["subject"] in section and row["issuer"] in section and row["subject"] != row["issuer"]
    assert "not trustworthy" not in section and "throw-away key" not in section


def test_without_marked_outputs_the_card_says_robustness_was_not_measured(make_inputs, tmp_path):
    text = render_card(make_inputs(), tmp_path / "card").readme_path.read_text(encoding="utf-8")
    section = text.split("## Provenance of generated images", 1)[1].split("\n## ", 1)[0]
    assert "Robustness was not measured" in section and "no output was signed" in section
