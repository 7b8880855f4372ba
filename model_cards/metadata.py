"""The card's YAML metadata (Hugging Face `ModelCardData`), filled from the reports only."""

import math
import re

from huggingface_hub import EvalResult, ModelCardData

from model_cards.inputs import CardInputs
from model_cards.licensing import CardLicense

TASK = "text-to-image"


def dataset_name(inputs: CardInputs) -> str:
    """The dataset's name as the card shows it: the source, without local directories."""
    if inputs.governance is None:
        return "unknown"
    source = inputs.governance.source
    kind, _, where = source.partition(":")
    if where:  # "imagefolder:/home/me/data" -> "data": a local path says nothing to a reader and leaks one
        return where.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1] or kind
    return source


def hub_dataset_id(name: str) -> str:
    """`name` as the Hub reads a `datasets:` entry (a repo id it links): only letters, digits, `.`, `_`, `-`.

    The name comes from the dataset's folder, so it can hold anything a file name can; the card's text
    shows it exactly, the metadata keeps what the Hub can link safely.
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "unknown"


def _tag(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _architecture_name(inputs: CardInputs) -> str | None:
    """The denoiser family ("unet", "transformer") from the training report, else from the resolved config."""
    arch = inputs.training.architecture if inputs.training is not None else {}
    for key in ("type", "architecture", "name"):
        if arch.get(key):
            return str(arch[key])
    training_cfg = inputs.config.get("training")
    if isinstance(training_cfg, dict) and training_cfg.get("architecture"):
        return str(training_cfg["architecture"])
    return None


def build_tags(inputs: CardInputs, lic: CardLicense) -> list[str]:
    """Tags: the task, the library, the verdict, the architecture and the licence traits."""
    tags = [TASK, "governed-data", f"verdict-{_tag(inputs.verdict)}"]
    if inputs.training is None:  # no model: no library, nothing audited
        tags.append("data-card")
    else:
        tags += ["diffusers", "audited"]
        if arch := _architecture_name(inputs):
            tags.append(_tag(arch))
    if lic.non_commercial:
        tags.append("non-commercial")
    if lic.share_alike:
        tags.append("share-alike")
    return list(dict.fromkeys(t for t in tags if t))


def eval_results(inputs: CardInputs) -> list[EvalResult]:
    """One model-index result per audit metric, named exactly as the audit names it (`Metric.name`)."""
    name = dataset_name(inputs)
    results = []
    for audit in inputs.audits:
        for metric in audit.metrics:
            if not math.isfinite(metric.value):  # the Hub rejects NaN/inf; the card's tables still show it
                continue
            results.append(
                EvalResult(
                    task_type=TASK,
                    dataset_type=hub_dataset_id(name),
                    dataset_name=name,
                    dataset_split="eval",
                    metric_type=metric.name,
                    metric_name=metric.name,
                    metric_value=metric.value,
                    metric_config=audit.audit,
                )
            )
    return results


def co2_eq_emissions(inputs: CardInputs) -> dict | None:
    """The Hub's `co2_eq_emissions` block (grams), only where the training report measured CO2."""
    if inputs.training is None or inputs.training.compute.co2_kg is None:
        return None
    compute = inputs.training.compute
    block = {
        "emissions": compute.co2_kg * 1000.0,
        "source": compute.energy_method,
        "training_type": "pre-training",
        "hardware_used": f"{compute.device_count} x {compute.device_name}",
    }
    training_cfg = inputs.config.get("training")
    if isinstance(training_cfg, dict) and training_cfg.get("country_iso_code"):
        block["geographical_location"] = str(training_cfg["country_iso_code"])  # what the tracker assumed
    return block


def build_card_data(inputs: CardInputs, lic: CardLicense) -> ModelCardData:
    """`ModelCardData` for README.md: licence, tags, datasets, model-index and CO2 where measured."""
    has_model = inputs.training is not None
    results = eval_results(inputs) if has_model else []
    extra: dict = {}
    if (co2 := co2_eq_emissions(inputs)) is not None:
        extra["co2_eq_emissions"] = co2
    return ModelCardData(
        model_name=inputs.model_name,
        license=lic.license,
        license_name=lic.license_name,
        license_link=lic.license_link,
        library_name="diffusers" if has_model else None,
        pipeline_tag=TASK if has_model else None,
        tags=build_tags(inputs, lic),
        datasets=[hub_dataset_id(dataset_name(inputs))] if inputs.governance is not None else None,
        metrics=list(dict.fromkeys(r.metric_type for r in results)) or None,
        eval_results=results or None,
        **extra,
    )
