"""The attribution list is written a batch of the governed table at a time, and is the same file."""

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.attribution import write_attribution, write_attribution_batches, write_governed_attribution
from tests.model_cards.rendering import HOSTILE

COLUMNS = ["record_id", "author", "text", "source_url", "license_spdx"]


def _kept(n: int) -> pd.DataFrame:
    rows = [
        {
            "record_id": f"shard/{i:05d}",
            "author": None if i % 4 == 0 else HOSTILE[i % len(HOSTILE)],
            "text": HOSTILE[(i + 3) % len(HOSTILE)],
            "source_url": None if i % 5 == 0 else f"https://example.org/{i}.png",
            "license_spdx": [None, "CC-BY-4.0", "CC0-1.0", "LicenseRef-own"][i % 4],
        }
        for i in range(n)
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def test_the_files_do_not_depend_on_the_batches(tmp_path):
    kept = _kept(23)
    governed = tmp_path / "governed.parquet"
    pq.write_table(pa.Table.from_pandas(kept, preserve_index=False), governed, row_group_size=4)
    assert pq.ParquetFile(governed).metadata.num_row_groups == 6
    whole = write_attribution(kept, tmp_path / "whole")
    streamed = write_governed_attribution(governed, tmp_path / "streamed")
    for a, b in zip(whole, streamed, strict=True):
        assert a.read_bytes() == b.read_bytes()
    entries = json.loads(streamed[1].read_text(encoding="utf-8"))
    assert [e["record_id"] for e in entries] == list(kept["record_id"])
    assert entries[1]["license_url"] == "https://creativecommons.org/licenses/by/4.0/"
    assert entries[0]["author"] is None and entries[0]["license_url"] is None


def test_the_format_is_the_one_published(tmp_path):
    kept = pd.DataFrame(
        [
            ["a/1", "Ada", "a cat", "https://example.org/1.png", "CC-BY-4.0"],
            ["a/2", None, "x | y", None, None],
        ],
        columns=COLUMNS,
    )
    md, js = write_attribution(kept, tmp_path)
    assert md.read_text(encoding="utf-8") == (
        "# Attribution\n\nThe model was trained on 2 records. Their authors and licences:\n\n"
        "| record | title / caption | author | source | licence |\n|---|---|---|---|---|\n"
        "| a/1 | a cat | Ada | `https://example.org/1.png` | [CC-BY-4.0](https://creativecommons.org/licenses/by/4.0/) |\n"
        "| a/2 | x \\| y |  |  |  |\n"
    )
    assert js.read_text(encoding="utf-8") == (
        '[\n{"record_id": "a/1", "author": "Ada", "title": "a cat", "source_url": "https://example.org/1.png", '
        '"license": "CC-BY-4.0", "license_url": "https://creativecommons.org/licenses/by/4.0/"},\n'
        '{"record_id": "a/2", "author": null, "title": "x | y", "source_url": null, "license": null, '
        '"license_url": null}\n]\n'
    )
    empty = write_attribution(kept.iloc[:0], tmp_path / "empty")
    assert empty[1].read_text(encoding="utf-8") == "[\n\n]\n"


def test_a_count_that_does_not_match_the_rows_leaves_no_file(tmp_path):
    with pytest.raises(ValueError, match="3 announced"):
        write_attribution_batches([_kept(2)], 3, tmp_path)
    assert list(tmp_path.iterdir()) == []
