"""The licence the card declares, derived from what the model is made of.

A trained model carries the obligations of its training data (as governance recorded them) and the
licences of the pretrained weights saved inside it (the text encoder, a VAE). When all of them are
one licence the Hub knows, the card declares that id in lower case; when they are mixed the card
declares `other`, names the mix in `license_name` and links a LICENSES.md that lists every part.
This is disclosure, not legal advice: the card says so.
"""

import re

from pydantic import BaseModel, Field

from governance.components import Component
from governance.report import GovernanceReport
from training.report import TrainingReport

LICENSES_FILE = "LICENSES.md"

# Licence ids the Hugging Face Hub accepts in `license:` (https://huggingface.co/docs/hub/repositories-licenses).
# Only SPDX-style ids are listed: the card maps an SPDX id to the Hub id by lower-casing it.
HUB_LICENSE_IDS = frozenset(
    {
        "apache-2.0",
        "mit",
        "afl-3.0",
        "artistic-2.0",
        "bsl-1.0",
        "bsd-2-clause",
        "bsd-3-clause",
        "bsd-3-clause-clear",
        "cc0-1.0",
        "cc-by-2.0",
        "cc-by-2.5",
        "cc-by-3.0",
        "cc-by-4.0",
        "cc-by-sa-3.0",
        "cc-by-sa-4.0",
        "cc-by-nc-2.0",
        "cc-by-nc-3.0",
        "cc-by-nc-4.0",
        "cc-by-nd-4.0",
        "cc-by-nc-nd-3.0",
        "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0",
        "cc-by-nc-sa-3.0",
        "cc-by-nc-sa-4.0",
        "cdla-sharing-1.0",
        "cdla-permissive-1.0",
        "cdla-permissive-2.0",
        "wtfpl",
        "ecl-2.0",
        "epl-1.0",
        "epl-2.0",
        "eupl-1.1",
        "eupl-1.2",
        "agpl-3.0",
        "gpl-2.0",
        "gpl-3.0",
        "lgpl-2.1",
        "lgpl-3.0",
        "isc",
        "mpl-2.0",
        "odc-by",
        "odbl",
        "osl-3.0",
        "postgresql",
        "ofl-1.1",
        "ncsa",
        "unlicense",
        "zlib",
        "pddl",
    }
)


class LicensePart(BaseModel):
    """One licence that applies to part of the model."""

    spdx: str
    applies_to: list[str] = Field(
        default_factory=list
    )  # e.g. ["training data (3,512 records)", "text encoder"]


class CardLicense(BaseModel):
    """What goes in the card's `license` metadata, and why."""

    license: str  # Hub id: lower-case SPDX, "other" or "unknown"
    license_name: str | None = None  # with "other": a slug naming the mix
    license_link: str | None = None  # with "other": LICENSES.md beside the card
    parts: list[LicensePart] = Field(default_factory=list)
    obligations: list[str] = Field(default_factory=list)  # plain-language, from governance
    conflicts: list[str] = Field(default_factory=list)
    non_commercial: list[str] = Field(default_factory=list)
    share_alike: list[str] = Field(default_factory=list)
    attribution_required: bool = False

    @property
    def mixed(self) -> bool:
        return self.license == "other"


def weight_components(training: TrainingReport | None) -> list[Component]:
    """The pretrained weights saved inside the model directory: the text encoder and any other weights."""
    if training is None:
        return []
    found = [training.text_encoder]
    found += [c for c in training.components if c.kind == "model weights" and c != training.text_encoder]
    return found


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def derive_license(governance: GovernanceReport | None, training: TrainingReport | None) -> CardLicense:
    """The card licence from the kept data's licences and the licences of the weights inside the model."""
    parts: dict[str, LicensePart] = {}
    if governance is not None:
        kept = governance.obligations.licenses or governance.licenses_kept
        for spdx, count in sorted(kept.items()):
            if count > 0:
                parts.setdefault(spdx, LicensePart(spdx=spdx)).applies_to.append(
                    f"training data ({count:,} kept records)"
                )
    for component in weight_components(training):
        parts.setdefault(component.license, LicensePart(spdx=component.license)).applies_to.append(
            component.name
        )

    obligations = governance.obligations if governance is not None else None
    fields = {
        "parts": list(parts.values()),
        "obligations": list(obligations.statements) if obligations else [],
        "conflicts": list(obligations.conflicts) if obligations else [],
        "non_commercial": list(obligations.non_commercial) if obligations else [],
        "share_alike": list(obligations.share_alike) if obligations else [],
        "attribution_required": bool(obligations and obligations.attribution_required),
    }
    if not parts:
        return CardLicense(license="unknown", **fields)
    ids = sorted(parts)
    if len(ids) == 1 and ids[0].lower() in HUB_LICENSE_IDS:
        return CardLicense(license=ids[0].lower(), **fields)
    return CardLicense(
        license="other",
        license_name=_slug("mixed " + " ".join(ids)),
        license_link=LICENSES_FILE,
        **fields,
    )
