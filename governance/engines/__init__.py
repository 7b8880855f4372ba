"""Where ingest's per-record work runs, chosen by `governance.engine`.

`local` is this machine (the parent process and its worker pool); `ray` is Ray Data on a cluster.
Both compute the same per-record evidence with the same functions and write the same ingest shards,
so the passes after ingest, and the manifest, do not depend on the engine. Nothing here imports Ray
unless the engine is `ray`.
"""

from collections.abc import Callable
from typing import Any

from governance.config import GovernanceConfig
from governance.errors import DatasetError

# ingest's shard writer: (cfg, loaded source, work_dir, trust anchors, tally, progress) -> its NSFW tally
ShardWriter = Callable[..., Any]


class EngineUnavailable(DatasetError):
    """The configured engine cannot run here (Ray missing, a cluster that does not answer).

    A DatasetError so that the command line exits 2 with the message, which names the fix.
    """


def check_engine(cfg: GovernanceConfig) -> None:
    """Raise EngineUnavailable before any work when the configured engine cannot run."""
    if cfg.engine == "ray":
        from governance.engines.ray_engine import check_ray

        check_ray()


def shard_writer(cfg: GovernanceConfig) -> ShardWriter:
    """The function that computes and writes ingest's shards for `cfg.engine`."""
    if cfg.engine == "local":
        from governance.engines.local import ingest_shards
    else:
        from governance.engines.ray_engine import ingest_shards
    return ingest_shards
