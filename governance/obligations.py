"""What the kept data obliges the model's publisher to do, in plain words, and conflicts with the use."""

from governance.licenses import ALL_RIGHTS_RESERVED, license_traits, license_url
from governance.report import Obligations


def derive_obligations(licenses_kept: dict[str, int], intended_use: str) -> Obligations:
    """Obligations and conflicts from the licences of the kept records."""
    out = Obligations(licenses=dict(sorted(licenses_kept.items())))
    for spdx, count in sorted(licenses_kept.items()):
        traits = license_traits(spdx)
        where = f"{spdx} ({count} kept records, {license_url(spdx) or 'no public licence text'})"
        if "attribution" in traits:
            out.attribution_required = True
            out.statements.append(
                f"{where} requires attribution: publish the attribution list (author, caption, source, licence) "
                "with the model and name the licence in the model card."
            )
        if "share-alike" in traits or "copyleft" in traits:
            out.share_alike.append(spdx)
            out.statements.append(
                f"{where} is share-alike/copyleft: if the trained weights count as an adaptation of these images "
                "(legally unsettled), they must be released under the same or a compatible licence."
            )
        if "non-commercial" in traits:
            out.non_commercial.append(spdx)
            out.statements.append(
                f"{where} forbids commercial use: the model must not be used or offered commercially."
            )
            if intended_use == "commercial":
                out.conflicts.append(f"{spdx} is non-commercial but licenses.intended_use is commercial")
        if "no-derivatives" in traits:
            out.conflicts.append(f"{spdx} forbids derivatives; a model trained on it may be one")
        if spdx == ALL_RIGHTS_RESERVED:
            out.conflicts.append(
                "records with all rights reserved were kept: training needs the rights holder's permission"
            )
        if not traits:
            out.statements.append(f"{where} is public domain or equivalent: no licence obligations.")
    if not licenses_kept:
        out.statements.append("No records were kept, so the data brings no licence obligations.")
    return out
