"""Opt-out and AI-generation signals embedded in the files themselves.

- IPTC/PLUS `plus:DataMining` in XMP (values from the PLUS "Data Mining" vocabulary, `DMI-...`);
- C2PA training-and-mining assertions (`cawg.training-mining`, and the older `c2pa.training-mining`)
  whose entries (`*.ai_training`, `*.ai_generative_training`, `*.data_mining`) say `notAllowed`
  or `constrained`;
- IPTC DigitalSourceType (in XMP or in a C2PA actions assertion): `trainedAlgorithmicMedia` and
  `compositeWithTrainedAlgorithmicMedia` mark AI-generated media.

This is a byte-level reader of the metadata: a signal counts whether or not its manifest is signed,
because honouring an unsigned opt-out costs little and ignoring one is the harm the check exists to
prevent. Where a file carries a C2PA manifest, `content_credentials` adds its validation (intact?
signed by whom?) as evidence beside the signals.
"""

import re
from dataclasses import dataclass, field

from governance import content_credentials

_DATA_MINING = re.compile(rb"DataMining[\s\S]{0,400}?(DMI-[A-Za-z-]+)")
_C2PA_LABEL = re.compile(rb"(?:c2pa|cawg)\.training-mining")
_C2PA_ENTRY = re.compile(
    rb"((?:c2pa|cawg)\.(?:ai_generative_training|ai_training|ai_inference|data_mining))"
    rb"[\s\S]{0,24}?use[\s\S]{0,6}?(notAllowed|constrained|allowed)"
)
_SOURCE_TYPE = re.compile(rb"digitalsourcetype/([A-Za-z]+)")

AI_SOURCE_TYPES = {"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"}
TRAINING_ENTRIES = ("ai_training", "ai_generative_training", "data_mining")


@dataclass
class EmbeddedSignals:
    """What the file's own metadata says about mining and about how it was made."""

    data_mining: list[str] = field(default_factory=list)  # PLUS DMI values, e.g. DMI-PROHIBITED-AIMLTRAINING
    training_mining: dict[str, str] = field(
        default_factory=dict
    )  # C2PA entry -> allowed/notAllowed/constrained
    digital_source_type: list[str] = field(default_factory=list)
    content_credentials: dict = field(default_factory=dict)  # C2PA validation, when a manifest is present

    def as_dict(self) -> dict:
        # by hand: dataclasses.asdict copies recursively and took longer than the scan itself
        return {
            "data_mining": list(self.data_mining),
            "training_mining": dict(self.training_mining),
            "digital_source_type": list(self.digital_source_type),
            "content_credentials": self.content_credentials,
        }

    def opt_out(self) -> list[str]:
        """The signals that forbid training on this file, as 'signal=value' strings (empty: none)."""
        fired = [f"plus:DataMining={v}" for v in self.data_mining if "PROHIBITED" in v.upper()]
        fired += [
            f"{entry}={use}"
            for entry, use in sorted(self.training_mining.items())
            if entry.split(".", 1)[1] in TRAINING_ENTRIES and use in ("notAllowed", "constrained")
        ]
        return fired

    def ai_generated(self) -> list[str]:
        """The IPTC DigitalSourceType values that mark AI-generated media."""
        return [v for v in self.digital_source_type if v in AI_SOURCE_TYPES]


def _unique(values: list[str]) -> list[str]:
    return sorted(set(values))


def scan(
    data: bytes, info_text: str = "", image_format: str | None = None, trust_anchors: str | None = None
) -> EmbeddedSignals:
    """Find the signals in a file's bytes and in its decoded text chunks (compressed PNG iTXt).

    With the decoded `image_format`, a C2PA manifest in the file is also validated (against
    `trust_anchors`, PEM text, when given).
    """
    blobs = [data, info_text.encode("utf-8", errors="replace")] if info_text else [data]
    signals = EmbeddedSignals()
    for blob in blobs:
        signals.data_mining += [m.group(1).decode() for m in _DATA_MINING.finditer(blob)]
        signals.digital_source_type += [m.group(1).decode() for m in _SOURCE_TYPE.finditer(blob)]
        if _C2PA_LABEL.search(blob):
            for m in _C2PA_ENTRY.finditer(blob):
                entry, use = m.group(1).decode(), m.group(2).decode()
                # The strictest statement wins when an entry appears twice.
                rank = {"allowed": 0, "constrained": 1, "notAllowed": 2}
                if rank[use] >= rank.get(signals.training_mining.get(entry, "allowed"), 0):
                    signals.training_mining[entry] = use
    signals.data_mining = _unique(signals.data_mining)
    signals.digital_source_type = _unique(signals.digital_source_type)
    if image_format is not None and content_credentials.has_manifest(data):
        signals.content_credentials = content_credentials.verify(data, image_format, trust_anchors)
    return signals
