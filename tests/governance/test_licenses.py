"""Licence strings as real metadata holds them -> SPDX ids, traits, URLs and the policy decision."""

import pytest

from governance.config import GovernanceConfig, LicensePolicy
from governance.licenses import (
    ALL_RIGHTS_RESERVED,
    NON_COMMERCIAL_ONLY,
    license_choices,
    license_traits,
    license_url,
    normalize_license,
)
from governance.obligations import derive_obligations
from governance.provenance import choose_license, license_decision
from governance.reasons import Decision, Reason

TABLE = [
    ("CC BY-SA 4.0", "CC-BY-SA-4.0"),
    ("cc-by-nc", "CC-BY-NC-4.0"),
    ("CC0", "CC0-1.0"),
    ("CC0 1.0 Universal", "CC0-1.0"),
    ("CC-BY-4.0", "CC-BY-4.0"),
    ("Attribution 4.0 International (CC BY 4.0)", "CC-BY-4.0"),
    ("Creative Commons Attribution-NonCommercial-ShareAlike 2.0", "CC-BY-NC-SA-2.0"),
    ("cc by-nd 2.5", "CC-BY-ND-2.5"),
    ("CC-BY-NC-ND-4.0", "CC-BY-NC-ND-4.0"),
    ("https://creativecommons.org/licenses/by-nc-sa/3.0/deed.en", "CC-BY-NC-SA-3.0"),
    ("http://creativecommons.org/licenses/by/2.0/", "CC-BY-2.0"),
    ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0-1.0"),
    ("creativecommons.org/publicdomain/mark/1.0/", "PDM-1.0"),
    ("public domain", "PDM-1.0"),
    ("Apache 2.0", "Apache-2.0"),
    ("Apache License, Version 2.0", "Apache-2.0"),
    ("apache-2.0", "Apache-2.0"),
    ("MIT", "MIT"),
    ("The MIT License", "MIT"),
    ("BSD-3-Clause", "BSD-3-Clause"),
    ("BSD 2-Clause", "BSD-2-Clause"),
    ("New BSD", "BSD-3-Clause"),
    ("OFL", "OFL-1.1"),
    ("SIL OFL 1.1", "OFL-1.1"),
    ("GPLv3", "GPL-3.0-only"),
    ("GPL-2.0+", "GPL-2.0-or-later"),
    ("GNU General Public License v2 or any later version", "GPL-2.0-or-later"),
    ("GPL v3 or later", "GPL-3.0-or-later"),
    ("GPL", "GPL-1.0-or-later"),
    ("LGPL-2.1", "LGPL-2.1-only"),
    ("LGPLv3+", "LGPL-3.0-or-later"),
    ("AGPL-3.0", "AGPL-3.0-only"),
    ("GNU Affero General Public License v3", "AGPL-3.0-only"),
    ("MPL-2.0", "MPL-2.0"),
    ("All rights reserved", ALL_RIGHTS_RESERVED),
    ("proprietary", ALL_RIGHTS_RESERVED),
    ("© 2020 Joe Bloggs", ALL_RIGHTS_RESERVED),
    ("", None),
    (None, None),
    ("BSD", None),
    ("MIT OR Apache-2.0", None),
    ("Ask me first v7", None),
]


@pytest.mark.parametrize(("raw", "spdx"), TABLE)
def test_normalisation_table(raw, spdx):
    assert normalize_license(raw).spdx == spdx


def test_assumptions_are_recorded_as_evidence():
    assert "assumed" in normalize_license("cc-by-nc").evidence
    assert "assumed" in normalize_license("GPL").evidence
    assert normalize_license("CC BY 4.0").evidence == {}
    assert "problem" in normalize_license("BSD").evidence


@pytest.mark.parametrize(
    ("spdx", "traits"),
    [
        ("CC-BY-4.0", {"attribution"}),
        ("CC-BY-NC-SA-4.0", {"attribution", "non-commercial", "share-alike"}),
        ("CC-BY-ND-4.0", {"attribution", "no-derivatives"}),
        ("CC0-1.0", set()),
        ("GPL-3.0-only", {"attribution", "copyleft", "share-alike"}),
        ("MIT", {"attribution"}),
    ],
)
def test_traits(spdx, traits):
    assert license_traits(spdx) == traits


def test_urls():
    assert license_url("CC-BY-SA-4.0") == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert license_url("CC0-1.0") == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert license_url("MIT") == "https://spdx.org/licenses/MIT.html"


def test_policy_by_id_and_by_trait():
    cfg = GovernanceConfig(licenses=LicensePolicy(deny=["MIT"], deny_traits=["non-commercial"]))
    assert license_decision("CC-BY-4.0", cfg)[:2] == (Decision.KEEP, None)
    assert license_decision("MIT", cfg)[:2] == (Decision.DROP, Reason.LICENSE_NOT_ALLOWED)
    assert license_decision("CC-BY-NC-4.0", cfg)[:2] == (Decision.DROP, Reason.LICENSE_NOT_ALLOWED)
    assert license_decision("GPL-3.0-only", cfg)[:2] == (Decision.DROP, Reason.LICENSE_NOT_ALLOWED)
    assert license_decision(None, cfg)[:2] == (Decision.QUARANTINE, Reason.LICENSE_UNKNOWN)


