"""Everything the card template shows, as ready-made strings, built from CardInputs only.

The template lays out sections and prose; every number in it arrives from here, formatted once.
A report that is missing becomes `None` here and "not run" in the card.
"""

import re
from typing import Any

from audits.report import AuditCheck, AuditReport
from governance.markdown_text import Markdown, md_code
from governance.report import GovernanceReport
from model_cards.assets import Asset, AssetCopier
from model_cards.formatting import (
    NOT_MEASURED,
    NOT_RUN,
    fmt_duration,
    fmt_number,
    fmt_share,
    fmt_value,
    md_table,
    verdict_word,
)
from model_cards.inputs import CardInputs, GateRow
from model_cards.licensing import LICENSES_FILE, CardLicense
from model_cards.metadata import dataset_name
from model_cards.provenance import provenance_view
from model_cards.third_party import collect_components
from model_cards.verdicts import VERDICT_HEADLINES, reason_words
from training.report import ComputeRecord, TrainingReport

VERIFY_COMMAND = "pipeline verify {run_id}"


def _rule(direction: str) -> str:
    return "≤" if direction == "max" else "≥"


def _verdict_word(passed: bool, threshold: object, measured: object) -> str:
    word = verdict_word(passed, threshold, measured)
    return Markdown(f"**{word}**") if not passed else word  # FAIL and NOT MEASURED withhold approval


def _audit_word(audit: AuditReport) -> str:
    """`passed`, `FAILED`, or `NOT MEASURED` when only required checks that could not be measured held it back."""
    if audit.passed:
        return "passed"
    return "FAILED" if any(c.measured is not None for c in audit.checks if not c.passed) else "NOT MEASURED"


def _checks_table(checks: list[AuditCheck]) -> str:
    return md_table(
        {
            "check": c.name,
            "measured": fmt_number(c.measured),
            "rule": "no threshold"
            if c.threshold is None
            else f"{_rule(c.direction)} {fmt_number(c.threshold)}",
            "verdict": _verdict_word(c.passed, c.threshold, c.measured),
            "what it means": c.message,
        }
        for c in checks
    )


def _metrics_rows(audits: list[AuditReport]) -> list[dict[str, str]]:
    return [
        {
            "audit": a.audit,
            "metric": md_code(m.name),
            "value": fmt_number(m.value),
            "implementation": m.implementation or "not stated",
            "feature network": m.feature_network or "none",
            "details": fmt_value(m.details) if m.details else "",
        }
        for a in audits
        for m in a.metrics
    ]


def _table_rows(rows: list[dict]) -> list[dict[str, str]]:
    return [{k: fmt_value(v, "") for k, v in row.items()} for row in rows]


def _audit_view(audit: AuditReport | None, copier: AssetCopier) -> dict[str, Any] | None:
    if audit is None:
        return None
    return {
        "passed": audit.passed,
        "verdict": _audit_word(audit),
        "failed": [c.message for c in audit.checks if not c.passed],
        "checks_table": _checks_table(audit.checks),
        "tables": [
            {"name": re.sub(r"[_\-]+", " ", name), "table": md_table(_table_rows(rows))}
            for name, rows in audit.tables.items()
            if rows
        ],
        "charts": copier.add_all(audit.audit, audit.charts),
        "examples": copier.add_all(f"{audit.audit}-examples", audit.examples),
        "notes": list(audit.notes),
        "seconds": fmt_duration(audit.seconds) if audit.seconds > 0 else "",
    }


