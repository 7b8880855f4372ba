"""Third-party components (model weights, tools) a stage used, with their licences, for disclosure.

Every stage report lists the components it ran, so the model card can report each licence.
Lives in governance only because governance is the leftmost package: every later stage may import it.
"""

from functools import cache

from pydantic import BaseModel


class Component(BaseModel):
    name: str  # e.g. "NudeNet 320n detector"
    kind: str  # "model weights" | "library" | "dataset"
    version: str | None = None
    # SPDX expression: a library's as its wheel states it (UNKNOWN_LICENSE where it names none), model
    # weights' as the document the note names states it (NudeNet: AGPL-3.0)
    license: str
    source: str | None = None  # package or URL it came from
    note: str | None = None  # e.g. "wheel metadata says MIT; the wheel ships AGPL-3.0 text"


UNKNOWN_LICENSE = "unknown"  # what a card shows for a tool whose wheel names no licence we can read

# A `License` field longer than a name is licence text (mlflow's starts "Copyright 2018 Databricks,
# Inc. All rights reserved."), which normalize_license would read as that statement, not as the
# licence that follows: for those the classifiers speak.
_NAME_CHARS = 80


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, or None where it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def wheel_license(distribution: str) -> tuple[str, str]:
    """(SPDX expression or UNKNOWN_LICENSE, where it was read) from the installed wheel's metadata.

    In order: `License-Expression` (an SPDX expression, core metadata 2.4, which its authors state for
    the whole wheel, bundled code included: torch's lists six licences); the `License` field where it
    is a licence name; the `License ::` trove classifiers where they name one licence. Names are read
    by `governance.licenses.normalize_license`, whose assumptions ("Apache" without a version is 2.0)
    are stated in the returned text. Anything else is UNKNOWN_LICENSE, never a licence we expect.
    """
    from importlib import metadata

    from governance.licenses import normalize_license

    try:
        meta = metadata.metadata(distribution)
    except metadata.PackageNotFoundError:
        return UNKNOWN_LICENSE, "not installed"
    if expression := (meta.get("License-Expression") or "").strip():
        return expression, "licence from the wheel's License-Expression"
    field = (meta.get("License") or "").strip()
    is_name = bool(field) and "\n" not in field and len(field) <= _NAME_CHARS
    if is_name and (spdx := _spdx_expression(field) or normalize_license(field).spdx):
        return spdx, _how(f"License field {field!r}", normalize_license(field).evidence)
    if not is_name and (dep5 := _dep5_expression(field)):
        return dep5, (
            "licence from the `License:` lines of the Debian-format copyright text in the wheel's License "
            "field (the whole wheel, bundled code included)"
        )
    classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    read = {c.split(" :: ")[-1]: normalize_license(c) for c in classifiers}
    named = {info.spdx for info in read.values()}
    if len(named) == 1 and None not in named:
        evidence = {k: v for info in read.values() for k, v in info.evidence.items()}
        return named.pop(), _how("classifier " + ", ".join(map(repr, read)), evidence)
    said = [f"License field {field!r}" if is_name else "licence text in the License field" if field else ""]
    said += [f"classifier {c!r}" for c in read]
    return UNKNOWN_LICENSE, "the wheel names no single licence: " + (
        ", ".join(filter(None, said)) or "no licence fields"
    )


def _dep5_expression(text: str) -> str | None:
    """The AND of the `License:` lines of a Debian-format (DEP-5) copyright text, or None.

    scipy and scikit-image paste such a text, one `Files:` paragraph per bundled part, into the
    License field. Every line must be a valid SPDX expression: one that is not (a name only this text
    defines) makes the whole reading None rather than a licence that leaves a part out.
    """
    import re

    lines = re.findall(r"^\s*License:[ \t]*(\S[^\n]*?)\s*$", text, re.M)
    read = [_spdx_expression(line) for line in dict.fromkeys(lines)]
    if not read or any(r is None for r in read):
        return None
    parts = list(dict.fromkeys(f"({r})" if " OR " in r else r for r in read))
    return _spdx_expression(" AND ".join(parts))


def _spdx_expression(text: str) -> str | None:
    """`text` normalised if it is a valid SPDX expression ("MIT OR Apache-2.0"), else None."""
    info = _spdx_licensing().validate(text)
    return None if info.errors or info.invalid_symbols else info.normalized_expression


@cache
def _spdx_licensing():
    # each get_spdx_licensing() call reads the bundled licence index again (70 ms)
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def _how(where: str, evidence: dict[str, str]) -> str:
    assumed = evidence.get("assumed")
    return f"licence from the wheel's {where}" + (f" ({assumed})" if assumed else "")


def library(
    distribution: str,
    declared: str | None = None,
    *,
    name: str | None = None,
    note: str | None = None,
    kind: str = "library",
    source: str | None = None,
) -> Component:
    """A component installed from PyPI, with its installed version and the licence its wheel states.

    The licence is read from the wheel (`wheel_license`), never taken from the caller: a wheel that
    names none is disclosed as UNKNOWN_LICENSE, and the note says where the licence was read.
    `declared` (what the project's own LICENSE file says, written by hand) only adds a note where the
    wheel says something else or nothing, so the reader sees both and which one the wheel states.
    """
    license, how = wheel_license(distribution)
    if declared is not None and declared != license:
        how += f"; the project's own licence file says {declared} (declared by hand, not read from the wheel)"
    return Component(
        name=name or distribution,
        kind=kind,
        version=installed_version(distribution),
        license=license,
        source=source or f"PyPI {distribution}",
        note="; ".join(filter(None, [note, how])),
    )


def model_weights(
    name: str,
    license: str,
    *,
    license_from: str,
    distribution: str | None = None,
    source: str | None = None,
    note: str | None = None,
) -> Component:
    """Model weights whose licence no wheel metadata carries: declared, with where it was read.

    `license_from` names the document that states the licence (the weights' model card, the upstream
    repository's LICENSE); `distribution` is the wheel the weights are installed from, for the version.
    """
    version = installed_version(distribution) if distribution else None
    return Component(
        name=name,
        kind="model weights",
        version=f"{distribution} {version}" if distribution and version else None,
        license=license,
        source=source or (f"PyPI {distribution}" if distribution else None),
        note="; ".join(filter(None, [note, f"licence declared from {license_from}"])),
    )
