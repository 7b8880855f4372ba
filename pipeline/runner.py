"""Runs the stages in order, applies the gates, records everything, and decides the exit code.

Exit codes: 0 every gate passed; 3 the data gate blocked (no training);
4 a model gate failed (model kept, not approved); 2 usage/config; 1 anything unexpected.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel
from rich.console import Console

from audits.report import AuditReport
from governance.report import StageCounts
from model_cards.inputs import GateRow
from pipeline.budget import Budget
from pipeline.config import PipelineConfig, config_to_dict
from pipeline.gates import audit_gate, data_gate, train_gate
from pipeline.progress import StageProgress
from pipeline.recording import Recorder, redact, tracking_uri
from pipeline.stages import AUDIT_STAGES, GOVERNANCE_STAGES, ORDER, Stage
from pipeline.state import RunState
from pipeline.summary import verdict_cell
from training.durations import parse_duration

EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, EXIT_DATA_BLOCKED, EXIT_MODEL_FAILED = 0, 1, 2, 3, 4


@dataclass
class Outcome:
    state: RunState
    exit_code: int


def code_version() -> str:
    """The git commit of the code that ran (with -dirty), or the package version outside git."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import version

        return f"t2i-pipeline {version('t2i-pipeline')}"


AFTER_BIAS_SHARE = 0.25  # of the audits' reserve, kept for what runs after the bias audit


