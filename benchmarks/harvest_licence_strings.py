"""Harvest licence strings as real metadata holds them, for the licence-normalisation corpus.

Sources, all fetched with the registries' ordinary clients into a cache (never at run time, never by
the tests, which read only the committed corpus):

- Debian: `apt-get download` of image, icon, font and clip-art packages; from each `.deb` the DEP-5
  `License:` fields, the licence URLs and the free-text licence sentences of
  `usr/share/doc/*/copyright` (also of every package installed on the harvesting machine, with the
  version that `dpkg-query` reports, so `apt-get download PACKAGE=VERSION` gets the same file), the RDF/XMP
  licence fields (`cc:license`, `dc:rights`, `xmpRights:*`) of the SVG files, the XMP rights fields
  embedded in the JPEG/PNG/WebP files and the `License` keys of KDE wallpaper `metadata.json` files.
- npm: `npm pack` of emoji, icon and common packages; `license`, `licenses[].type/url` of package.json.
- PyPI: `pip download --no-deps` wheels; `License:`, `License-Expression:` and `Classifier: License ::`
  of METADATA (and the `License ::` classifiers listed by the trove-classifiers package).

Each distinct string is written once with every place it was found (package name and version, file):

    python benchmarks/harvest_licence_strings.py     # -> tests/data/licences/corpus.jsonl
    python benchmarks/harvest_licence_strings.py --held-out   # -> tests/data/licences/heldout.jsonl

The expected SPDX id of each string (`expected`) is decided by a person reading the string, never by
running the normaliser. A rerun keeps every label already in the corpus, writes new strings with
`"expected": null` (the corpus test fails until someone labels them) and drops strings no longer found.
"""

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from collections import defaultdict
from email.parser import HeaderParser
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "data" / "licences" / "corpus.jsonl"
HELD_OUT_FILE = REPO / "tests" / "data" / "licences" / "heldout.jsonl"

DEBIAN = [
    "openclipart-svg", "openclipart-libreoffice", "tango-icon-theme", "adwaita-icon-theme", "gnome-icon-theme",
    "breeze-icon-theme", "numix-icon-theme", "elementary-xfce-icon-theme", "suru-icon-theme", "papirus-icon-theme",
    "mate-icon-theme", "lxde-icon-theme", "hicolor-icon-theme", "gnome-backgrounds", "desktop-base",
    "plasma-workspace-wallpapers", "mate-backgrounds", "fonts-noto-color-emoji", "fonts-dejavu-core",
    "fonts-liberation", "fonts-open-sans", "fonts-font-awesome", "fonts-material-design-icons-iconfont",
    "fonts-symbola", "gimp-data", "openttd-opengfx", "xscreensaver-data", "kdegames-card-data-kf5", "aisleriot",
    "tuxpaint-data", "xplanet-images", "libreoffice-style-colibre",
]  # fmt: skip
# Limits per kind so that one huge clip-art package does not swamp the corpus.
MAX_SVG_RIGHTS_HOLDERS = 40
MAX_SENTENCE = 400

_LICENCE_WORDS = re.compile(
    r"licen[cs]|public domain|rights reserved|copyleft|creative ?commons|permission is hereby|"
    r"redistribut|personal use|commercial",
    re.IGNORECASE,
)


def cache_dir() -> Path:
    """Where harvested packages live: $T2I_LICENCE_CACHE, else ~/.cache/t2i-pipeline/licences."""
    return Path(os.environ.get("T2I_LICENCE_CACHE", Path.home() / ".cache" / "t2i-pipeline" / "licences"))


class Found:
    """Distinct strings, each with the places it was found."""

    def __init__(self) -> None:
        self.places: dict[tuple[str, str], list[str]] = defaultdict(list)

    def add(self, kind: str, value: object, where: str) -> None:
        if not isinstance(value, str):
            return
        text = value.strip()
        if text and len(text) <= 4000 and where not in self.places[(kind, text)]:
            self.places[(kind, text)].append(where)


def _deb_members(deb: Path):
    """(path, bytes) of the interesting files inside a .deb, streamed without unpacking it."""
    wanted = re.compile(
        r"(/copyright$|\.svg$|metadata\.json$|metadata\.desktop$|\.(?:jpe?g|png|webp)$)", re.I
    )
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for member in tar:
            if member.isfile() and wanted.search(member.name):
                handle = tar.extractfile(member)
                if handle is not None:
                    yield member.name.removeprefix("."), handle.read()
    proc.wait()


def _sentences(text: str) -> list[str]:
    """Licence-bearing sentences of free text (a copyright file that is not DEP-5, or its comments)."""
    flat = re.sub(r"\s+", " ", text)
    parts = re.split(r"(?<=[.;:])\s+(?=[A-Z])|\s{2,}", flat)
    return [p.strip() for p in parts if _LICENCE_WORDS.search(p) and 8 <= len(p.strip()) <= MAX_SENTENCE]