def _data_view(gov: GovernanceReport | None, copier: AssetCopier) -> dict[str, Any] | None:
    if gov is None:
        return None
    kept_total = sum(gov.licenses_kept.values())
    return {
        "source": gov.source,
        "records_in": fmt_number(gov.records_in),
        "decisions_table": md_table(
            {"decision": d, "records": fmt_number(n), "share": fmt_share(n, gov.records_in)}
            for d, n in gov.decisions.items()
        ),
        "kept": fmt_number(gov.decisions.get("keep", 0)),
        "splits_table": md_table({"split": s, "records": fmt_number(n)} for s, n in gov.split_counts.items()),
        "licenses_table": md_table(
            {"licence (SPDX)": lic, "kept records": fmt_number(n), "share": fmt_share(n, kept_total)}
            for lic, n in sorted(gov.licenses_kept.items(), key=lambda kv: -kv[1])
        ),
        "reasons_table": md_table(
            {"reason": md_code(code), "records": fmt_number(n), "meaning": reason_words(code)}
            for code, n in sorted(gov.reasons.items(), key=lambda kv: -kv[1])
        ),
        "stages_table": md_table(
            {
                "stage": s.stage,
                "records in": fmt_number(s.records_in),
                "decided": fmt_value(s.decided) if s.decided else "",
                "reasons": fmt_value(s.reasons) if s.reasons else "",
                "time": fmt_duration(s.seconds),
            }
            for s in gov.stages
        ),
        "duplicate_groups": fmt_number(gov.duplicate_groups),
        "faces_in_kept": fmt_number(gov.faces_in_kept),
        "dataset_digest": gov.dataset_digest,
        "manifest_digest": gov.manifest_digest,
        "attribution_file": copier.copy_file(gov.attribution_path),
        "datasheet_file": copier.copy_file(gov.datasheet_path),
        "charts": copier.add_all("governance", gov.charts),
    }


def _model_view(tr: TrainingReport | None, copier: AssetCopier) -> dict[str, Any] | None:
    if tr is None:
        return None
    te = tr.text_encoder
    return {
        "architecture_table": md_table(
            {"property": k, "value": fmt_value(v)} for k, v in tr.architecture.items()
        ),
        "parameters_table": md_table(
            [{"component": k, "parameters": fmt_number(v)} for k, v in tr.parameters.items()]
            + (
                [{"component": Markdown("**total**"), "parameters": fmt_number(sum(tr.parameters.values()))}]
                if tr.parameters
                else []
            )
        ),
        "text_encoder": {
            "name": te.name,
            "license": te.license,
            "version": te.version or "not stated",
            "source": te.source or "not stated",
            "note": te.note or "",
        },
        "sampler_table": md_table({"setting": k, "value": fmt_value(v)} for k, v in tr.sampler.items()),
        "model_digest": tr.model_digest or NOT_MEASURED,
        "sample_grids": copier.add_all("samples", tr.sample_grids),
        "charts": copier.add_all("training", tr.charts),
    }


def _price_text(c: ComputeRecord) -> str:
    """The price the run got as the price table states it, and per device-hour."""
    if c.price_per_device_hour is None:
        return f"none ({c.price_rate})"
    per_device = f"{fmt_number(c.price_per_device_hour)} {c.currency} per device-hour"
    if c.price_rate == "not recorded":  # a report written before prices had sources
        return per_device
    return f"{c.price_rate} = {per_device}" if "core-hour" in c.price_rate else c.price_rate


def _cost_text(c: ComputeRecord) -> str:
    # A device without a price says so and names the setting, rather than borrowing another rate.
    if c.estimated_cost is None:
        return f"not estimated: set {c.price_setting}"
    return f"{fmt_number(c.estimated_cost)} {c.currency}"


def _compute_table(tr: TrainingReport, budget: str) -> str:
    c = tr.compute
    rows = [
        ("hardware", f"{c.device_count} x {c.device_name} ({c.device_type})"),
        ("CPU", c.cpu),
        ("processes", fmt_number(c.processes)),
        ("precision", c.precision),
        ("speed options", fmt_value(c.speed_options) if c.speed_options else "none"),
        ("run budget (whole pipeline)", budget or "not stated"),
        ("training budget", fmt_duration(tr.budget_s)),
        ("training wall-clock", fmt_duration(c.wall_clock_s)),
        ("device-hours", fmt_number(c.device_hours)),
        ("optimizer steps", fmt_number(tr.steps)),
        ("images seen", fmt_number(tr.images_seen)),
        ("throughput (images/s, whole training wall-clock)", fmt_number(tr.throughput_images_per_s)),
        ("throughput in training iterations (images/s)", fmt_number(tr.step_images_per_s)),
        ("stopped because", tr.stopped_reason),
        ("resumed from step", fmt_number(tr.resumed_from_step, "not resumed")),
        ("final training loss", fmt_number(tr.final_loss)),
        ("FLOPs per image", fmt_number(c.flops_per_image)),
        ("model FLOPs utilisation (in training iterations)", fmt_number(c.mfu)),
        ("energy (kWh)", fmt_number(c.energy_kwh)),
        ("energy method", c.energy_method),
        ("CO2-eq (kg)", fmt_number(c.co2_kg)),
        ("price applied", _price_text(c)),
        ("price source", f"{c.price_source} (as of {c.price_as_of})" if c.price_as_of else c.price_source),
        ("estimated cost", _cost_text(c)),
        ("cost assumptions", c.cost_assumptions),
        ("inference throughput (images/s, one image per call)", fmt_number(tr.inference_images_per_s)),
        (
            "cost per million images (at that rate: an upper bound for batched generation)",
            _cost_text(c) if c.estimated_cost is None else fmt_number(tr.cost_per_million_images),
        ),
    ]
    return md_table({"quantity": k, "value": v} for k, v in rows)


