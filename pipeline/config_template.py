"""`pipeline init`: a commented pipeline.yaml generated from the config models themselves.

Generated rather than hand-written so the file can never drift from what the code accepts.
"""

from typing import Any

import yaml
from pydantic import BaseModel

from pipeline.config import PipelineConfig

_HEADER = """\
# pipeline.yaml — every setting with its default. Delete what you do not change.
# Override any value on the command line: pipeline run -c pipeline.yaml --set run.budget=30m
# Sections: run, governance (data, licences, provenance, dedup, nsfw), data_gate, training, audits, card.
"""


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _emit(model: BaseModel, indent: int, lines: list[str]) -> None:
    pad = "  " * indent
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if field.description:
            lines.append(f"{pad}# {field.description}")
        if isinstance(value, BaseModel):
            lines.append(f"{pad}{name}:")
            _emit(value, indent + 1, lines)
        elif isinstance(value, dict) and value:
            # a table (e.g. training.prices.gpus) in block style: one entry a line, easy to edit
            block = yaml.safe_dump(_jsonable(value), default_flow_style=None, sort_keys=False, width=10_000)
            lines.append(f"{pad}{name}:")
            lines += [f"{pad}  {line}" for line in block.splitlines()]
        else:
            lines.append(f"{pad}{name}: {_scalar(_jsonable(value))}")


def _jsonable(value: Any) -> Any:
    from pathlib import Path

    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def default_config_yaml() -> str:
    """The commented default config as YAML text."""
    lines: list[str] = [_HEADER]
    _emit(PipelineConfig(), 0, lines)
    return "\n".join(lines) + "\n"