_LICENCE_URL = re.compile(
    r"https?://[\w.-]*(?:creativecommons\.org|gnu\.org|opensource\.org|apache\.org/licenses|spdx\.org|"
    r"mozilla\.org/MPL|unlicense\.org|wtfpl\.net|fsf\.org/licen)[\w./#%~-]*",
    re.IGNORECASE,
)


# Of the many packages installed on a machine, only the sentences that state a status (public domain,
# rights reserved, commercial use) are taken: licence bodies would swamp the corpus with one kind.
_STATUS = re.compile(r"public domain|rights reserved|personal use|commercial", re.IGNORECASE)


def _copyright(found: Found, text: str, where: str, sentences: re.Pattern[str] | None = None) -> None:
    for match in _LICENCE_URL.finditer(text):
        found.add("debian-url", match.group(0).rstrip("."), where)
    if text.lstrip().startswith("Format:"):
        for match in re.finditer(r"^License:[ \t]*(.+)$", text, re.MULTILINE):
            found.add("debian-dep5", match.group(1), where)
        matches = re.finditer(r"^(?:Comment|Disclaimer):(.*(?:\n[ \t].*)*)", text, re.MULTILINE)
        text = "\n".join(m.group(1).replace("\n .\n", "\n") for m in matches)
    # A paragraph of one short line is a statement of its own ("creative commons Public Domain Dedication").
    lines = [p.strip() for p in re.split(r"\n\s*\.?\s*\n", text) if "\n" not in p.strip()]
    pieces = _sentences(text) + [p for p in lines if _LICENCE_WORDS.search(p) and 8 <= len(p) <= 100]
    for sentence in pieces:
        if sentences is None or sentences.search(sentence):
            found.add("debian-text", sentence, where)


_RDF = [
    re.compile(r"<cc:license\s+rdf:resource=\"([^\"]+)\""),
    re.compile(r"<cc:License\s+rdf:about=\"([^\"]+)\""),
    re.compile(r"<cc:license>\s*([^<]+?)\s*</cc:license>"),
    re.compile(r"<xmpRights:(?:UsageTerms|WebStatement)[^>]*>\s*(?:<rdf:Alt>\s*<rdf:li[^>]*>)?([^<]+)"),
    re.compile(r"xmpRights:WebStatement=\"([^\"]+)\""),
]
_RIGHTS = re.compile(
    r"<dc:rights>\s*(?:<cc:Agent[^>]*>\s*<dc:title>([^<]*)</dc:title>|<rdf:Alt>\s*<rdf:li[^>]*>([^<]*))"
)


def _svg(found: Found, data: bytes, where: str, rights_seen: set[str]) -> None:
    text = data[:200_000].decode("utf-8", "replace")
    for pattern in _RDF:
        for match in pattern.finditer(text):
            found.add("svg-rdf", match.group(1), where)
    for match in _RIGHTS.finditer(text):
        value = (match.group(1) or match.group(2) or "").strip()
        if value and (value in rights_seen or len(rights_seen) < MAX_SVG_RIGHTS_HOLDERS):
            rights_seen.add(value)
            found.add("svg-dc-rights", value, where)


_XMP_FIELDS = re.compile(
    r"<(dc:rights|xmpRights:UsageTerms|xmpRights:WebStatement|cc:license|exif:Copyright|photoshop:Copyright"
    r"|plus:LicensorURL)\b[^>]*>(.*?)</\1>",
    re.DOTALL,
)


def _xmp(found: Found, data: bytes, where: str) -> None:
    """The rights fields of the XMP packet embedded in a JPEG, PNG or WebP file, if it has one."""
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        return
    end = data.find(b"</x:xmpmeta>", start)
    packet = data[start : end if end > 0 else start + 65536].decode("utf-8", "replace")
    for match in _XMP_FIELDS.finditer(packet):
        inner = re.findall(r"<rdf:li[^>]*>([^<]*)</rdf:li>", match.group(2)) or [match.group(2)]
        for value in inner:
            if value.strip() and "<" not in value:
                found.add("image-xmp", " ".join(value.split()), where)


def _kde_metadata(found: Found, data: bytes, name: str, where: str) -> None:
    text = data.decode("utf-8", "replace")
    if name.endswith(".json"):
        found.add("kde-metadata", json.loads(text).get("KPlugin", {}).get("License"), where)
    else:
        for match in re.finditer(r"^X-KDE-PluginInfo-License=(.+)$", text, re.MULTILINE):
            found.add("kde-metadata", match.group(1), where)


