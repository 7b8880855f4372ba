"""The governed table as the audits read it: only the columns they use, values as governance wrote them."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audits.governed_data import read_governed, train_and_eval


def _table(tmp_path, **extra):
    columns = {
        "record_id": ["b/2", "a/1", "c/3"],
        "path": ["/d/2.png", "/d/1.png", "/d/3.png"],
        "text": ["two", None, "three"],
        "split": ["train", "eval", "train"],
        **extra,
    }
    out = tmp_path / "governed.parquet"
    pq.write_table(pa.table(columns), out)
    return out


def test_records_keep_the_table_order_captions_and_attributes(tmp_path):
    attributes = [json.dumps({"skin_tone": "dark"}), None, ""]
    # an evidence column the audits never read, of a type they could not turn into a string
    evidence = pa.array([[1, 2], [3], []], pa.list_(pa.int64()))
    records = read_governed(_table(tmp_path, attributes=attributes, phash=evidence))
    assert records.record_ids == ["b/2", "a/1", "c/3"]
    assert records.paths == ["/d/2.png", "/d/1.png", "/d/3.png"]
    assert records.texts == ["two", "", "three"]
    assert records.attributes == [{"skin_tone": "dark"}, {}, {}]
    assert records.attribute("skin_tone") == ["dark", None, None]
    train, held_out = train_and_eval(records)
    assert train.record_ids == ["b/2", "c/3"] and held_out.record_ids == ["a/1"]


def test_a_table_without_attributes_gives_empty_ones(tmp_path):
    assert read_governed(_table(tmp_path)).attributes == [{}, {}, {}]


def test_a_missing_column_and_bad_attributes_are_named(tmp_path):
    pq.write_table(pa.table({"record_id": ["a"], "path": ["/x.png"], "text": ["t"]}), tmp_path / "g.parquet")
    with pytest.raises(ValueError, match=r"lacks columns \['split'\]"):
        read_governed(tmp_path / "g.parquet")
    with pytest.raises(ValueError, match="attributes' of b/2 is not JSON"):
        read_governed(_table(tmp_path, attributes=["{not json", None, None]))
