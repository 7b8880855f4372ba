"""render_card: every section and metadata field, filled from the reports; blocked / failed / missing runs."""

import json
import re
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard

from model_cards.api import portable_paths, render_card
from model_cards.formatting import NOT_RUN, fmt_duration, fmt_number

from .conftest import png

SECTIONS = [
    "## Model details",
    "## Intended and out-of-scope uses",
    "## Training data",
    "## Training procedure and compute",
    "## Evaluation",
    "## Bias audit",
    "## Deepfake and misuse risk",
    "## Governance verdicts",
    "## Third-party components and their licences",
    "## Limitations",
    "## How to verify",
    "## Attribution and citation",
]


def _render(inputs, out: Path) -> str:
    return render_card(inputs, out).readme_path.read_text(encoding="utf-8")


def test_approved_card_has_every_section_and_number_from_reports(make_inputs, tmp_path):
    inputs = make_inputs()
    text = _render(inputs, tmp_path / "card")
    for heading in SECTIONS:
        assert heading in text, heading
    tr, gov = inputs.training, inputs.governance
    expected = [
        fmt_number(gov.records_in),
        fmt_number(gov.decisions["keep"]),
        fmt_number(gov.split_counts["train"]),
        fmt_number(gov.reasons["duplicate_near"]),
        fmt_number(tr.parameters["denoiser"]),
        fmt_number(sum(tr.parameters.values())),
        fmt_number(tr.images_seen),
        fmt_number(tr.throughput_images_per_s),
        fmt_number(tr.compute.device_hours),
        fmt_duration(tr.compute.wall_clock_s),
        fmt_number(tr.compute.energy_kwh),
        f"{fmt_number(tr.compute.estimated_cost)} {tr.compute.currency}",
        tr.compute.cost_assumptions,
        tr.compute.device_name,
        tr.text_encoder.name,
        inputs.top_digest,
        f"pipeline verify {inputs.run_id}",
    ]
    for audit in inputs.audits:
        for metric in audit.metrics:
            expected += [metric.name, fmt_number(metric.value), metric.implementation]
            if metric.feature_network:
                expected.append(metric.feature_network)
        expected += [c.message for c in audit.checks]
    expected += [d for d in inputs.digests.values()]
    for value in expected:
        assert value in text, value
    assert "NOT APPROVED" not in text
    assert NOT_RUN not in text


@pytest.mark.parametrize(
    ("change", "render"),
    [
        (
            lambda i: setattr(i.governance, "records_in", 98_765),
            lambda i: fmt_number(i.governance.records_in),
        ),
        (
            lambda i: setattr(i.training, "images_seen", 4_242_424),
            lambda i: fmt_number(i.training.images_seen),
        ),
        (
            lambda i: setattr(i.training.compute, "wall_clock_s", 7_777.7),
            lambda i: fmt_duration(i.training.compute.wall_clock_s),
        ),
        (
            lambda i: setattr(i.training.compute, "estimated_cost", 31.4159),
            lambda i: fmt_number(i.training.compute.estimated_cost),
        ),
        (
            lambda i: setattr(i.training.compute, "energy_kwh", 0.6789),
            lambda i: fmt_number(i.training.compute.energy_kwh),
        ),
        (
            lambda i: i.training.parameters.update(denoiser=7_654_321),
            lambda i: fmt_number(i.training.parameters["denoiser"]),
        ),
        (
            lambda i: setattr(i.audits[0].metrics[0], "value", 123.456),
            lambda i: fmt_number(i.audits[0].metrics[0].value),
        ),
        (
            lambda i: setattr(i.audits[1].checks[0], "threshold", 0.777),
            lambda i: fmt_number(i.audits[1].checks[0].threshold),
        ),
    ],
)
def test_a_changed_report_number_changes_the_card(make_inputs, tmp_path, change, render):
    before = make_inputs()
    after = make_inputs()
    change(after)
    old, new = render(before), render(after)
    assert old != new
    text_before = _render(before, tmp_path / "before")
    text_after = _render(after, tmp_path / "after")
    assert new in text_after and new not in text_before