def test_obligations_and_conflicts_with_intended_use():
    research = derive_obligations({"CC-BY-NC-SA-4.0": 3, "CC0-1.0": 2}, "research")
    assert research.attribution_required
    assert research.share_alike == ["CC-BY-NC-SA-4.0"] and research.non_commercial == ["CC-BY-NC-SA-4.0"]
    assert research.conflicts == []
    commercial = derive_obligations({"CC-BY-NC-SA-4.0": 3}, "commercial")
    assert any("non-commercial" in c for c in commercial.conflicts)
    assert derive_obligations({"CC0-1.0": 1}, "commercial").attribution_required is False


@pytest.mark.parametrize(
    ("raw", "options"),
    [
        ("MIT OR Apache-2.0", ["MIT", "Apache-2.0"]),
        ("(CC-BY-4.0 or CC0)", ["CC-BY-4.0", "CC0-1.0"]),
        ("GPLv3 or MIT", ["GPL-3.0-only", "MIT"]),
        ("MIT AND Apache-2.0", None),  # a conjunction: both apply, a human reads it
        ("GPL-2.0 WITH Classpath-exception-2.0 OR MIT", None),
        ("MIT OR ask me first", None),  # one option unknown
        ("MIT", None),
    ],
)
def test_license_choices(raw, options):
    assert license_choices(raw) == options


def test_a_choice_of_licences_takes_the_allowed_option_with_fewest_obligations():
    cfg = GovernanceConfig(licenses=LicensePolicy(allow=["GPL-3.0-only", "MIT"]))
    spdx, decision, reason, evidence = choose_license("GPL-3.0 OR MIT", cfg)
    assert (spdx, decision, reason) == ("MIT", Decision.KEEP, None)
    assert evidence["options"] == ["GPL-3.0-only", "MIT"] and "fewest obligations" in evidence["choice"]
    nc_denied = GovernanceConfig(licenses=LicensePolicy(deny_traits=["non-commercial"]))
    assert choose_license("CC-BY-NC-4.0 OR CC-BY-4.0", nc_denied)[:2] == ("CC-BY-4.0", Decision.KEEP)


def test_a_choice_with_no_allowed_option_is_dropped_and_plain_licences_are_unchanged():
    cfg = GovernanceConfig(licenses=LicensePolicy(deny_traits=["non-commercial"]))
    spdx, decision, reason, evidence = choose_license("CC-BY-NC-4.0 or CC-BY-NC-SA-4.0", cfg)
    assert (spdx, decision, reason) == ("CC-BY-NC-4.0", Decision.DROP, Reason.LICENSE_NOT_ALLOWED)
    assert "no option is allowed" in evidence["choice"]
    assert choose_license("CC BY 4.0", cfg)[:3] == ("CC-BY-4.0", Decision.KEEP, None)
    assert choose_license("MIT AND Apache-2.0", cfg)[1:3] == (Decision.QUARANTINE, Reason.LICENSE_UNKNOWN)


@pytest.mark.parametrize(
    ("spdx", "traits"),
    [
        ("CC-PDDC", set()),
        ("CC-BY-3.0-US", {"attribution"}),
        ("GFDL-1.3-or-later", {"attribution", "copyleft", "share-alike"}),
        (NON_COMMERCIAL_ONLY, {"no-derivatives", "non-commercial"}),
        (ALL_RIGHTS_RESERVED, {"no-derivatives", "non-commercial"}),
    ],
)
def test_traits_of_the_ids_real_metadata_brings(spdx, traits):
    assert license_traits(spdx) == traits


def test_urls_of_ported_and_public_domain_licences():
    assert license_url("CC-BY-3.0-US") == "https://creativecommons.org/licenses/by/3.0/us/"
    assert license_url("CC-PDDC") == "https://creativecommons.org/licenses/publicdomain/"
    assert license_url(NON_COMMERCIAL_ONLY) == ""


def test_what_was_found_and_assumed_is_evidence():
    apache = normalize_license("http://www.apache.org/licenses/LICENSE-2.0")
    assert apache.spdx == "Apache-2.0" and "licensedb" in apache.evidence["found"]
    assert "assumed" in normalize_license("Creative Commons Attribution").evidence
    port = normalize_license(
        "This work is licenced under the Creative Commons Attribution-Share Alike 3.0 United States License."
    )
    assert port.spdx is None and "port" in port.evidence["problem"]
    versionless = normalize_license("License :: OSI Approved :: Artistic License")
    assert versionless.spdx is None and "without a version" in versionless.evidence["problem"]


