"""governance.engine without a Ray cluster: the default never imports Ray, a missing Ray or a cluster
that does not answer exits 2 before any work, and the Ray engine's consolidation keeps exactly one
row per record (the Ray runs themselves are in test_engines_ray.py)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.engines.ray_engine import EVIDENCE_SCHEMA, _collect
from tests.pipeline.real_cli import as_sets

SETS = as_sets(["governance.engine=ray", "governance.data.limit=3", "governance.nsfw.enabled=false"])


def test_the_local_engine_governs_without_importing_ray(tmp_path):
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from governance import stages\n"
        "from governance.config import DataConfig, GovernanceConfig, NsfwConfig\n"
        "cfg = GovernanceConfig(data=DataConfig(limit=4), nsfw=NsfwConfig(enabled=False))\n"
        f"counts = stages.ingest(cfg, Path({str(tmp_path)!r}), lambda *a: None)\n"
        "print(counts.records_in, 'ray' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["4", "False"]


def _run_cli(tmp_path: Path, prelude: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # The real CLI entry point, after `prelude` (which can make an import fail in that process).
    code = f"{prelude}\nimport sys\nfrom pipeline.cli import app\nsys.argv = ['pipeline', *sys.argv[1:]]\napp()\n"
    child = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RAY_ADDRESS"))}
    child |= {"HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", code, "run", "--until", "governance", *SETS],
        cwd=tmp_path, env=child, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_engine_ray_without_ray_installed_exits_2_before_any_work(tmp_path):
    # None in sys.modules makes `import ray` raise ImportError, as on a machine without it.
    proc = _run_cli(tmp_path, "import sys; sys.modules['ray'] = None; sys.modules['ray.data'] = None")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "pip install 't2i-pipeline[ray]'" in proc.stderr and "governance.engine" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "mlruns").exists()  # nothing recorded


def test_engine_ray_with_a_cluster_address_that_does_not_answer_exits_2_before_any_work(
    tmp_path, monkeypatch
):
    pytest.importorskip("ray.data", reason="Ray is not installed: pip install 't2i-pipeline[ray]'")
    from typer.testing import CliRunner

    from pipeline.cli import app

    with socket.socket() as s:  # a port nothing listens on once this closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.chdir(tmp_path)  # the CLI in this process (the subprocess above shows the import path)
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    result = CliRunner().invoke(app, ["run", "--until", "governance", *SETS])
    assert result.exit_code == 2, result.output
    assert f"RAY_ADDRESS='127.0.0.1:{port}' does not answer" in result.output
    assert "ray start --head" in result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "mlruns").exists()


def _row(record_id: str, index: int, sha: str | None) -> dict:
    return {
        "record_id": record_id, "shard": 0, "index": index, "content_sha256": sha, "width": 8,
        "height": 8, "format": "PNG", "phash": -5, "color_hash": "ab", "signals": "{}",
        "failure_reason": None, "failure_detail": None, "detections": json.dumps([]), "small": None,
        "small_shape": None,
    }  # fmt: skip


def _window(out: Path, files: list[list[dict]]) -> list:
    out.mkdir()
    for n, rows in enumerate(files):
        pq.write_table(pa.Table.from_pylist(rows, schema=EVIDENCE_SCHEMA), out / f"part-{n}.parquet")
    given = [{"record_id": "s/a", "index": 0}, {"record_id": "s/b", "index": 1}]
    return [(0, [], given)]


def test_a_retried_task_s_second_copy_is_kept_once(tmp_path):
    rows = [_row("s/a", 0, "aa"), _row("s/b", 1, "bb")]
    window = _window(tmp_path / "w", [rows, rows[:1]])  # the first row written twice (a retried write)
    evidence, detections = _collect(window, tmp_path / "w")[0]
    assert sorted(evidence) == [0, 1] and evidence[0].content_sha256 == "aa" and detections[1] == []


def test_two_copies_of_a_record_that_disagree_fail_loudly(tmp_path):
    window = _window(tmp_path / "w", [[_row("s/a", 0, "aa"), _row("s/b", 1, "bb")], [_row("s/a", 0, "zz")]])
    with pytest.raises(RuntimeError, match=r"'s/a' was computed twice .*content_sha256"):
        _collect(window, tmp_path / "w")


def test_a_record_lost_by_the_cluster_fails_loudly(tmp_path):
    window = _window(tmp_path / "w", [[_row("s/a", 0, "aa")]])
    with pytest.raises(RuntimeError, match=r"lost records \['s/b'\]"):
        _collect(window, tmp_path / "w")


def test_a_shard_with_a_record_without_a_phash_keeps_every_bit_of_the_others():
    # Both engines write shards with ingest._shard_frame. pHashes are signed 64-bit: above 2**53 a
    # float64 cannot hold them, so a column that passes through float (as a None among ints makes
    # pandas do) would change their low bits and so the near-duplicate distances.
    from governance.decisions import FindingsLog
    from governance.evidence import ImageEvidence
    from governance.ingest_shards import shard_frame
    from governance.records import SourceRecord

    hashes = {0: 2**62 + 1, 1: None, 2: -(2**63) + 3, 3: 2**53 + 1}
    records = [SourceRecord(index=i, record_id=f"s/{i}", source="s") for i in hashes]
    evidence = {i: ImageEvidence(i, phash=h, width=8, height=8) for i, h in hashes.items() if h is not None}
    evidence[1] = ImageEvidence(1, failure=("unreadable_image", "broken"))
    frame = shard_frame(records, evidence, {0: []}, FindingsLog("ingest-00000"))
    assert str(frame["phash"].dtype) == "Int64"
    assert [None if pd.isna(v) else int(v) for v in frame["phash"]] == list(hashes.values())
    assert [None if pd.isna(v) else int(v) for v in frame["face_count"]] == [0, None, None, None]


def test_the_engines_and_ingest_do_not_import_each_other_back():
    # Function-level imports included (grimp): ingest chooses the engine, the engines write with
    # governance.ingest_shards, and neither engine imports ingest.
    import grimp

    graph = grimp.build_graph("governance")
    modules = [
        "governance.ingest",
        "governance.ingest_shards",
        "governance.engines",
        "governance.engines.ray_engine",
    ]
    cycles = [
        (a, b)
        for a in modules
        for b in graph.find_modules_directly_imported_by(a)
        if graph.chain_exists(importer=b, imported=a)
    ]
    assert cycles == []