def harvest_debian(found: Found, cache: Path, packages: list[str] = DEBIAN, folder: str = "debs") -> None:
    """Licence strings of the Debian packages in `packages`, downloading each .deb once."""
    debs = cache / folder
    debs.mkdir(parents=True, exist_ok=True)
    for package in packages:
        files = sorted(debs.glob(f"{package}_*.deb"))
        if not files:
            subprocess.run(["apt-get", "download", package], cwd=debs, check=True, capture_output=True)
            files = sorted(debs.glob(f"{package}_*.deb"))
        version = files[-1].name.split("_")[1].replace("%3a", ":")
        rights_seen: set[str] = set()
        for name, data in _deb_members(files[-1]):
            where = f"debian:{package}={version}:{name}"
            if name.endswith("/copyright"):
                _copyright(found, data.decode("utf-8", "replace"), where)
            elif name.endswith(".svg"):
                _svg(found, data, where, rights_seen)
            elif re.search(r"\.(?:jpe?g|png|webp)$", name, re.IGNORECASE):
                _xmp(found, data, where)
            else:
                _kde_metadata(found, data, name, where)


def harvest_installed_debian(found: Found) -> None:
    """The copyright files of the Debian packages installed here, each named with its version."""
    listing = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Version}\n"], capture_output=True, text=True, check=True
    )
    for line in sorted(listing.stdout.splitlines()):
        package, version = line.split(" ", 1)
        path = Path("/usr/share/doc") / package / "copyright"
        if package not in DEBIAN and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            _copyright(found, text, f"debian:{package}={version}:{path}", _STATUS)


def harvest_npm(found: Found, cache: Path) -> None:
    """`license` / `licenses` of the package.json of every npm tarball in the cache (npm pack fills it)."""
    folder = cache / "npm"
    names = (cache / "npm_list.txt").read_text().split() if (cache / "npm_list.txt").exists() else []
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        stem = name.lstrip("@").replace("/", "-").replace("@", "-")
        if not list(folder.glob(f"{stem.split('-')[0]}*.tgz")):
            subprocess.run(["npm", "pack", name, "--silent"], cwd=folder, capture_output=True, timeout=120)
    for tgz in sorted(folder.glob("*.tgz")):
        with tarfile.open(tgz) as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            member = next(m for m in members if m.name.count("/") == 1 and m.name.endswith("/package.json"))
            meta = json.load(tar.extractfile(member))
            package = f"npm:{meta.get('name')}@{meta.get('version')}"
            _npm_files(found, tar, members, package)
        where = f"{package}:package.json"
        lic = meta.get("license")
        if isinstance(lic, dict):
            found.add("npm-license", lic.get("type"), where)
            found.add("npm-license-url", lic.get("url"), where)
        else:
            found.add("npm-license", lic, where)
        licenses = meta.get("licenses")
        for entry in licenses if isinstance(licenses, list) else [licenses]:
            if isinstance(entry, dict):
                found.add("npm-license", entry.get("type"), where)
                found.add("npm-license-url", entry.get("url"), where)
            else:
                found.add("npm-license", entry, where)


_SVG_COMMENT = re.compile(r"<!--([^>]{0,300}licen[^>]{0,300})-->", re.IGNORECASE)
_TEXT_FILE = re.compile(r"\.(svg|json|md|txt|js|html|xml)$|/licen[cs]e[^/]*$", re.IGNORECASE)


def _npm_files(found: Found, tar: tarfile.TarFile, members: list[tarfile.TarInfo], package: str) -> None:
    """Licence URLs in a package's files, licence comments of its SVGs, sentences of its LICENSE file."""
    for member in members:
        if member.size > 2_000_000 or not _TEXT_FILE.search(member.name):
            continue
        text = tar.extractfile(member).read().decode("utf-8", "replace")
        where = f"{package}:{member.name.removeprefix('package/')}"
        for match in _LICENCE_URL.finditer(text):
            found.add("npm-file-url", match.group(0).rstrip(".#"), where)
        if member.name.endswith(".svg"):
            for match in _SVG_COMMENT.finditer(text):
                found.add("svg-comment", re.sub(r"\s+", " ", match.group(1)), where)
        if member.name.count("/") == 1 and re.search(r"/licen[cs]e", member.name, re.IGNORECASE):
            for sentence in _sentences(text)[:8]:
                found.add("npm-license-file", sentence, where)
        if member.name.count("/") == 1 and re.search(r"/readme", member.name, re.IGNORECASE):
            # What a README says about the images' rights ("Apple images are not licensed for ...").
            blocks = re.split(r"\n\s*\n|\n(?=\s*(?:[*#-]|\d+\.)\s)", text)  # markdown paragraphs and items
            for sentence in (s for block in blocks for s in _sentences(block.strip(" \t*#-"))):
                if _STATUS.search(sentence):
                    found.add("npm-readme", sentence, where)


