"""Every third-party component a run used (weights, tools, data), gathered from all reports."""

from governance.components import Component
from governance.used_components import NUDENET_LICENSE
from model_cards.inputs import CardInputs


def _disclosed(component: Component) -> Component:
    """NudeNet as governance reports it (`NUDENET_LICENSE`), also in a report that stated another licence."""
    if "nudenet" in component.name.lower() and component.license != NUDENET_LICENSE:
        note = f"reported as {NUDENET_LICENSE}: the wheel ships AGPL-3.0 licence text (stated: {component.license})"
        if component.note:
            note = f"{component.note}; {note}"
        return component.model_copy(update={"license": NUDENET_LICENSE, "note": note})
    return component


def collect_components(inputs: CardInputs) -> list[tuple[str, Component]]:
    """(where it was used, component) for every component in every report, de-duplicated, in stage order."""
    sources: list[tuple[str, list[Component]]] = []
    if inputs.governance is not None:
        sources.append(("governance", inputs.governance.components))
    if inputs.training is not None:
        sources.append(("training", [inputs.training.text_encoder, *inputs.training.components]))
    sources += [(f"audit: {a.audit}", a.components) for a in inputs.audits]
    sources.append(("pipeline", inputs.components))

    seen: dict[tuple[str, str | None, str], int] = {}
    rows: list[tuple[str, Component]] = []
    for stage, components in sources:
        for raw in components:
            component = _disclosed(raw)
            key = (component.name, component.version, component.license)
            if key in seen:
                where, kept = rows[seen[key]]
                if stage not in where.split(", "):
                    rows[seen[key]] = (f"{where}, {stage}", kept)
                continue
            seen[key] = len(rows)
            rows.append((stage, component))
    return rows
