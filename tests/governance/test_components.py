"""Licences of the tools the pipeline runs, read against what their installed wheels declare."""

from importlib import metadata

import pytest
from license_expression import get_spdx_licensing

from governance.components import library
from governance.used_components import governance_components


def _declared(dist: str) -> str | None:
    return metadata.metadata(dist).get("License-Expression")


def test_a_wheel_licence_expression_replaces_the_fallback_and_says_so():
    # numpy and torch bundle code under other licences and say so in their wheels' metadata; what we
    # would write from their LICENSE files alone (BSD-3-Clause) leaves those out
    for dist in ("numpy", "torch"):
        declared = _declared(dist)
        if not declared:
            pytest.skip(f"this {dist} wheel declares no License-Expression")
        component = library(dist, "BSD-3-Clause")
        assert component.license == declared != "BSD-3-Clause"
        assert "License-Expression" in (component.note or "")
        assert component.version == metadata.version(dist)


def test_without_a_licence_expression_the_project_licence_stands():
    assert _declared("imagehash") is None  # its metadata says "2-clause BSD License", free text
    component = library("imagehash", "BSD-2-Clause")
    assert component.license == "BSD-2-Clause" and component.note is None
    assert library("not-a-distribution-xyz", "MIT").version is None


def test_every_governance_component_licence_is_a_valid_spdx_expression():
    licensing = get_spdx_licensing()
    for component in governance_components("emoji", nsfw_enabled=True) + governance_components(
        "hf_disk", True
    ):
        info = licensing.validate(component.license)
        assert not info.errors and not info.invalid_symbols, (component.name, component.license, info.errors)
        if component.kind == "library":
            dist = component.source.split()[1]
            assert component.version == metadata.version(dist), component.name
