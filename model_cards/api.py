"""What the pipeline calls in `model_cards`."""

import hashlib
import json
import re
import shutil
from pathlib import Path

import jinja2
import yaml
from huggingface_hub import ModelCard, ModelCardData
from pydantic import BaseModel

from governance.markdown_text import Markdown, md_code, md_text
from model_cards.assets import ASSETS_DIR, AssetCopier
from model_cards.context import all_assets, build_context
from model_cards.html import render_html
from model_cards.hub import push_to_hub
from model_cards.inputs import CardInputs
from model_cards.layout import CARD_HTML, CARD_JSON, CONFIG_FILE, README
from model_cards.licensing import LICENSES_FILE, derive_license
from model_cards.metadata import build_card_data
from model_cards.publishing import publish
from model_cards.redaction import redact
from model_cards.third_party import collect_components

__all__ = ["CARD_HTML", "CARD_JSON", "README", "CardResult", "publish", "push_to_hub", "render_card"]

CARD_JSON_SCHEMA = 1
TEMPLATES_DIR = Path(__file__).parent / "templates"
SUMMARY_LIMIT = 4000  # MLflow's registered-model-version description holds 5000 characters


class CardResult(BaseModel):
    readme_path: Path  # Hugging Face model card (YAML metadata + markdown)
    json_path: Path  # machine-readable card.json
    html_path: Path | None = None
    files: list[Path] = []  # charts and attribution list the card links to (relative to its folder)
    # Added: a short Markdown digest (verdict, reasons, key facts, gates) that fits a registry description.
    summary: str = ""


def _escape_markdown(value: object) -> object:
    """Autoescaping for Markdown: every `{{ value }}` is escaped text unless it is `Markdown` already."""
    return value if isinstance(value, Markdown) else md_text(value)


