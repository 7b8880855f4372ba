"""A generated messy imagefolder dataset with at least one record for every reason code.

`build_messy_dataset(root)` writes it and returns, per record id, the expected decision and reasons.
"""

import hashlib
import io
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image, PngImagePlugin

from governance.sources.emoji import assets_dir

MAX_IMAGE_PIXELS = 300_000  # the astronaut (512x512) fits, huge.png (600x600) does not
OPT_OUT_DOMAIN = "optout.example.com"


@dataclass
class Spec:
    file_name: object
    expect: tuple[str, set[str]]
    text: object = "a picture"
    license: object = "CC-BY-4.0"
    author: object = "Ada"
    source_url: object = "https://example.org/images/1"
    sha256: str | None = None
    raw_line: bytes | None = None  # written as-is instead of a JSON object
    extra: dict = field(default_factory=dict)


def _noise(seed: int, size: int = 64) -> Image.Image:
    """A random blocky image: distinct from every other seed."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    return Image.fromarray(blocks).resize((size, size), Image.Resampling.NEAREST)


def _png_bytes(image: Image.Image, info: PngImagePlugin.PngInfo | None = None) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _cbor_text(text: str) -> bytes:
    raw = text.encode()
    return (bytes([0x60 + len(raw)]) if len(raw) < 24 else bytes([0x78, len(raw)])) + raw


def _c2pa_training_mining(use: str) -> bytes:
    """A minimal JUMBF-like box: the assertion label, then CBOR {"entries": {...: {"use": use}}}."""
    entries = {"cawg.ai_generative_training": use, "cawg.ai_inference": "allowed"}
    body = bytes([0xA1]) + _cbor_text("entries") + bytes([0xA0 + len(entries)])
    for key, value in entries.items():
        body += _cbor_text(key) + bytes([0xA1]) + _cbor_text("use") + _cbor_text(value)
    return b"jumb\x00\x00\x00\x00jumdcbor\x00cawg.training-mining\x00" + body


def _xmp(inner: str) -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
        f'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">{inner}</rdf:Description>'
        "</rdf:RDF></x:xmpmeta>"
    )


def _bomb_png() -> bytes:
    """A valid 1x1 PNG whose header claims 50000x50000 pixels (CRC fixed up)."""
    data = bytearray(_png_bytes(Image.new("RGB", (1, 1))))
    ihdr = 8 + 8  # signature, then length + type of the IHDR chunk
    data[ihdr : ihdr + 8] = struct.pack(">II", 50_000, 50_000)
    crc = zlib.crc32(bytes(data[12 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def build_messy_dataset(tmp: Path) -> tuple[Path, Path, Path, dict[str, tuple[str, set[str]]]]:
    """Write data/ (the dataset), evalset/ and outside.png under `tmp`; return them and the expectations."""
    data = tmp / "data"
    evalset = tmp / "evalset"
    data.mkdir()
    evalset.mkdir()
    outside = tmp / "outside.png"
    outside.write_bytes(_png_bytes(_noise(999)))

    files: dict[str, bytes] = {}
    files["ok_a.png"] = _png_bytes(_noise(1))
    jpeg = io.BytesIO()
    _noise(2).save(jpeg, "JPEG", quality=95)
    files["ok_b.jpg"] = jpeg.getvalue()
    files["ok_cc_url.png"] = _png_bytes(_noise(3))
    files["text.png"] = b"this is not an image, only text with a .png name\n"
    full = _png_bytes(_noise(4))
    files["truncated.png"] = full[: len(full) // 2]
    files["bomb.png"] = _bomb_png()
    files["huge.png"] = _png_bytes(_noise(5, size=600))
    files["tiny.png"] = _png_bytes(_noise(6, size=8))
    files["empty.png"] = b""
    for name, seed in [("reserved.png", 7), ("unknown_lic.png", 8), ("nd.png", 9), ("no_author.png", 10)]:
        files[name] = _png_bytes(_noise(seed))
    files["bad_hash.png"] = _png_bytes(_noise(11))
    files["good_hash.png"] = _png_bytes(_noise(19))
    for name, seed in [
        ("cap_missing.png", 20),
        ("cap_bad.png", 21),
        ("cap_long.png", 22),
        ("lic_list.png", 23),
    ]:
        files[name] = _png_bytes(_noise(seed))
    files["empty_license.png"] = _png_bytes(_noise(24))
    files["dual_license.png"] = _png_bytes(_noise(25))
    files["both_licenses.png"] = _png_bytes(_noise(26))
    files["optout_domain.png"] = _png_bytes(_noise(12))
    files["script_url.png"] = _png_bytes(_noise(27))
    info = PngImagePlugin.PngInfo()
    info.add_itxt(
        "XML:com.adobe.xmp",
        _xmp(
            "<plus:DataMining>http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING</plus:DataMining>"
        ),
        zip=True,  # compressed: only the decoded text chunk shows it
    )
    files["xmp_optout.png"] = _png_bytes(_noise(13), info)
    info = PngImagePlugin.PngInfo()
    info.add(b"caBX", _c2pa_training_mining("notAllowed"))
    files["c2pa_optout.png"] = _png_bytes(_noise(14), info)
    info = PngImagePlugin.PngInfo()
    info.add(b"caBX", _c2pa_training_mining("allowed"))
    files["c2pa_allowed.png"] = _png_bytes(_noise(15), info)
    info = PngImagePlugin.PngInfo()
    info.add_itxt(
        "XML:com.adobe.xmp",
        _xmp(
            "<Iptc4xmpExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
            "</Iptc4xmpExt:DigitalSourceType>"
        ),
    )
    files["ai.png"] = _png_bytes(_noise(16), info)
    files["dup_exact.png"] = files["ok_a.png"]
    near = np.asarray(_noise(17)).astype(np.int16)
    files["near_src.png"] = _png_bytes(Image.fromarray(near.astype(np.uint8)))
    files["near_copy.png"] = _png_bytes(Image.fromarray(np.clip(near + 3, 0, 255).astype(np.uint8)))
    files["leak.png"] = _png_bytes(_noise(18))
    astronaut = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).save(astronaut, "JPEG", quality=90)
    files["astronaut.jpg"] = astronaut.getvalue()
    gray = io.BytesIO()  # the same face without colour: the NSFW policy cannot confirm skin on it
    Image.fromarray(skimage.data.astronaut()).convert("L").save(gray, "JPEG", quality=90)
    files["astronaut_gray.jpg"] = gray.getvalue()
    # Similar but distinct: one emoji in two skin tones, two nearly identical flags, a recoloured icon.
    emoji = assets_dir()
    for name, stem in [
        ("thumbs_light.png", "1f44d-1f3fb"),
        ("thumbs_dark.png", "1f44d-1f3ff"),
        ("flag_romania.png", "1f1f7-1f1f4"),
        ("flag_chad.png", "1f1f9-1f1e9"),
        ("heart.png", "2764"),
    ]:
        files[name] = (emoji / f"{stem}.png").read_bytes()
    rgba = np.asarray(Image.open(io.BytesIO(files["heart.png"])).convert("RGBA"))
    files["heart_blue.png"] = _png_bytes(Image.fromarray(rgba[:, :, [2, 1, 0, 3]].copy()))
    for name, content in files.items():
        (data / name).write_bytes(content)
    (data / "link.png").symlink_to(outside)
    (evalset / "held_out.png").write_bytes(files["leak.png"])
    (evalset / "metadata.jsonl").write_text(
        json.dumps({"file_name": "held_out.png", "text": "held out"}) + "\n"
    )

    keep = ("keep", set())
    specs = [
        Spec("ok_a.png", keep),
        Spec("ok_b.jpg", keep),
        Spec("ok_cc_url.png", keep, license="https://creativecommons.org/licenses/by/4.0/"),
        Spec("missing.png", ("drop", {"file_missing"})),
        Spec("../outside.png", ("drop", {"path_outside_dataset"})),
        Spec(str(outside), ("drop", {"path_outside_dataset"})),
        Spec("link.png", ("drop", {"path_outside_dataset"})),
        Spec("text.png", ("drop", {"not_an_image"})),
        Spec("truncated.png", ("drop", {"unreadable_image"})),
        Spec("bomb.png", ("drop", {"image_too_large"})),
        Spec("huge.png", ("drop", {"image_too_large"})),
        Spec("tiny.png", ("drop", {"image_too_small"})),
        Spec("empty.png", ("drop", {"empty_file"})),
        Spec("ok_a.png", ("drop", {"duplicate_file_name"})),
        Spec(123, ("drop", {"invalid_metadata"})),
        Spec(None, ("drop", {"invalid_metadata"}), raw_line=b'{"file_name": "ok_b.jpg", "text": '),
        Spec("lic_list.png", ("drop", {"invalid_metadata"}), license=["CC-BY-4.0"]),
        Spec("cap_missing.png", ("drop", {"caption_missing"}), text=""),
        Spec(
            None,
            ("drop", {"caption_invalid"}),
            raw_line=b'{"file_name": "cap_bad.png", "text": "caf\xe9 latin-1", "license": "CC-BY-4.0", '
            b'"author": "Ada", "source_url": "https://example.org/x"}',
        ),
        Spec("cap_long.png", ("drop", {"caption_invalid"}), text="x" * 1001),
        Spec("reserved.png", ("drop", {"license_not_allowed"}), license="All rights reserved"),
        Spec("unknown_lic.png", ("quarantine", {"license_unknown"}), license="Ask me first v7"),
        Spec("nd.png", ("drop", {"license_not_allowed"}), license="CC BY-NC-ND 4.0"),
        Spec("no_author.png", ("quarantine", {"provenance_missing"}), author=None),
        Spec("bad_hash.png", ("drop", {"hash_mismatch"}), sha256="0" * 64),
        Spec("optout_domain.png", ("drop", {"opt_out"}), source_url=f"https://cdn.{OPT_OUT_DOMAIN}/a.png"),
        Spec("script_url.png", ("quarantine", {"source_url_invalid"}), source_url="javascript:alert(3)"),
        Spec("xmp_optout.png", ("drop", {"opt_out"})),
        Spec("c2pa_optout.png", ("drop", {"opt_out"})),
        Spec("c2pa_allowed.png", keep),
        Spec("ai.png", ("drop", {"ai_generated"})),
        Spec("dup_exact.png", ("drop", {"duplicate_exact"})),
        Spec("near_src.png", keep),
        Spec("near_copy.png", ("drop", {"duplicate_near"})),
        Spec("leak.png", ("drop", {"eval_leak"})),
        Spec("astronaut.jpg", ("drop", {"nsfw"})),
        Spec("astronaut_gray.jpg", ("quarantine", {"nsfw_unconfirmed"})),
        Spec("thumbs_light.png", keep),
        Spec("thumbs_dark.png", keep),
        Spec("flag_romania.png", keep),
        Spec("flag_chad.png", keep),
        Spec("heart.png", keep),
        Spec("heart_blue.png", keep),
        Spec("empty_license.png", ("quarantine", {"license_unknown", "provenance_missing"}), license=""),
        # A choice: the allowed option is taken. A combination: a human must read it.
        Spec("dual_license.png", keep, license="CC BY-NC 4.0 OR CC BY 4.0"),
        Spec("both_licenses.png", ("quarantine", {"license_unknown"}), license="MIT AND CC-BY-SA-4.0"),
        Spec(
            "good_hash.png",
            keep,
            sha256="sha256:" + hashlib.sha256(files["good_hash.png"]).hexdigest().upper(),
        ),
    ]
    lines = []
    expected = {}
    for i, spec in enumerate(specs):
        if spec.raw_line is not None:
            lines.append(spec.raw_line)
        else:
            row = {
                "file_name": spec.file_name,
                "text": spec.text,
                "license": spec.license,
                "source_url": spec.source_url,
            }
            if spec.author is not None:
                row["author"] = spec.author
            if spec.sha256 is not None:
                row["sha256"] = spec.sha256
            row.update(spec.extra)
            lines.append(json.dumps(row).encode())
        expected[f"imagefolder:{i:05d}"] = spec.expect
    (data / "metadata.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return data, evalset, outside, expected
