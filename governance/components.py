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