def test_a_pasted_bsd_text_is_read_by_its_clauses():
    two = (
        "Copyright (c) 2020 A. Author\nAll rights reserved.\n\nRedistribution and use in source and binary forms, "
        "with or without modification, are permitted provided that the following conditions are met:\n"
        "1. Redistributions of source code must retain the above copyright notice.\n"
        "2. Redistributions in binary form must reproduce the above copyright notice."
    )
    assert normalize_license(two).spdx == "BSD-2-Clause"
    three = (
        two + "\n3. Neither the name of the copyright holder nor the names of its contributors may be used."
    )
    assert normalize_license(three).spdx == "BSD-3-Clause"
    # Without the grant, the same copyright line is a bare notice: no licence.
    assert normalize_license("Copyright (c) 2020 A. Author\nAll rights reserved.").spdx == ALL_RIGHTS_RESERVED


def test_the_licence_database_is_built_from_scancode_files(tmp_path):
    from governance.license_db import build, url_key, words

    (tmp_path / "licenses").mkdir()
    (tmp_path / "rules").mkdir()
    for key, spdx, url in [("alpha-1.0", "Alpha-1.0", "http://alpha.example/1.0/"), ("beta", "Beta", "")]:
        urls = f"text_urls:\n    - {url}\n" if url else ""
        (tmp_path / "licenses" / f"{key}.LICENSE").write_text(
            f"---\nkey: {key}\nname: The {key} Licence\nspdx_license_key: {spdx}\ncategory: Permissive\n"
            f"homepage_url: http://shared.example/\n{urls}---\n\nThe text of {key}.\n"
        )
    (tmp_path / "rules" / "alpha-1.0_1.RULE").write_text(
        "---\nlicense_expression: alpha-1.0\nis_license_tag: yes\n---\n\nlicense: alpha one"
    )
    (tmp_path / "rules" / "alpha-1.0_2.RULE").write_text(
        "---\nlicense_expression: alpha-1.0\nis_license_tag: yes\nrelevance: 80\n---\n\nalpha guessed"
    )
    (tmp_path / "rules" / "false-positive_1.RULE").write_text(
        "---\nlicense_expression: unknown\nis_false_positive: yes\n---\n\nlicense: see below"
    )
    db = build(tmp_path)
    assert db.urls[url_key("https://www.alpha.example/1.0")] == "Alpha-1.0"
    assert url_key("http://shared.example/") not in db.urls  # two licences' homepage names neither
    assert db.names[words("The alpha-1.0 Licence")] == "Alpha-1.0"
    assert db.rules[words("license: alpha one")] == "Alpha-1.0"
    assert words("alpha guessed") not in db.rules  # ScanCode's own guess (relevance below 100)
    assert db.rules[words("license: see below")] is None
    assert db.categories["Beta"] == "Permissive"


def test_a_missing_licence_database_says_how_to_install_it(monkeypatch):
    from importlib import metadata

    from governance import license_db

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(license_db.metadata, "distribution", missing)
    with pytest.raises(RuntimeError, match=r"pip install licensedcode-data==32\.1\.0"):
        license_db.data_dir()


@pytest.mark.parametrize(
    ("raw", "spdx"),
    [
        # Creative Commons URLs as image sites and datasets write them: suffixes, hosts, schemes, ports.
        ("https://creativecommons.org/licenses/by-sa/4.0/deed.fr", "CC-BY-SA-4.0"),
        ("http://creativecommons.org/licenses/by-nc/3.0/legalcode.de", "CC-BY-NC-3.0"),
        ("//creativecommons.org/licenses/by/4.0", "CC-BY-4.0"),
        ("http://www.creativecommons.org/licenses/by-nd/2.5/", "CC-BY-ND-2.5"),
        ("https://creativecommons.org/publicdomain/zero/1.0/deed.en", "CC0-1.0"),
        ("https://creativecommons.org/licenses/by/3.0/igo/", "CC-BY-3.0-IGO"),
        ("CC BY-SA 3.0 de", "CC-BY-SA-3.0-DE"),
        ("creativecommons.org/licenses/by/2.0/kr/", None),  # a port SPDX does not list
        # Licence pages of other hosts.
        ("https://spdx.org/licenses/Apache-2.0.json", "Apache-2.0"),
        ("https://opensource.org/license/bsd-3-clause", "BSD-3-Clause"),
        ("https://www.gnu.org/licenses/old-licenses/gpl-2.0.html", "GPL-2.0-only"),
        ("https://www.apache.org/licenses/LICENSE-2.0.txt", "Apache-2.0"),
        # Statements: personal use only is no licence to train on; "free for commercial use" names none.
        ("Free for personal use (proprietary)", NON_COMMERCIAL_ONLY),
        ("free for personal use only", NON_COMMERCIAL_ONLY),
        ("Free for commercial use", None),
        ("No known copyright restrictions", None),
    ],
)
def test_url_forms_and_statements(raw, spdx):
    assert normalize_license(raw).spdx == spdx