def _glance_table(inputs: CardInputs, lic: CardLicense) -> str:
    """The key facts of the run in one table, right under the verdict."""
    gov, tr = inputs.governance, inputs.training
    rows: list[tuple[str, str]] = [("verdict", inputs.verdict.replace("_", " "))]
    if gov is not None:
        rows += [
            (
                "data",
                f"{dataset_name(inputs)}: {fmt_number(gov.decisions.get('keep', 0))} kept of "
                f"{fmt_number(gov.records_in)} records",
            ),
        ]
    else:
        rows.append(("data", f"governance {NOT_RUN}"))
    rows.append(
        ("licence", lic.license + (f" ({', '.join(p.spdx for p in lic.parts)})" if lic.mixed else ""))
    )
    if tr is not None:
        c = tr.compute
        rows += [
            ("parameters", fmt_number(sum(tr.parameters.values())) if tr.parameters else NOT_MEASURED),
            ("hardware", f"{c.device_count} x {c.device_name}"),
            ("training wall-clock", fmt_duration(c.wall_clock_s)),
            ("device-hours", fmt_number(c.device_hours)),
            ("images seen", fmt_number(tr.images_seen)),
            ("energy (kWh)", fmt_number(c.energy_kwh)),
            ("estimated cost", _cost_text(c)),
        ]
    else:
        rows.append(("model", f"training {NOT_RUN}: no model exists"))
    by_name = {a.audit: a for a in inputs.audits}
    for name in inputs.audit_order:
        audit = by_name.get(name)
        rows.append((f"{name} audit", NOT_RUN if audit is None else _audit_word(audit)))
    return md_table({"at a glance": k, "value": v} for k, v in rows)


def _gate_rows(inputs: CardInputs) -> tuple[list[GateRow], bool]:
    """The pipeline's gates table; derived from the audit checks when the pipeline passed none."""
    if inputs.gates:
        return inputs.gates, False
    return [row for a in inputs.audits for row in GateRow.of_audit(a)], True


def _limitations(inputs: CardInputs, audits: dict[str, AuditReport | None]) -> list[str]:
    """Limitations that follow from this run's reports (the template adds the general ones)."""
    found: list[str] = []
    tr, gov = inputs.training, inputs.governance
    if tr is not None:
        if (res := tr.architecture.get("resolution")) is not None:
            found.append(f"The model generates images of {fmt_value(res)} pixels per side.")
        found.append(
            f"Training saw {fmt_number(tr.images_seen)} images in {fmt_number(tr.steps)} steps "
            f"and stopped because: {tr.stopped_reason}."
        )
    if gov is not None and tr is not None:
        found.append(
            f"The training data is {fmt_number(gov.split_counts.get('train', 0))} images from one source "
            f"({dataset_name(inputs)}); the model knows nothing outside it."
        )
    networks = sorted({m.feature_network for a in inputs.audits for m in a.metrics if m.feature_network})
    if networks:
        found.append(
            "Quality metrics are computed with the feature network(s) "
            + ", ".join(networks)
            + "; they are not comparable to numbers computed with other networks (e.g. Inception FID)."
        )
    missing = [name for name, report in audits.items() if report is None]
    if inputs.training is not None and missing:
        found.append("Audits not run: " + ", ".join(missing) + ".")
    for a in inputs.audits:
        found += [f"{a.audit}: {c.message}" for c in a.checks if not c.passed]
    return found