def _metadata(archive: Path) -> str | None:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as whl:
            name = next((n for n in whl.namelist() if n.endswith(".dist-info/METADATA")), None)
            return None if name is None else whl.read(name).decode("utf-8", "replace")
    with tarfile.open(archive) as tar:
        member = next(
            (m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")), None
        )
        return None if member is None else tar.extractfile(member).read().decode("utf-8", "replace")


def harvest_pypi(found: Found, cache: Path) -> None:
    """License, License-Expression and licence classifiers of the PyPI archives in the cache."""
    folder = cache / "pypi"
    listing = cache / "pypi_list.txt"
    if not folder.exists() and listing.exists():
        subprocess.run(
            ["pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(folder), "-r", str(listing)],
            capture_output=True,
        )
    for archive in sorted(folder.glob("*")):
        text = _metadata(archive) if archive.suffix in {".whl", ".gz"} else None
        if text is None:
            continue
        meta = HeaderParser().parsestr(text.split("\n\n", 1)[0] + "\n")
        where = f"pypi:{meta['Name']}=={meta['Version']}:METADATA"
        for key in ("License", "License-Expression"):
            value = meta.get(key)
            if value and "\n" in value.strip():
                # A whole licence text pasted into the field: kept as one string, lines unfolded.
                value = re.sub(r"\n {7,8}", "\n", value)
            found.add(f"pypi-{key.lower()}", value, where)
        for classifier in meta.get_all("Classifier") or []:
            if classifier.startswith("License ::"):
                found.add("pypi-classifier", classifier, where)
        if meta["Name"].lower().replace("_", "-") == "trove-classifiers":
            _trove(found, archive, where)


def _trove(found: Found, wheel: Path, where: str) -> None:
    """Every licence classifier that PyPI accepts, as the trove-classifiers package lists them."""
    with zipfile.ZipFile(wheel) as whl:
        name = next(n for n in whl.namelist() if n.endswith("trove_classifiers/__init__.py"))
        source = whl.read(name).decode()
    for match in re.finditer(r'"(License :: [^"]+)"', source):
        found.add("pypi-classifier", match.group(1), where.replace("METADATA", name))


# Packages never looked at while the normaliser was written: a held-out test of it (fonts, more icon
# themes, JavaScript map and chart libraries), written to heldout.jsonl and only measured.
HELD_OUT = [
    "fonts-cantarell", "fonts-croscore", "fonts-crosextra-carlito", "fonts-freefont-ttf", "fonts-hack",
    "fonts-inconsolata", "fonts-lato", "fonts-linuxlibertine", "fonts-oxygen", "fonts-quicksand",
    "fonts-sil-gentium", "fonts-stix", "fonts-texgyre", "fonts-urw-base35", "fonts-wqy-zenhei",
    "fonts-ipafont-gothic", "fonts-terminus", "fonts-firacode", "fonts-jetbrains-mono", "fonts-ebgaramond",
    "fonts-comic-neue", "fonts-junicode", "fonts-humor-sans", "fonts-mathjax",
    "fonts-fork-awesome", "fonts-glyphicons-halflings", "fonts-materialdesignicons-webfont",
    "fonts-powerline", "faenza-icon-theme", "oxygen-icon-theme", "deepin-icon-theme", "moka-icon-theme",
    "xfce4-panel", "libjs-leaflet", "libjs-openlayers", "libjs-d3", "libjs-three", "libjs-jquery-ui",
    "openscad-mcad", "pd-iemlib",
]  # fmt: skip


def main() -> None:
    """Harvest every source and write one JSON line per distinct string, with where it was found."""
    held_out = "--held-out" in sys.argv
    cache = cache_dir()
    found = Found()
    if held_out:
        harvest_debian(found, cache, HELD_OUT, "heldout")
    else:
        harvest_debian(found, cache)
        harvest_installed_debian(found)
        harvest_npm(found, cache)
        harvest_pypi(found, cache)
    write(found, HELD_OUT_FILE if held_out else CORPUS)


def write(found: Found, path: Path) -> None:
    """One row per distinct string, keeping the labels already in `path`."""
    labelled = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            labelled[row["string"]] = row
    rows: dict[str, dict] = {}
    for (kind, text), places in sorted(found.places.items()):
        if text in rows:
            continue  # one row per distinct string: the first kind it was found as
        old = labelled.get(text, {})
        row = {"string": text, "expected": old.get("expected"), "kind": kind, "found_in": places[:3]}
        row.update({k: old[k] for k in ("note", "known_miss") if k in old})
        rows[text] = row
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for row in rows.values():
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    new = [r["string"] for r in rows.values() if r["expected"] is None]
    print(f"{len(rows)} distinct strings -> {path.relative_to(REPO)}; {len(new)} not yet labelled")


if __name__ == "__main__":
    main()
