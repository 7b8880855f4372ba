"""The local engine: ingest's own shard writer (decoding in this process or a worker pool, NudeNet
on threads beside it), unchanged."""

from typing import Any


def ingest_shards(*args: Any) -> Any:
    """governance.ingest's shard writer, imported when called (ingest imports this package)."""
    from governance.ingest import _ingest_shards

    return _ingest_shards(*args)
