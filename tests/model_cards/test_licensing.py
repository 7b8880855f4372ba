"""The card's licence: one Hub id when the parts agree, `other` with a named mix when they do not."""

from governance.report import Obligations
from model_cards.licensing import LICENSES_FILE, derive_license
from model_cards.metadata import build_card_data

from .conftest import governance_report, training_report


def test_mixed_data_and_encoder_licences_are_other(tmp_path):
    lic = derive_license(governance_report(tmp_path), training_report(tmp_path))
    assert lic.license == "other"
    assert lic.license_link == LICENSES_FILE
    assert lic.license_name == "mixed-apache-2-0-cc-by-4-0"
    assert {p.spdx for p in lic.parts} == {"CC-BY-4.0", "Apache-2.0"}
    assert lic.attribution_required


def test_one_licence_everywhere_is_its_lower_case_id(tmp_path):
    gov = governance_report(tmp_path)
    gov.obligations = Obligations(licenses={"Apache-2.0": 10})
    lic = derive_license(gov, training_report(tmp_path))
    assert (lic.license, lic.license_name, lic.license_link) == ("apache-2.0", None, None)


def test_a_licence_the_hub_does_not_know_is_other_even_alone(tmp_path):
    gov = governance_report(tmp_path)
    gov.obligations = Obligations(licenses={"LicenseRef-house-licence": 10})
    lic = derive_license(gov, None)
    assert lic.license == "other" and "licenseref-house-licence" in lic.license_name


def test_nothing_known_is_unknown():
    assert derive_license(None, None).license == "unknown"


def test_other_weights_inside_the_model_count(tmp_path):
    gov = governance_report(tmp_path)
    gov.obligations = Obligations(licenses={"Apache-2.0": 10})
    tr = training_report(tmp_path)
    tr.components.append(tr.text_encoder.model_copy(update={"name": "some VAE", "license": "MIT"}))
    lic = derive_license(gov, tr)
    assert lic.license == "other"
    assert {p.spdx for p in lic.parts} == {"Apache-2.0", "MIT"}


def test_non_commercial_and_share_alike_become_tags(tmp_path, make_inputs):
    inputs = make_inputs()
    inputs.governance.obligations.non_commercial = ["CC-BY-NC-4.0"]
    inputs.governance.obligations.share_alike = ["CC-BY-SA-4.0"]
    lic = derive_license(inputs.governance, inputs.training)
    tags = build_card_data(inputs, lic).tags
    assert "non-commercial" in tags and "share-alike" in tags
