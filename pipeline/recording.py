"""MLflow recording: one parent run per `pipeline run`, one nested run per stage.

The only module that imports mlflow. It uses `MlflowClient` rather than the fluent API so no
global "active run" state leaks between runs (tests start several in one process).
"""

import os
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.config import RunConfig

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_ARTIFACTS = "mlartifacts"
PARENT_TAG = "mlflow.parentRunId"
_SECRET_KEY = re.compile(r"(token|secret|password|passwd|api[_-]?key|credential)", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
# The MLflow UI renders descriptions with showdown (GitHub flavour: autolinks, @mentions), which
# knows fewer backslash escapes than CommonMark: these become entities there, the others it honours.
_SHOWDOWN_ENTITIES = {":": "&#58;", "@": "&#64;", "&": "&amp;", "<": "&lt;", "$": "&#36;"}
_CODE_OR_ESCAPE = re.compile(
    r"(?P<code>(`+)[^`].*?(?<!`)\2(?!`))|\\(?P<char>[\s\S])|(?P<tag><(?=[A-Za-z/!?]))"
)


SCHEMA_ROWS = 1_000  # rows of the governed table MLflow infers the dataset's schema from


def telemetry_off() -> None:
    """Turn MLflow's usage telemetry off for this process and every MLflow client or server it starts.

    People run this tool on private data, so nothing about their use leaves the machine unless they opt
    in: set `MLFLOW_DISABLE_TELEMETRY=false` and `DO_NOT_TRACK=false`, which are kept as given.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")


def _quiet_mlflow() -> None:
    telemetry_off()
    # MLflow prints alembic migration chatter and "run view" links on every start; the CLI shows its own.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_SKIP_PIP_REQUIREMENTS_CHECK", "true")
    # Library progress bars (weight loading, shard writing) would interleave with the pipeline's own.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    import logging

    for name in ("mlflow", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.ERROR)


def redact(value: Any) -> Any:
    """Copy of a config tree with secrets masked: secret-looking keys and credentials in URLs."""
    if isinstance(value, dict):
        return {k: ("***" if _SECRET_KEY.search(str(k)) and v else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}***@", value)
    return value


def mlflow_description(markdown: str) -> str:
    """A Markdown description (the card summary, with dataset text escaped) as MLflow's UI must get it.

    The summary escapes text for CommonMark; showdown shows `\\:` or `\\@` with their backslash and
    still reads `\\<tag>` patterns loosely, so those escapes become HTML entities (code spans are left
    as they are, as both renderers show them verbatim) and any `<` that could open a tag is escaped.
    """

    def swap(match: re.Match) -> str:
        if match.group("code"):
            return match.group("code")
        if match.group("tag"):
            return "&lt;"
        char = match.group("char")
        return _SHOWDOWN_ENTITIES.get(char, "\\" + char)

    return _CODE_OR_ESCAPE.sub(swap, markdown)


def tracking_uri(cfg: RunConfig) -> str:
    """MLFLOW_TRACKING_URI, else the config, else a SQLite file in the working directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking_uri or DEFAULT_TRACKING_URI


def store_absent(uri: str) -> bool:
    """True for a SQLite store whose file does not exist yet: nothing to read, and reading would create it.

    Opening a SQLite store creates the database and its tables, so a read-only command on a new
    project would leave an empty `mlflow.db` behind; other stores (a server, a folder) are asked.
    """
    if not uri.startswith("sqlite:///"):
        return False
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return path != ":memory:" and not Path(path).exists()


class Recorder:
    """Writes one pipeline run into MLflow."""

    def __init__(self, cfg: RunConfig):
        _quiet_mlflow()
        from mlflow import MlflowClient

        _quiet_mlflow()  # again: importing mlflow installs its own logging levels

        self.uri = tracking_uri(cfg)
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        self.cfg = cfg
        self.run_id: str | None = None
        # Created when a run starts, not here: read-only commands (`runs`, `show`, `verify`) build a
        # Recorder too, and must not write an experiment into the store they only read.
        self._experiment_id: str | None = None

    @property
    def experiment_id(self) -> str | None:
        """The id of the configured experiment (or of the reopened run's), None while it does not exist."""
        if self._experiment_id is None:
            exp = self.client.get_experiment_by_name(self.cfg.experiment)
            self._experiment_id = exp.experiment_id if exp is not None else None
        return self._experiment_id

    def _create_experiment(self) -> str:
        """The experiment's id, creating it (with its artifact location) where it does not exist yet."""
        if self.experiment_id is not None:
            return self.experiment_id
        location = self.cfg.artifact_location
        if location is None and not self.uri.startswith(("http://", "https://", "databricks")):
            location = Path(DEFAULT_ARTIFACTS).resolve().as_uri()
        self._experiment_id = self.client.create_experiment(self.cfg.experiment, artifact_location=location)
        return self._experiment_id

    # -- runs -------------------------------------------------------------------------------------
    def start(self, run_name: str, tags: dict[str, str]) -> str:
        """Start the parent run (the first write: it creates the experiment where it does not exist)."""
        run = self.client.create_run(self._create_experiment(), run_name=run_name, tags=tags)
        self.run_id = run.info.run_id
        return self.run_id

    def reopen(self, run_id: str) -> None:
        run = self.client.get_run(run_id)  # raises if unknown
        self.run_id = run.info.run_id
        self._experiment_id = run.info.experiment_id  # its stage runs nest under it in its experiment
        self.client.update_run(run_id, status="RUNNING")

    def finish(self, status: str = "FINISHED") -> None:
        if self.run_id:
            self.client.set_terminated(self.run_id, status=status)

    @contextmanager
    def stage(self, name: str) -> Iterator[str]:
        """A nested run for one stage; marked FAILED if the stage raises."""
        if self.run_id is None:
            raise RuntimeError("Recorder.stage needs a parent run: call start() or reopen() first")
        run = self.client.create_run(
            self._create_experiment(), run_name=name, tags={PARENT_TAG: self.run_id, "pipeline.stage": name}
        )
        stage_id = run.info.run_id
        try:
            yield stage_id
        except BaseException:
            self.client.set_terminated(stage_id, status="FAILED")
            raise
        self.client.set_terminated(stage_id, status="FINISHED")

    # -- values -----------------------------------------------------------------------------------
    def params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in _flatten(redact(params)).items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i : i + 100])

    def metrics(self, run_id: str, metrics: dict[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [
            Metric(_metric_key(k), float(v), now, step or 0)
            for k, v in metrics.items()
            if v is not None and _is_number(v)
        ]
        for i in range(0, len(items), 500):
            self.client.log_batch(run_id, metrics=items[i : i + 500])

    def tags(self, run_id: str, tags: dict[str, str]) -> None:
        for k, v in tags.items():
            self.client.set_tag(run_id, k, str(redact(v)))

    def artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        if path.is_dir():
            self.client.log_artifacts(run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(run_id, str(path), artifact_path)

    def dataset(self, run_id: str, table_path: Path, digest: str, name: str, source: str) -> None:
        """`log_input` of the governed table with the digest governance computed.

        The table is never loaded whole (it holds a row per record of the dataset): MLflow infers the
        schema from its first rows, and the profile (rows, elements) comes from the Parquet footer.
        """
        import json

        import mlflow.data
        import pyarrow.parquet as pq
        from mlflow.entities import Dataset, DatasetInput, InputTag

        table = pq.ParquetFile(table_path)
        rows = table.metadata.num_rows
        head = next(table.iter_batches(batch_size=SCHEMA_ROWS), None)
        df = head.to_pandas() if head is not None else table.schema_arrow.empty_table().to_pandas()
        with warnings.catch_warnings():
            # MLflow registers two equivalent local sources ("" and "file" schemes) and warns that
            # a local path matches both; either is right.
            warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
            # Schema inference hints at missing values in integer columns; the governed table has none.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
            ds = mlflow.data.from_pandas(
                df, source=table_path.resolve().as_uri(), name=name, digest=digest[:36]
            )
            first = ds._to_mlflow_entity()
        profile = json.dumps({"num_rows": rows, "num_elements": rows * len(df.columns)})
        entity = Dataset(first.name, first.digest, first.source_type, first.source, first.schema, profile)
        self.client.log_inputs(
            run_id,
            datasets=[DatasetInput(dataset=entity, tags=[InputTag("mlflow.data.context", "training")])],
        )

    def artifact_uri(self, run_id: str) -> str:
        return self.client.get_run(run_id).info.artifact_uri

    def download(self, run_id: str, path: str, dst: Path) -> Path:
        return Path(self.client.download_artifacts(run_id, path, str(dst)))

    # -- registry ---------------------------------------------------------------------------------
    def register_model(self, name: str, run_id: str, artifact_path: str, description: str) -> str:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(
                name, description="Text-to-image models trained by `pipeline run`; see each version's card."
            )
        source = f"{self.artifact_uri(run_id)}/{artifact_path}"
        mv = self.client.create_model_version(
            name,
            source=source,
            run_id=run_id,
            description=mlflow_description(description),
            await_creation_for=60,
        )
        return str(mv.version)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, version)

    def drop_alias_if(self, name: str, alias: str, version: str) -> None:
        """Remove `alias` if it points at `version` (a rerun that no longer passes loses approval)."""
        from mlflow.exceptions import MlflowException

        try:
            current = self.client.get_model_version_by_alias(name, alias)
        except MlflowException:
            return
        if str(current.version) == str(version):
            self.client.delete_registered_model_alias(name, alias)

    def describe_version(self, name: str, version: str, description: str) -> None:
        self.client.update_model_version(name, version, description=mlflow_description(description))


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _metric_key(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", key)[:250]


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True