def _environment(markdown: bool = True) -> jinja2.Environment:
    """The Markdown templates' environment, or with `markdown=False` the HTML one (autoescaped).

    Our own environment rather than ModelCard.from_template's bare jinja2.Template: StrictUndefined
    makes a misspelt variable an error instead of a silently empty cell. Report values can hold
    dataset text, so the Markdown templates escape every value by default, as HTML autoescaping does;
    a template opts out with `| trusted` (tables and fragments built here) or shows a value verbatim
    with `| md_code`.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=not markdown,
        finalize=_escape_markdown if markdown else None,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["trusted"] = lambda value: Markdown(value)
    env.filters["md_code"] = md_code
    return env


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_config(config: dict, out_dir: Path) -> str | None:
    """The resolved run config (already secret-redacted by the pipeline) as YAML beside the card."""
    path = out_dir / CONFIG_FILE
    if not config:
        path.unlink(missing_ok=True)
        return None
    text = yaml.safe_dump(json.loads(json.dumps(config, default=str)), sort_keys=False, allow_unicode=True)
    path.write_text(redact(text), encoding="utf-8")
    return CONFIG_FILE


def _write_readme(env: jinja2.Environment, context: dict, card_data: ModelCardData, path: Path) -> ModelCard:
    text = env.get_template("README.md.j2").render(card_data=card_data.to_yaml(), **context)
    text = re.sub(r"\n{3,}", "\n\n", text)  # template conditionals leave blank runs; Markdown ignores them
    # ModelCard parses the YAML header back: a malformed header fails here, not on the Hub.
    card = ModelCard(redact(text))
    card.save(path)
    return card


def _write_licenses(env: jinja2.Environment, context: dict, mixed: bool, out_dir: Path) -> str | None:
    path = out_dir / LICENSES_FILE
    if not mixed:
        path.unlink(missing_ok=True)  # a re-render with one licence must not keep a stale list
        return None
    attribution = context["data"]["attribution_file"] if context["data"] else None
    text = env.get_template("LICENSES.md.j2").render(attribution_file=attribution, **context)
    path.write_text(redact(text), encoding="utf-8")
    return LICENSES_FILE


def _summary(env: jinja2.Environment, context: dict, limit: int = SUMMARY_LIMIT) -> str:
    """The verdict and key facts; the gates table too when it fits under `limit` characters."""
    template = env.get_template("summary.md.j2")
    for include_gates in (True, False):
        text = redact(re.sub(r"\n{3,}", "\n\n", template.render(include_gates=include_gates, **context)))
        if len(text) <= limit:
            return text
    return text[: limit - 1] + "…"


def portable_paths(value: object, run_dir: Path) -> object:
    """`value` with absolute local paths made shareable: relative to the run folder, or `~/...`.

    card.json is published; the folders of whoever ran the pipeline (user names included) are not
    part of the disclosure, and their relative layout is all a reader can use.
    """
    if isinstance(value, dict):
        return {k: portable_paths(v, run_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [portable_paths(v, run_dir) for v in value]
    if not isinstance(value, str) or not value.startswith("/"):
        return value
    path = Path(value)
    for root, prefix in ((run_dir.resolve(), ""), (Path.home(), "~/")):
        if path.is_relative_to(root) and root != Path("/"):
            return prefix + (path.relative_to(root).as_posix() or ".")
    return value


def render_card(inputs: CardInputs, out_dir: Path) -> CardResult:
    """Render README.md, card.json and card.html into out_dir, copying the charts the card shows.

    README.md is a Hugging Face model card (YAML metadata + Markdown); a run without a training report
    gets a data card that says why no model exists. Missing reports render as "not run".
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out_dir / ASSETS_DIR, ignore_errors=True)  # a re-render must not keep stale charts

    lic = derive_license(inputs.governance, inputs.training)
    copier = AssetCopier(out_dir)
    config_file = _write_config(inputs.config, out_dir)
    context = build_context(inputs, lic, copier, config_file)
    env = _environment()
    readme_path = out_dir / README
    card = _write_readme(env, context, build_card_data(inputs, lic), readme_path)
    licenses_file = _write_licenses(env, context, lic.mixed, out_dir)

    data = context["data"] or {}
    files = [
        f for f in (config_file, licenses_file, data.get("attribution_file"), data.get("datasheet_file")) if f
    ]
    files += [a.rel_path for a in copier.assets if a.rel_path]

    kind = "model" if inputs.training is not None else "data"
    html_path = out_dir / CARD_HTML
    html = render_html(
        _environment(markdown=False),
        card.text,
        card.data.to_yaml(),
        f"{inputs.model_name}: {kind} card",
        inputs.verdict,
        out_dir,
    )
    html_path.write_text(redact(html), encoding="utf-8")

    json_path = out_dir / CARD_JSON
    card_json = {
        "schema": CARD_JSON_SCHEMA,
        "inputs": portable_paths(inputs.model_dump(mode="json"), out_dir.parent),
        "derived": {
            "card_kind": kind,
            "verdict": inputs.verdict,
            "headline": context["headline"],
            "license": lic.model_dump(mode="json"),
            "metadata": card.data.to_dict(),
            "components": [
                {"used_in": where, **c.model_dump(mode="json")} for where, c in collect_components(inputs)
            ],
            "assets": [
                {
                    "group": a.group,
                    "title": a.title,
                    "source": portable_paths(str(a.source), out_dir.parent),
                    "path": a.rel_path,
                }
                for a in all_assets(context)
            ],
            "missing_assets": [
                portable_paths(str(a.source), out_dir.parent) for a in context["missing_assets"]
            ],
            "readme_sha256": _sha256(readme_path),
            "card_files": [README, CARD_HTML, CARD_JSON, *files],
        },
    }
    json_path.write_text(redact(json.dumps(card_json, indent=2)) + "\n", encoding="utf-8")
    return CardResult(
        readme_path=readme_path,
        json_path=json_path,
        html_path=html_path,
        files=[Path(f) for f in files],
        summary=_summary(env, context),
    )