def test_metadata_parses_with_model_card_load(make_inputs, tmp_path):
    inputs = make_inputs()
    result = render_card(inputs, tmp_path / "card")
    data = ModelCard.load(result.readme_path).data
    # CC-BY-4.0 data + Apache-2.0 text encoder: mixed, so "other" with a name and a link to the list.
    assert data.license == "other"
    assert data.license_name and data.license_link == "LICENSES.md"
    assert (tmp_path / "card" / data.license_link).is_file()
    assert data.pipeline_tag == "text-to-image" and data.library_name == "diffusers"
    assert "verdict-approved" in data.tags and "unet" in data.tags
    assert data.datasets == [inputs.governance.source]
    names = {m.name for a in inputs.audits for m in a.metrics}
    assert {r.metric_type for r in data.eval_results} == names
    by_name = {r.metric_name: r.metric_value for r in data.eval_results}
    for audit in inputs.audits:
        for metric in audit.metrics:
            assert by_name[metric.name] == pytest.approx(metric.value)
    assert data.co2_eq_emissions["emissions"] == pytest.approx(inputs.training.compute.co2_kg * 1000)
    assert data.co2_eq_emissions["source"] == inputs.training.compute.energy_method
    assert data.co2_eq_emissions["geographical_location"] == inputs.config["training"]["country_iso_code"]


def test_single_licence_is_the_lower_case_spdx_id(make_inputs, tmp_path):
    inputs = make_inputs()
    inputs.governance.licenses_kept = {"Apache-2.0": 3511}
    inputs.governance.obligations.licenses = {"Apache-2.0": 3511}
    result = render_card(inputs, tmp_path / "card")
    data = ModelCard.load(result.readme_path).data
    assert data.license == "apache-2.0"
    assert data.license_name is None
    assert not (tmp_path / "card" / "LICENSES.md").exists()


def test_co2_is_omitted_when_not_measured(make_inputs, tmp_path):
    inputs = make_inputs()
    inputs.training.compute.co2_kg = None
    inputs.training.compute.energy_kwh = None
    text = _render(inputs, tmp_path / "card")
    assert "co2_eq_emissions" not in ModelCard(text).data.to_dict()
    assert re.search(r"\| energy \(kWh\) \| not measured \|", text)


def test_not_approved_card_states_verdict_and_reasons_first(make_inputs, tmp_path):
    inputs = make_inputs(verdict="not_approved", verdict_reasons=["replication_rate 0.41 is above 0.2"])
    check = inputs.audits[2].checks[0]
    check.measured, check.passed, check.message = 0.41, False, "41% of outputs replicate a training image"
    inputs.gates[-1].passed = False
    text = _render(inputs, tmp_path / "card")
    body = text.split("\n---\n", 1)[1]
    first_section = body.index("## ")
    assert "NOT APPROVED" in body[:first_section]
    assert "replication_rate 0.41 is above 0.2" in body[:first_section]
    assert "**FAIL**" in text
    assert "41% of outputs replicate a training image" in text.split("## Limitations", 1)[1]
    assert "verdict-not-approved" in ModelCard(text).data.tags


def test_blocked_run_gets_a_data_card(make_inputs, tmp_path):
    reason = "only 12 records kept; the data gate needs at least 100"
    inputs = make_inputs(
        verdict="blocked",
        verdict_reasons=[reason],
        training=None,
        audits=[],
        gates=[],
        digests={"manifest": "1" * 64},
    )
    result = render_card(inputs, tmp_path / "card")
    text = result.readme_path.read_text()
    head = text.split("## ", 1)[0]
    assert "data card" in head and "BLOCKED" in head and reason in head
    assert "No model exists" in text
    for heading in SECTIONS:
        assert heading in text
    assert f"Training was {NOT_RUN}" in text
    assert fmt_number(inputs.governance.records_in) in text
    data = ModelCard.load(result.readme_path).data
    assert data.pipeline_tag is None and data.eval_results is None
    assert "data-card" in data.tags
    assert data.license == "cc-by-4.0"  # data only: no text encoder inside a model that does not exist
    assert json.loads(result.json_path.read_text())["derived"]["card_kind"] == "data"


def test_missing_reports_render_as_not_run(make_inputs, tmp_path):
    inputs = make_inputs(
        verdict="incomplete", governance=None, training=None, audits=[], gates=[], digests={}
    )
    text = _render(inputs, tmp_path / "card")
    assert f"Governance was {NOT_RUN}" in text
    assert f"The bias audit was {NOT_RUN}" in text
    assert f"The deepfake audit was {NOT_RUN}" in text
    assert "INCOMPLETE" in text
    assert ModelCard(text).data.license == "unknown"


