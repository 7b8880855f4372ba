"""The pipeline config: each stage's config model composed under one root, read from safe YAML.

Stage packages own their config models; this module only composes them, applies `--set` overrides
and turns validation errors into messages that name the field, the value and what is allowed.
"""

from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from audits.config import AuditsConfig
from governance.config import FrozenConfig, GovernanceConfig
from model_cards.inputs import INTENDED_USES, OUT_OF_SCOPE_USES
from pipeline.errors import ConfigError
from training.config import TrainingConfig
from training.durations import Duration


class RunConfig(FrozenConfig):
    name: str = Field("emoji-t2i", description="model name: registered model, card and publish folder")
    budget: Duration = Field("15m", description="wall-clock for the whole run, e.g. 24h, 90m, 1h30m")
    seed: int = Field(0, description="seeds the split, training and every audit")
    output_dir: Path = Field(Path("runs"), description="local run folders: runs/<run_id>/")
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; default sqlite:///mlflow.db (MLFLOW_TRACKING_URI wins)"
    )
    artifact_location: str | None = Field(None, description="MLflow artifact root for a new experiment")
    experiment: str = Field("t2i-pipeline", description="MLflow experiment name")
    train_processes: int = Field(
        1, ge=1, description="training processes: >1 runs `accelerate launch` (one per GPU, or CPU processes)"
    )

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}", value):
            raise ValueError(
                "use letters, digits, '.', '_' and '-' only (it becomes a folder and model name)"
            )
        return value


class DataGateConfig(FrozenConfig):
    min_kept: int = Field(64, ge=1, description="fewer kept records blocks training")
    max_dropped_share: float = Field(0.5, ge=0, le=1, description="a larger dropped share blocks training")
    max_quarantined_share: float = Field(0.25, ge=0, le=1, description="a larger quarantined share blocks")
    block_on_license_conflict: bool = Field(
        True, description="block when kept licences conflict with governance.licenses.intended_use"
    )


class CardConfig(FrozenConfig):
    intended_uses: list[str] = Field(
        default_factory=lambda: list(INTENDED_USES), description="what the card says the model is for"
    )
    out_of_scope_uses: list[str] = Field(
        default_factory=lambda: list(OUT_OF_SCOPE_USES),
        description="what the card says the model is not for (a run not approved adds: any deployment)",
    )
    limitations: list[str] = Field(
        default_factory=list, description="limitations to state besides those the reports show"
    )


class PipelineConfig(FrozenConfig):
    run: RunConfig = RunConfig()
    governance: GovernanceConfig = GovernanceConfig()
    data_gate: DataGateConfig = DataGateConfig()
    training: TrainingConfig = TrainingConfig()
    audits: AuditsConfig = AuditsConfig()
    card: CardConfig = CardConfig()


def _set_dotted(tree: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: {key!r} is a value, not a section")
        node = child
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """`a.b=c` -> ("a.b", c) with c read as a YAML scalar/list (so 3, true, [x, y] work)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: write it as KEY=VALUE, e.g. --set run.budget=30m")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {text!r}: the key is empty")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def _describe(err: dict, raw: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        section = ".".join(str(p) for p in err["loc"][:-1])
        allowed = _allowed_keys(err["loc"][:-1])
        where = f"in '{section}'" if section else "at the top level"
        return f"{loc}: unknown key {where}; allowed keys: {', '.join(allowed)}"
    value = err.get("input")
    shown = repr(value) if not isinstance(value, dict) else "a section"
    # pydantic prefixes the message of a ValueError raised by a validator; the message itself is the help
    return f"{loc} = {shown}: {err['msg'].removeprefix('Value error, ')}"


def _allowed_keys(loc: tuple) -> list[str]:
    model: type[BaseModel] = PipelineConfig
    parts = list(loc)
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        annotation = field.annotation if field is not None else None
        if get_origin(annotation) is dict and parts:  # a table such as training.prices.gpus.<name>
            parts.pop(0)
            annotation = get_args(annotation)[1]
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def build_config(raw: dict, overrides: list[str] = ()) -> PipelineConfig:
    """Validate a raw config tree plus `--set` overrides; ConfigError lists every problem."""
    tree = dict(raw)
    for item in overrides:
        key, value = parse_override(item)
        _set_dotted(tree, key, value)
    try:
        return PipelineConfig.model_validate(tree)
    except ValidationError as exc:
        problems = "\n  ".join(_describe(e, tree) for e in exc.errors())
        raise ConfigError(f"invalid config:\n  {problems}") from None


def load_config(path: Path | None, overrides: list[str] = ()) -> PipelineConfig:
    """Read `path` (safe YAML) if given, else the defaults, then apply overrides."""
    raw: dict = {}
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; create one with `pipeline init {path}`")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path} is not UTF-8 text") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"{path} must hold a mapping of sections (run:, governance:, ...), not a list/value"
            )
        raw = loaded
    return build_config(raw, overrides)


def config_to_dict(cfg: BaseModel) -> dict:
    """Plain, YAML/JSON-safe dict of a config (paths as strings)."""
    return cfg.model_dump(mode="json")