def _bibtex(inputs: CardInputs) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", inputs.model_name.lower()).strip("_") or "model"
    year = inputs.created[:4] if inputs.created[:4].isdigit() else "n.d."
    kind = "Model trained and audited" if inputs.training is not None else "Data card written"
    return "\n".join(
        [
            f"@misc{{{key}_{inputs.run_id[:8]},",
            f"  title  = {{{{{inputs.model_name}}}: {kind} by t2i-pipeline}},",
            f"  year   = {{{year}}},",
            f"  note   = {{Run {inputs.run_id}; top digest {inputs.top_digest or 'not recorded'}}},",
            "}",
        ]
    )


def build_context(
    inputs: CardInputs, lic: CardLicense, copier: AssetCopier, config_file: str | None = None
) -> dict[str, Any]:
    """The template's variables for this run (`config_file`: the resolved config written beside the card)."""
    by_name: dict[str, AuditReport | None] = dict.fromkeys(inputs.audit_order)
    for audit in inputs.audits:
        by_name[audit.audit] = audit
    gates, gates_derived = _gate_rows(inputs)
    tr = inputs.training
    data = _data_view(inputs.governance, copier)
    model = _model_view(tr, copier)
    audits = {name: _audit_view(report, copier) for name, report in by_name.items()}
    images = [a for a in copier.assets if a.is_image]
    return {
        "model_name": inputs.model_name,
        "run_id": inputs.run_id,
        "created": inputs.created,
        "code_version": inputs.code_version or "not recorded",
        "verdict": inputs.verdict,
        "headline": VERDICT_HEADLINES[inputs.verdict],
        "verdict_reasons": list(inputs.verdict_reasons),
        "has_model": tr is not None,
        "intended_use": inputs.intended_use,
        "intended_uses": inputs.intended_uses,
        "out_of_scope_uses": inputs.out_of_scope_uses,
        "not_run": NOT_RUN,
        "license": lic,
        "glance_table": _glance_table(inputs, lic),
        "licenses_file": LICENSES_FILE if lic.mixed else None,
        "license_parts_table": md_table(
            {"licence": p.spdx, "applies to": ", ".join(p.applies_to)} for p in lic.parts
        ),
        "dataset_name": dataset_name(inputs),
        "data": data,
        "model": model,
        "compute_table": _compute_table(tr, inputs.budget) if tr is not None else None,
        "evaluation_table": md_table(_metrics_rows(inputs.audits)),
        "audits": audits,
        "provenance": provenance_view(by_name.get("deepfake"), copier, inputs.run_id) if tr else None,
        "gates_table": md_table(
            {
                "stage": g.stage,
                "gate": g.name,
                "measured": fmt_value(g.measured),
                "threshold": fmt_value(g.threshold, "none"),
                "verdict": _verdict_word(g.passed, g.threshold, g.measured),
                "message": g.message,
            }
            for g in gates
        ),
        "gates_derived": gates_derived,
        "components_table": md_table(
            {
                "component": c.name,
                "kind": c.kind,
                "version": c.version or "",
                "licence": c.license,
                "used in": where,
                "source": c.source or "",
                "note": c.note or "",
            }
            for where, c in collect_components(inputs)
        ),
        "limitations": [*_limitations(inputs, by_name), *inputs.limitations],
        "digests_table": md_table(
            {"link": name, "sha256": md_code(digest)} for name, digest in inputs.digests.items()
        ),
        "top_digest": inputs.top_digest,
        "config_file": config_file,
        "verify_command": VERIFY_COMMAND.format(run_id=inputs.run_id),
        "bibtex": _bibtex(inputs),
        "missing_assets": [a for a in copier.assets if a.missing],
        "image_count": len(images),
    }


def all_assets(context: dict[str, Any]) -> list[Asset]:
    """Every asset the context refers to (for the HTML rendering and card.json)."""
    found: list[Asset] = []
    for section in (context["data"], context["model"], *context["audits"].values()):
        if section:
            for key in ("charts", "examples", "sample_grids"):
                found += section.get(key, [])
    return found