def test_audits_missing_on_a_trained_model_are_named(make_inputs, tmp_path):
    inputs = make_inputs(verdict="incomplete")
    inputs.audits = [a for a in inputs.audits if a.audit == "quality"]
    text = _render(inputs, tmp_path / "card")
    assert f"The bias audit was {NOT_RUN}" in text
    assert "Audits not run: bias, deepfake." in text


def test_charts_are_copied_and_linked_relatively(make_inputs, tmp_path):
    inputs = make_inputs()
    out = tmp_path / "card"
    result = render_card(inputs, out)
    text = result.readme_path.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    sources = [*inputs.governance.charts, *inputs.training.charts, *inputs.training.sample_grids]
    for audit in inputs.audits:
        sources += [*audit.charts, *audit.examples]
    assert len(links) == len(sources)
    for link in links:
        assert link.startswith("assets/") and (out / link).is_file()
        assert Path(link) in result.files
    copied = {(out / link).read_bytes() for link in links}
    assert copied == {p.read_bytes() for p in sources}
    assert "attribution.md" in text and (out / "attribution.md").is_file()


def test_a_missing_chart_is_reported_not_fatal(make_inputs, tmp_path):
    inputs = make_inputs()
    inputs.audits[1].charts.append(tmp_path / "nowhere" / "gone.png")
    text = _render(inputs, tmp_path / "card")
    assert "chart not found: `gone.png`" in text


def test_rerender_drops_stale_assets(make_inputs, tmp_path):
    out = tmp_path / "card"
    render_card(make_inputs(), out)
    stale = png(out / "assets" / "old-chart.png")
    render_card(make_inputs(), out)
    assert not stale.exists()


def test_card_json_holds_inputs_and_derived_fields(make_inputs, tmp_path):
    inputs = make_inputs()
    result = render_card(inputs, tmp_path / "card")
    text = result.json_path.read_text()
    card = json.loads(text)
    assert card["inputs"] == portable_paths(json.loads(inputs.model_dump_json()), tmp_path)
    # Published cards must not carry the local folders of whoever ran the pipeline.
    assert str(tmp_path) not in text
    manifest = card["inputs"]["governance"]["manifest_path"]
    assert manifest == Path(inputs.governance.manifest_path).relative_to(tmp_path).as_posix()
    derived = card["derived"]
    assert derived["card_kind"] == "model" and derived["verdict"] == "approved"
    assert derived["metadata"]["license"] == "other"
    assert {c["name"] for c in derived["components"]} >= {
        "NudeNet 320n detector",
        "all-MiniLM-L6-v2",
        "MLflow",
    }
    assert {"README.md", "card.json", "card.html"} <= set(derived["card_files"])
    for rel in derived["card_files"]:
        assert (tmp_path / "card" / rel).is_file()


def test_nudenet_is_disclosed_as_agpl(make_inputs, tmp_path):
    text = _render(make_inputs(), tmp_path / "card")
    row = next(line for line in text.splitlines() if line.startswith("| NudeNet"))
    assert "| AGPL-3.0 |" in row


def test_html_is_standalone_with_embedded_charts(make_inputs, tmp_path):
    result = render_card(make_inputs(), tmp_path / "card")
    html = result.html_path.read_text()
    assert "<h2>Training procedure and compute</h2>" in html
    assert "<table>" in html
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<script" not in html and "http://" not in html.split("<body>", 1)[0]
    assert "https://" not in html.split("<body>", 1)[0]


def test_report_text_cannot_inject_html(make_inputs, tmp_path):
    inputs = make_inputs()
    inputs.audits[0].checks[0].message = "<script>alert(1)</script> | pipe"
    result = render_card(inputs, tmp_path / "card")
    assert "<script>" not in result.html_path.read_text()
    assert "\\| pipe" in result.readme_path.read_text()