class Runner:
    """One `pipeline run` (new or resumed)."""

    def __init__(self, cfg: PipelineConfig, console: Console, state: RunState | None = None):
        self.cfg = cfg
        self.console = console
        self.recorder = Recorder(cfg.run)
        total = parse_duration(cfg.run.budget)
        reserve = min(parse_duration(cfg.audits.reserve), 0.5 * total)
        if state is None:
            run_id = self.recorder.start(
                run_name=cfg.run.name,
                tags={
                    "pipeline.kind": "run",
                    "pipeline.verdict": "running",
                    "pipeline.budget": cfg.run.budget,
                },
            )
            run_dir = (cfg.run.output_dir / run_id).resolve()
            run_dir.mkdir(parents=True, exist_ok=True)
            state = RunState(
                run_id=run_id,
                run_dir=run_dir,
                experiment=cfg.run.experiment,
                tracking_uri=tracking_uri(cfg.run),
                config=config_to_dict(cfg),
                budget_s=total,
                code_versions=[code_version()],
            )
            state.save()
            self._record_start(state)
        else:
            self.recorder.reopen(state.run_id)
            state.attempts += 1
            now = code_version()
            if not state.code_versions or state.code_versions[-1] != now:
                state.code_versions.append(now)
            self.recorder.tags(
                state.run_id,
                {
                    "pipeline.attempts": str(state.attempts),
                    "pipeline.code_version": ", ".join(state.code_versions),
                },
            )
        self.state = state
        self.budget = Budget(total_s=total, reserve_s=reserve, spent_before_s=state.spent_s)

    # -- bookkeeping ------------------------------------------------------------------------------
    def _record_start(self, state: RunState) -> None:
        import yaml

        rid = state.run_id
        resolved = redact(state.config)
        self.recorder.params(rid, resolved)
        config_path = state.run_dir / "config.resolved.yaml"
        config_path.write_text(yaml.safe_dump(resolved, sort_keys=False), encoding="utf-8")
        self.recorder.artifact(rid, config_path)
        from pipeline.digests import file_sha256

        self.recorder.tags(
            rid,
            {
                "pipeline.code_version": ", ".join(state.code_versions),
                "pipeline.config_digest": file_sha256(config_path),
                "pipeline.run_dir": str(state.run_dir),
                "pipeline.dataset_source": self.cfg.governance.data.source,
            },
        )

    def _tick(self) -> None:
        self.state.spent_s = self.budget.spent()
        self.state.save()

    def _save_report(self, name: str, report: BaseModel) -> Path:
        path = self.state.report_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
        return path

    def _log_artifact(self, run_id: str, path: Path | None) -> None:
        """Log a file under the same relative path it has in the run folder (verify relies on it)."""
        if path is None or not Path(path).exists():
            return
        rel = Path(path).resolve().relative_to(self.state.run_dir)
        # A folder's files go under its own relative path; a file goes into its parent folder.
        where = rel.as_posix() if Path(path).is_dir() else rel.parent.as_posix()
        self.recorder.artifact(run_id, Path(path), None if where == "." else where)

    def _gates(self, rows: list[GateRow]) -> bool:
        stages = {r.stage for r in rows}
        self.state.gates = [g for g in self.state.gates if g.stage not in stages] + rows
        return all(r.passed for r in rows)

    # -- the run ----------------------------------------------------------------------------------
    def forget_from(self, stage: Stage) -> None:
        """Make `stage` and every later stage run again (e.g. audits with new thresholds)."""
        later = {s.value for s in ORDER[ORDER.index(stage) :]}
        st = self.state
        st.completed = [s for s in st.completed if s not in later]
        st.started = [s for s in st.started if s not in later]
        st.gates = [g for g in st.gates if g.stage not in later]
        st.save()

    def run(self, until: Stage = Stage.CARD) -> Outcome:
        st = self.state
        last = ORDER.index(until)
        self.console.print(f"run_id: {st.run_id}", highlight=False)
        self.console.print(f"run folder: {st.run_dir}", highlight=False)
        blocked = failed_model = False
        with StageProgress(self.console, on_tick=self._tick) as progress:
            for stage in ORDER:
                if ORDER.index(stage) > last:
                    break
                if blocked and stage not in (Stage.CARD,):
                    continue
                if failed_model and stage in AUDIT_STAGES and not self._model_exists():
                    continue
                if stage in st.completed:
                    blocked, failed_model = self._replay(stage, blocked, failed_model)
                    continue
                self.console.rule(f"[bold]{stage}")
                t0 = time.time()
                if stage not in st.started:
                    st.started.append(stage)
                    st.save()
                with self.recorder.stage(stage) as stage_run:
                    st.stage_runs[stage] = stage_run
                    passed = self._run_stage(stage, stage_run, progress)
                    self.recorder.metrics(stage_run, {"stage_seconds": time.time() - t0})
                st.completed.append(stage)
                self._tick()
                if stage == Stage.DATA_GATE and not passed:
                    blocked = True
                    self.console.print("[bold red]data gate blocked training[/] — see the reasons below")
                elif (stage == Stage.TRAIN and not passed) or (stage in AUDIT_STAGES and not passed):
                    failed_model = True
        return self._finish(until, blocked, failed_model)

    def _replay(self, stage: Stage, blocked: bool, failed_model: bool) -> tuple[bool, bool]:
        rows = [g for g in self.state.gates if g.stage == stage]
        ok = all(r.passed for r in rows)
        if stage == Stage.DATA_GATE and not ok:
            blocked = True
        if (stage == Stage.TRAIN or stage in AUDIT_STAGES) and not ok:
            failed_model = True
        return blocked, failed_model

    def _model_exists(self) -> bool:
        return (self.state.run_dir / "training" / "model" / "model_index.json").is_file()

    def _run_stage(self, stage: Stage, stage_run: str, progress: StageProgress) -> bool:
        if stage in GOVERNANCE_STAGES:
            return self._governance_stage(stage, stage_run, progress)
        if stage == Stage.DATA_GATE:
            return self._data_gate(stage_run, progress)
        if stage == Stage.TRAIN:
            return self._train(stage_run, progress)
        if stage in AUDIT_STAGES:
            return self._audit(stage, stage_run, progress)
        return self._card(stage_run)

    # -- stages -----------------------------------------------------------------------------------
    def _governance_stage(self, stage: Stage, stage_run: str, progress: StageProgress) -> bool:
        from governance import stages as gov

        fn: Callable[..., StageCounts] = getattr(gov, stage.value)
        counts = fn(self.cfg.governance, self.state.run_dir / "governance", progress)
        self._save_report(stage, counts)
        self._log_artifact(stage_run, self.state.report_path(stage))
        metrics = {f"decided.{k}": v for k, v in counts.decided.items()}
        metrics |= {f"reason.{k}": v for k, v in counts.reasons.items()}
        metrics |= {"records_in": counts.records_in, **counts.metrics}
        self.recorder.metrics(stage_run, metrics)
        for path in counts.artifacts:
            self._log_artifact(stage_run, path)
        self.console.print(_counts_line(counts), highlight=False)
        return True

    def _data_gate(self, stage_run: str, progress: StageProgress) -> bool:
        from governance import stages as gov

        report = gov.finalize(
            self.cfg.governance, self.state.run_dir / "governance", self.cfg.run.seed, progress
        )
        self._save_report("governance", report)
        rid = self.state.run_id
        for path in (
            report.manifest_path,
            report.governed_path,
            report.attribution_path,
            report.datasheet_path,
            report.datasheet_json_path,
            self.state.report_path("governance"),
            *report.charts,
        ):
            self._log_artifact(rid, path)
        self.recorder.dataset(
            rid,
            report.governed_path,
            report.dataset_digest,
            name=f"{self.cfg.run.name}-governed",
            source=report.source,
        )
        self.recorder.tags(
            rid,
            {
                "pipeline.dataset_digest": report.dataset_digest,
                "pipeline.manifest_digest": report.manifest_digest,
            },
        )
        metrics = {f"records.{k}": v for k, v in report.decisions.items()}
        metrics |= {f"reason.{k}": v for k, v in report.reasons.items()}
        metrics |= {f"split.{k}": v for k, v in report.split_counts.items()}
        metrics |= {"records.input": report.records_in, "duplicate_groups": report.duplicate_groups}
        self.recorder.metrics(rid, metrics)
        rows = data_gate(report, self.cfg.data_gate, self.cfg.audits)
        self._log_gates(stage_run, rows)
        return self._gates(rows)

    def _log_gates(self, stage_run: str, rows: list[GateRow]) -> None:
        for row in rows:
            mark = verdict_cell(row.passed, row.measured, row.threshold)
            self.console.print(f"  {mark} {row.stage}.{row.name}: {row.message}", highlight=False)
        self.recorder.metrics(stage_run, {f"gate.{r.name}.passed": float(r.passed) for r in rows})
        self.recorder.tags(
            stage_run, {"pipeline.gate": "passed" if all(r.passed for r in rows) else "failed"}
        )

    def _log_training(self, stage_run: str, progress: StageProgress, metrics: dict, step: int) -> None:
        self.recorder.metrics(stage_run, metrics, step)
        # The bar counts budget seconds; what a watcher wants beside it is the step, loss and speed.
        note = f"step {step}, loss {metrics.get('loss', float('nan')):.4f}"
        if "images_per_s" in metrics:
            note += f", {metrics['images_per_s']:.0f} img/s"
        progress.annotate("train (", note)  # in-process "train (s)" and launched "train (N processes, s)"

    def _train(self, stage_run: str, progress: StageProgress) -> bool:
        from training.api import train

        resume = (self.state.run_dir / "training" / "checkpoints").is_dir()
        deadline = self.budget.training_deadline()
        self.console.print(
            f"  training until {datetime.fromtimestamp(deadline).strftime('%H:%M:%S')} "
            f"({deadline - time.time():.0f}s)" + (" — resuming" if resume else ""),
            highlight=False,
        )
        args = dict(
            governed=self.state.run_dir / "governance" / "governed.parquet",
            out_dir=self.state.run_dir / "training",
            deadline=deadline,
            seed=self.cfg.run.seed,
            log=lambda metrics, step: self._log_training(stage_run, progress, metrics, step),
            progress=progress,
            resume=resume,
            run_id=self.state.run_id,  # saved with the model: pipe.save_image marks and signs for it
            model_name=self.cfg.run.name,
        )
        if self.cfg.run.train_processes > 1:
            from pipeline.launcher import train_distributed

            report = train_distributed(self.cfg.training, self.cfg.run.train_processes, **args)
        else:
            report = train(self.cfg.training, args.pop("governed"), args.pop("out_dir"), **args)
        self._save_report("training", report)
        rid = self.state.run_id
        self._log_artifact(rid, self.state.report_path("training"))
        self._log_artifact(rid, report.model_dir)
        self._mark_generated(report.sample_grids)
        for path in [*report.sample_grids, *report.charts]:
            self._log_artifact(stage_run, path)
        c = report.compute
        self.recorder.metrics(
            rid,
            {
                "train.steps": report.steps,
                "train.images_seen": report.images_seen,
                "train.images_per_s": report.throughput_images_per_s,
                **({"train.step_images_per_s": report.step_images_per_s} if report.step_images_per_s else {}),
                **({"train.mfu": c.mfu} if c.mfu is not None else {}),
                "train.wall_clock_s": c.wall_clock_s,
                "train.device_hours": c.device_hours,
                "train.estimated_cost": c.estimated_cost,
                **({"train.final_loss": report.final_loss} if report.final_loss is not None else {}),
                **({"train.energy_kwh": c.energy_kwh} if c.energy_kwh is not None else {}),
            },
        )
        self.recorder.tags(
            rid, {"pipeline.model_digest": report.model_digest, "pipeline.device": c.device_name}
        )
        rows = train_gate(report)
        self._log_gates(stage_run, rows)
        return self._gates(rows)

    def _mark_generated(self, paths: list[Path]) -> None:
        """Every image the pipeline publishes from the model says so: metadata, watermark, signed C2PA."""
        from PIL import Image

        from training.output_credentials import credentials_for, save_credentialed_png, signer_note

        signing = self.cfg.audits.signing
        creds = credentials_for(signing, self.state.run_id)  # in memory only: no key is written or logged
        for path in paths:
            with Image.open(path) as img:
                img.load()
            rgb = img.convert("RGB")
            save_credentialed_png(
                rgb,
                Path(path),
                self.state.run_id,
                self.cfg.run.name,
                creds,
                signing.training_mining,
                method=self.cfg.training.output_watermark,
            )
        self.recorder.tags(self.state.run_id, {"pipeline.output_signing": signer_note(creds)})

    def _run_audit(self, stage: Stage, progress: StageProgress) -> AuditReport:
        """The report of audit `stage`; an audit listed in `audits.report.AUDITS` but not here is an error."""
        from audits import api

        model_dir = self.state.run_dir / "training" / "model"
        governed = self.state.run_dir / "governance" / "governed.parquet"
        out = self.state.run_dir / "audits" / stage.value
        seed, a = self.cfg.run.seed, self.cfg.audits
        if stage == Stage.QUALITY:
            return api.run_quality(a.quality, model_dir, governed, out, seed, progress, a.compile)
        if stage == Stage.BIAS:
            # What is left of the budget, less a share of the reserve for the deepfake audit and the
            # card, bounds the extra neutral images the representation power rule asks for.
            deadline = self.budget.deadline - AFTER_BIAS_SHARE * self.budget.reserve_s
            return api.run_bias(a.bias, model_dir, governed, out, seed, progress, deadline, a.compile)
        if stage == Stage.DEEPFAKE:
            return api.run_deepfake(
                a.deepfake,
                model_dir,
                governed,
                out,
                seed,
                progress,
                run_id=self.state.run_id,
                signing=a.signing,
                compile_mode=a.compile,
            )
        raise NotImplementedError(f"audit stage {stage.value!r} has no runner in pipeline/runner.py")

    def _audit(self, stage: Stage, stage_run: str, progress: StageProgress) -> bool:
        report = self._run_audit(stage, progress)
        self._save_report(stage, report)
        self._log_artifact(self.state.run_id, self.state.report_path(stage))
        for path in [*report.charts, *report.examples]:
            self._log_artifact(stage_run, path)
        self.recorder.metrics(self.state.run_id, {f"{stage}.{m.name}": m.value for m in report.metrics})
        self.recorder.metrics(stage_run, {m.name: m.value for m in report.metrics})
        rows = audit_gate(report)
        self._log_gates(stage_run, rows)
        return self._gates(rows)

    def _card(self, stage_run: str) -> bool:
        from pipeline.cards import build_and_record_card

        build_and_record_card(self.state, self.recorder, self.console, stage_run)
        return True

    # -- the end ----------------------------------------------------------------------------------
    def _finish(self, until: Stage, blocked: bool, failed_model: bool) -> Outcome:
        st = self.state
        if blocked:
            st.verdict, code = "blocked", EXIT_DATA_BLOCKED
        elif failed_model:
            st.verdict, code = "not_approved", EXIT_MODEL_FAILED
        elif until != Stage.CARD:
            st.verdict, code = "incomplete", EXIT_OK
        else:
            st.verdict, code = "approved", EXIT_OK
        st.exit_code = code
        st.spent_s = self.budget.spent()
        st.save()
        rid = st.run_id
        self.recorder.tags(
            rid,
            {
                "pipeline.verdict": st.verdict,
                "pipeline.exit_code": str(code),
                "pipeline.spent_s": f"{st.spent_s:.1f}",
                "pipeline.stage_verdicts": stage_verdicts(st.gates),
            },
        )
        self.recorder.metrics(rid, {"run.spent_s": st.spent_s, "run.budget_s": st.budget_s})
        self.recorder.artifact(rid, st.run_dir / "state.json")
        self.recorder.finish("FINISHED")
        return Outcome(state=st, exit_code=code)


def stage_verdicts(gates: list) -> str:
    """`stage=pass|fail` per gated stage, in run order, with the failed gates named: one line for `runs`."""
    by_stage: dict[str, list[str]] = {}
    for g in gates:
        failed = by_stage.setdefault(g.stage, [])
        if not g.passed:
            failed.append(g.name)
    return " ".join(
        f"{stage}=" + (f"fail({','.join(failed)})" if failed else "pass")
        for stage, failed in by_stage.items()
    )


def _counts_line(counts: StageCounts) -> str:
    decided = ", ".join(f"{k}: {v}" for k, v in sorted(counts.decided.items())) or "no decisions"
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(counts.reasons.items()))
    return f"  {counts.records_in} records; {decided}" + (f"; reasons {reasons}" if reasons else "")
