"""governance.engine=ray on a real local Ray cluster (2 CPUs, shared by every test of this module):
the same dataset governed by both engines gives the identical manifest, exactly once even when a Ray
worker is killed mid-run, the per-record work runs in Ray's worker processes, and a resumed run
reuses the shards either engine finished. Two Ray runs in all (each costs seconds)."""

import json
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 't2i-pipeline[ray]'")
pytest.importorskip("ray.data", reason="Ray Data is not installed: pip install 't2i-pipeline[ray]'")

import governance.evidence  # noqa: E402
import governance.ingest  # noqa: E402
from governance import stages  # noqa: E402
from governance.config import DataConfig, GovernanceConfig  # noqa: E402
from governance.report import GovernanceReport  # noqa: E402
from tests.governance import img2dataset_shards  # noqa: E402

pytestmark = [
    pytest.mark.slow,  # a Ray instance starts (about 12 s on 2 busy cores)
    pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning"),
]


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> tuple[Path, dict[str, set[str]]]:
    root = tmp_path_factory.mktemp("img2dataset") / "out"
    return root, img2dataset_shards.build(root)


def _cfg(root: Path, engine: str) -> GovernanceConfig:
    # 3 records a shard: the 14 records become several shards, so several Ray tasks.
    return GovernanceConfig(
        data=DataConfig(source="webdataset", path=root), engine=engine, batch_size=3
    ).model_copy(update={"provenance": GovernanceConfig().provenance.model_copy(
        update={"required_fields": ["license", "source_url"]})})  # fmt: skip


def _govern(cfg: GovernanceConfig, work_dir: Path) -> GovernanceReport:
    quiet = lambda *a: None  # noqa: E731
    stages.ingest(cfg, work_dir, quiet)
    for stage in (stages.provenance, stages.dedup, stages.nsfw):
        stage(cfg, work_dir, quiet)
    return stages.finalize(cfg, work_dir, 0, quiet)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("engines")


def _work_dir(base: Path) -> Path:
    # The manifest names the blobs ingest writes under the work folder, so both engines must run in
    # the same folder for their digests to be comparable: each run's folder is moved away after.
    work = base / "work"
    assert not work.exists()
    return work


def _keep(base: Path, name: str) -> Path:
    return (base / "work").rename(base / name)


@pytest.fixture(scope="module")
def local_run(shards, base) -> GovernanceReport:
    report = _govern(_cfg(shards[0], "local"), _work_dir(base))
    _keep(base, "local")
    return report


def _refuse(*args, **kwargs):
    raise AssertionError("the Ray engine ran per-record work in the driver")


def _workers() -> set[int]:
    """Process ids of the Ray Data workers (their titles read `ray::MapWorker(...)`)."""
    found = set()
    for proc in psutil.process_iter(["cmdline"]):
        if any("MapWorker" in part for part in proc.info["cmdline"] or []):
            found.add(proc.pid)
    return found


def _kill_first_worker(stop: threading.Event, killed: list[int]) -> None:
    """Kill the first Ray Data worker this run starts (SIGKILL, as a lost node would)."""
    earlier = _workers()  # a previous run's worker on its way out would prove nothing
    while not stop.is_set():
        for pid in _workers() - earlier:
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                continue
            killed.append(pid)
            return
        time.sleep(0.02)


def test_ray_gives_the_local_manifest_exactly_once_even_with_a_worker_killed_mid_run(
    cluster, shards, local_run, base, monkeypatch
):
    # One Ray run proves both (a Ray run costs seconds): the manifest of a run that lost a worker
    # and had Ray retry its work is still every record once, and the local engine's manifest.
    root, expected = shards
    work = _work_dir(base)
    # The driver must not compute evidence nor write shards the local way: Ray's workers import
    # their own, unpatched, modules, so only work done in Ray's processes can succeed.
    monkeypatch.setattr(governance.evidence, "evidence_batch", _refuse)
    monkeypatch.setattr(governance.ingest, "_ingest_shards", _refuse)
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_first_worker, args=(stop, killed), daemon=True)
    killer.start()
    try:
        report = _govern(_cfg(root, "ray"), work)
    finally:
        stop.set()
        killer.join()
    assert killed, "no Ray worker was seen to kill: the test proved nothing"
    assert not psutil.pid_exists(killed[0]) or psutil.Process(killed[0]).status() == psutil.STATUS_ZOMBIE
    assert report.manifest_digest == local_run.manifest_digest
    manifest = pd.read_parquet(next(work.rglob("manifest.parquet")))
    assert sorted(manifest["record_id"]) == sorted(expected)  # every record exactly once
    shards_written = sorted(p.name for p in (work / "ingest").glob("shard-*.done"))
    assert len(shards_written) == 5 and not (work / "ingest" / "ray").exists()
    _keep(base, "ray")


def test_a_resumed_ray_ingest_reuses_finished_shards_and_redoes_the_rest(cluster, shards, local_run, base):
    root, _ = shards
    cfg = _cfg(root, "ray")
    if not (base / "ray").exists():
        pytest.skip("needs the Ray run of the test above")
    work = (base / "ray").rename(_work_dir(base))  # the run above, back in place
    folder = work / "ingest"
    # As after a kill: two shards' markers and the one-file copies gone.
    for k in (1, 3):
        (folder / f"shard-{k:05d}.done").unlink()
    (folder / "source.json").unlink()
    counts = stages.ingest(cfg, work, lambda *a: None)
    assert counts.metrics["records_ingested_now"] == 6  # two shards of 3 records
    for stage in (stages.provenance, stages.dedup, stages.nsfw):
        stage(cfg, work, lambda *a: None)
    assert stages.finalize(cfg, work, 0, lambda *a: None).manifest_digest == local_run.manifest_digest
    assert json.loads((folder / "source.json").read_text())["records"] == 14
    _keep(base, "resumed")
