"""A metadata Parquet joined to records by `key` or `url`: dataset-provided licence, NSFW, watermark or
similarity columns (LAION's `punsafe`, `pwatermark`, `similarity`, `LICENSE`, ...).

The joined columns fill what the record's own row lacks (the downloader's row wins), so they map
through `data.fields` like any column (`data.fields.license: LICENSE`) and stay in the manifest's
`extra` as evidence; `data.metadata.max` / `min` turn them into decisions (`dataset_score`). The
table is queried once per shard with pyarrow's dataset filter, so only the shard's rows are in memory.
"""

from typing import Any

from governance.config import MetadataJoin
from governance.decisions import Finding
from governance.errors import DatasetError
from governance.reasons import Decision, Reason


class MetadataTable:
    """The configured metadata Parquet, looked up per shard."""

    def __init__(self, cfg: MetadataJoin):
        import pyarrow.dataset as ds

        self.cfg = cfg
        try:
            self.dataset = ds.dataset(str(cfg.path.expanduser()), format="parquet")
        except (OSError, ValueError) as exc:
            raise DatasetError(f"data.metadata.path {cfg.path} cannot be read as Parquet: {exc}") from exc
        names = self.dataset.schema.names
        wanted = [*cfg.columns, *cfg.max, *cfg.min]
        missing = [c for c in [cfg.on, *wanted] if c not in names]
        if missing:
            raise DatasetError(
                f"data.metadata: {cfg.path} has no column {missing}; its columns are {names}. "
                "Fix data.metadata.on / columns / max / min"
            )
        self.columns = list(dict.fromkeys(wanted)) if cfg.columns else [n for n in names if n != cfg.on]
        self.matched = 0
        self.looked_up = 0

    def rows_for(self, values: list[Any]) -> dict[str, dict]:
        """The metadata rows whose `on` column is one of `values` (the first row of a repeated value)."""
        import pyarrow.dataset as ds

        wanted = sorted({str(v) for v in values if v not in (None, "")})
        if not wanted:
            return {}
        table = self.dataset.to_table(
            columns=[self.cfg.on, *self.columns], filter=ds.field(self.cfg.on).isin(wanted)
        )
        found: dict[str, dict] = {}
        for row in table.to_pylist():
            found.setdefault(str(row.pop(self.cfg.on)), row)
        return found

    def join(self, row: dict, found: dict[str, dict]) -> tuple[dict, dict | None]:
        """`row` with the joined columns filling what it lacks, and the joined columns (None: no match)."""
        value = row.get(self.cfg.on)
        joined = found.get(str(value)) if value not in (None, "") else None
        self.looked_up += 1
        if joined is None:
            return row, None
        self.matched += 1
        return {**joined, **{k: v for k, v in row.items() if v is not None}}, joined

    def findings(self, record_id: str, joined: dict | None) -> list[Finding]:
        """`dataset_score` drops for the columns past their configured limits."""
        out = []
        for column, limit, beyond in [
            *((c, v, "max") for c, v in self.cfg.max.items()),
            *((c, v, "min") for c, v in self.cfg.min.items()),
        ]:
            value = None if joined is None else joined.get(column)
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            if (beyond == "max" and value > limit) or (beyond == "min" and value < limit):
                evidence = {"column": column, "value": value, beyond: limit, "file": str(self.cfg.path)}
                out.append(Finding(record_id, "dataset_score", Decision.DROP, Reason.DATASET_SCORE, evidence))
        return out

    def check_matched(self) -> None:
        """A join that matched nothing is a configuration error, not a run whose limits never fired."""
        if self.looked_up and not self.matched:
            raise DatasetError(
                f"data.metadata: none of {self.looked_up} records matched a row of {self.cfg.path} on "
                f"{self.cfg.on!r}; check data.metadata.on (key or url) and that the file is this dataset's"
            )


def evidence(table: MetadataTable, row: dict, joined: dict | None) -> dict:
    """What the join did for one record, kept in its `extra`."""
    return {"on": table.cfg.on, "value": row.get(table.cfg.on), "matched": joined is not None}
