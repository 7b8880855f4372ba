"""Where ingest's per-record work runs, chosen by `governance.engine`.

`local` is this machine (the parent process and its worker pool, in `governance.ingest`); `ray` is
Ray Data on a cluster (`governance.engines.ray_engine`). Both compute the same per-record evidence
with the same functions and write the same ingest shards (`governance.ingest_shards`), so the passes
after ingest, and the manifest, do not depend on the engine. Nothing here imports Ray unless the
engine is `ray`.
"""

from governance.config import GovernanceConfig
from governance.engines.errors import EngineUnavailable

__all__ = ["EngineUnavailable", "check_engine"]


def check_engine(cfg: GovernanceConfig) -> None:
    """Raise EngineUnavailable before any work when the configured engine cannot run."""
    if cfg.engine == "ray":
        from governance.engines.ray_engine import check_ray

        check_ray()