def test_no_environment_secret_reaches_any_card_file(make_inputs, tmp_path, monkeypatch):
    secret = "hf_FakeTokenForTheTest1234567890"
    monkeypatch.setenv("HF_TOKEN", secret)
    inputs = make_inputs()
    # a secret that slipped into a report anyway (the pipeline should have redacted it)
    inputs.components[0].source = f"https://user:{secret}@example.org/mlflow"
    inputs.config["tracking_token"] = secret
    out = tmp_path / "card"
    render_card(inputs, out)
    for path in out.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_resolved_config_is_written_and_linked(make_inputs, tmp_path):
    inputs = make_inputs()
    result = render_card(inputs, tmp_path / "card")
    assert Path("config.yaml") in result.files
    assert yaml.safe_load((tmp_path / "card" / "config.yaml").read_text()) == inputs.config
    assert "[config.yaml](config.yaml)" in result.readme_path.read_text()


def test_glance_table_sits_between_verdict_and_first_section(make_inputs, tmp_path):
    inputs = make_inputs()
    text = _render(inputs, tmp_path / "card").split("\n---\n", 1)[1]
    head = text[: text.index("## ")]
    assert "| at a glance | value |" in head
    assert fmt_duration(inputs.training.compute.wall_clock_s) in head
    assert fmt_number(inputs.training.compute.device_hours) in head


def test_architecture_tag_falls_back_to_the_config(make_inputs, tmp_path):
    inputs = make_inputs(config={"training": {"architecture": "transformer"}})
    inputs.training.architecture = {"resolution": 32}
    result = render_card(inputs, tmp_path / "card")
    assert "transformer" in ModelCard.load(result.readme_path).data.tags


def test_rerender_with_one_licence_removes_the_stale_licence_list(make_inputs, tmp_path):
    out = tmp_path / "card"
    render_card(make_inputs(), out)
    assert (out / "LICENSES.md").is_file()
    inputs = make_inputs()
    inputs.governance.obligations.licenses = {"Apache-2.0": 3511}
    render_card(inputs, out)
    assert not (out / "LICENSES.md").exists()


def test_data_card_claims_no_model_properties(make_inputs, tmp_path):
    inputs = make_inputs(verdict="blocked", training=None, audits=[], gates=[])
    text = _render(inputs, tmp_path / "card")
    tags = ModelCard(text).data.tags
    assert "diffusers" not in tags and "audited" not in tags
    assert "pretrained weights inside the model" not in text
    assert "the model knows nothing outside it" not in text


def test_tables_are_separated_from_paragraphs(make_inputs, tmp_path):
    text = _render(make_inputs(), tmp_path / "card")
    lines = text.splitlines()
    for i, line in enumerate(lines[1:], start=1):
        if line.startswith("|") and not lines[i - 1].startswith("|"):
            assert lines[i - 1] == "", f"table at line {i} follows text: {lines[i - 1]!r}"


def test_a_chart_listed_twice_is_shown_once(make_inputs, tmp_path):
    inputs = make_inputs()
    inputs.training.sample_grids.append(inputs.training.sample_grids[0])
    text = _render(inputs, tmp_path / "card")
    assert text.count("](assets/samples-samples.png)") == 1


def test_a_check_without_threshold_is_recorded_not_passed(make_inputs, tmp_path):
    inputs = make_inputs()
    inputs.audits[0].checks[0].threshold = None
    text = _render(inputs, tmp_path / "card")
    row = next(line for line in text.splitlines() if line.startswith("| heldout_loss |"))
    assert "| no threshold | recorded |" in row


def test_summary_fits_a_registry_description_and_leads_with_the_verdict(make_inputs, tmp_path):
    inputs = make_inputs(verdict="not_approved", verdict_reasons=["bias.representation_disparity: too high"])
    summary = render_card(inputs, tmp_path / "card").summary
    assert summary.startswith("**NOT APPROVED")
    assert "bias.representation_disparity: too high" in summary
    assert fmt_number(inputs.training.compute.device_hours) in summary
    assert "| data | kept_records |" in summary
    assert "---\n" not in summary.split("|", 1)[0]  # no YAML header
    assert len(summary) <= 4000


def test_summary_drops_the_gates_table_before_exceeding_its_limit(make_inputs, tmp_path):
    from model_cards.inputs import GateRow

    gates = [
        GateRow(stage="bias", name=f"check_{i}", measured=i, threshold=1, passed=True, message="x" * 200)
        for i in range(40)
    ]
    summary = render_card(make_inputs(gates=gates), tmp_path / "card").summary
    assert "check_0" not in summary and "at a glance" in summary
    assert len(summary) <= 4000
