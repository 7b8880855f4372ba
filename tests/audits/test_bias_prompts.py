"""Which prompts the bias audit generates from: neutral ones that show the attribute, group ones that name it."""

import numpy as np
import pytest

from audits.bias import audit_bias
from audits.config import BiasConfig
from audits.governed_data import GovernedRecords
from audits.representation import neutral_prompt, neutral_prompts_from_data, neutral_prompts_showing_attribute
from tests.audits.conftest import noop_progress

TONES = ["light", "medium-light", "medium", "medium-dark", "dark"]


@pytest.mark.parametrize(
    ("caption", "value", "plain", "prompt"),
    [
        ("thumbs up: medium skin tone", "medium", {"thumbs up"}, "thumbs up: skin tone"),
        ("woman: medium-light skin tone", "medium-light", {"woman"}, "woman: skin tone"),
        ("santa claus (dark skin tone)", "dark", {"santa claus"}, "santa claus (skin tone)"),
        # no plain record under the base caption: the base itself is the neutral prompt
        ("thumbs up: medium skin tone", "medium", {"rocket"}, "thumbs up"),
        # a value without an attribute name around it: nothing is left to ask for, keep the base
        ("woman technologist", "woman", {"technologist"}, "technologist"),
    ],
)
def test_a_neutral_prompt_asks_for_the_attribute_only_where_the_base_caption_is_a_plain_record(
    caption, value, plain, prompt
):
    assert neutral_prompt(caption, value, plain) == prompt


def test_neutral_prompts_on_real_emoji_captions_name_no_tone_and_no_plain_record(emoji):
    labels = emoji.train.attribute("skin_tone")
    plain = {t for t, v in zip(emoji.train.texts, labels, strict=True) if not v}
    prompts = neutral_prompts_showing_attribute(emoji.train.texts, labels)
    assert len(prompts) == len(neutral_prompts_from_data(emoji.train.texts, labels)) > 10
    for p in prompts:
        assert p not in plain and p not in emoji.train.texts
        assert not any(f" {t} " in f" {p.replace(':', ' ')} " for t in TONES), p


def _yellow_unless_asked(emoji):
    """A model that learned the data: the bare caption draws the yellow default, 'skin tone' a toned one."""
    images = {}
    for text, attrs, img in zip(emoji.train.texts, emoji.train.attributes, emoji.train_images, strict=True):
        images[(text.split(":")[0], attrs.get("skin_tone"))] = img

    def generate(prompts, seeds):
        out = []
        for prompt, seed in zip(prompts, seeds, strict=True):
            base, _, rest = prompt.partition(":")
            named = next((t for t in TONES if rest.strip() == f"{t} skin tone"), None)
            tone = named or (TONES[(seed + len(prompt)) % 5] if "skin tone" in rest else None)
            out.append(images.get((base, tone), images.get((base, None))))
        return np.stack(out)

    return generate


def test_the_default_prompts_measure_representation_where_bare_captions_draw_the_yellow_default(
    emoji, tmp_path
):
    generate = _yellow_unless_asked(emoji)
    labels = emoji.train.attribute("skin_tone")
    cfg = BiasConfig(bootstrap=50, allow_unmeasured=[])
    report = audit_bias(cfg, generate, emoji.train, emoji.train_images, tmp_path / "new", 0, noop_progress)
    check = next(c for c in report.checks if c.name == "representation_disparity")
    assert check.measured is not None and check.passed, check.message
    # the bare captions, as the audit used them before: no image shows skin, nothing is measured
    bare = BiasConfig(
        bootstrap=50,
        allow_unmeasured=[],
        neutral_prompts=neutral_prompts_from_data(emoji.train.texts, labels)[:12],
    )
    old = audit_bias(bare, generate, emoji.train, emoji.train_images, tmp_path / "old", 0, noop_progress)
    old_check = next(c for c in old.checks if c.name == "representation_disparity")
    assert old_check.measured is None and not old_check.passed and "showed skin" in old_check.message


def test_quality_of_service_is_not_measured_from_captions_that_name_no_group(emoji, tmp_path):
    labelled = [i for i, a in enumerate(emoji.train.attributes) if a.get("skin_tone")]
    records = emoji.train.subset(labelled)
    toneless = GovernedRecords(
        records.record_ids,
        records.paths,
        [t.split(":")[0] for t in records.texts],  # captions name no tone, as in the bias_power benchmark
        records.splits,
        records.attributes,
    )
    seen = []

    def recording(prompts, seeds):
        seen.extend(prompts)
        return emoji.train_images[labelled][np.arange(len(prompts)) % len(labelled)]

    cfg = BiasConfig(bootstrap=0, max_representation_images=24)
    report = audit_bias(cfg, recording, toneless, emoji.train_images[labelled], tmp_path, 0, noop_progress)
    qos = next(c for c in report.checks if c.name == "quality_of_service_difference")
    assert qos.measured is None and not qos.passed
    assert "names a skin_tone group" in qos.message and "group_prompt_template" in qos.message
    assert "quality_of_service" not in report.tables
