"""Third-party components (model weights, tools) a stage used, with their licences, for disclosure.

Every stage report lists the components it ran, so the model card can report each licence.
Lives in governance only because governance is the leftmost package: every later stage may import it.
"""

from pydantic import BaseModel


class Component(BaseModel):
    name: str  # e.g. "NudeNet 320n detector"
    kind: str  # "model weights" | "library" | "dataset"
    version: str | None = None
    license: str  # SPDX id as the component's own files state it (NudeNet: AGPL-3.0)
    source: str | None = None  # package or URL it came from
    note: str | None = None  # e.g. "wheel metadata says MIT; the wheel ships AGPL-3.0 text"


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, or None where it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def library(
    distribution: str,
    license: str,
    *,
    name: str | None = None,
    note: str | None = None,
    kind: str = "library",
    source: str | None = None,
) -> Component:
    """A component installed from PyPI: its version and, where the wheel declares one, its licence expression.

    A wheel's `License-Expression` (an SPDX expression, core metadata 2.4) is what its authors state
    for the whole wheel, bundled code included (torch's lists six licences), so it replaces `license`;
    `license` is what the project's own files say, for wheels that declare only free text or nothing.
    """
    from importlib import metadata

    try:
        declared = metadata.metadata(distribution).get("License-Expression")
    except metadata.PackageNotFoundError:
        declared = None
    if declared and declared != license:
        note = "; ".join(filter(None, [note, "licence as the wheel's License-Expression states"]))
    return Component(
        name=name or distribution,
        kind=kind,
        version=installed_version(distribution),
        license=declared or license,
        source=source or f"PyPI {distribution}",
        note=note,
    )
