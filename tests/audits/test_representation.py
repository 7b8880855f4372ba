import numpy as np
import pytest

from audits.representation import (
    distribution,
    neutral_prompts_from_data,
    strip_attribute,
    total_variation,
    uniform,
)


def test_total_variation_bounds():
    assert total_variation(uniform(5), uniform(5)) == 0.0
    one_hot = np.eye(5)[0]
    assert total_variation(one_hot, uniform(5)) == pytest.approx(0.8)
    assert total_variation(np.eye(2)[0], np.eye(2)[1]) == pytest.approx(1.0)


def test_distribution_ignores_labels_outside_the_groups():
    dist = distribution(["a", "a", "b", "no_skin"], ["a", "b", "c"])
    np.testing.assert_allclose(dist, [2 / 3, 1 / 3, 0])
    np.testing.assert_array_equal(distribution([], ["a"]), [0.0])


@pytest.mark.parametrize(
    ("caption", "value", "base"),
    [
        ("thumbs up sign: medium skin tone", "medium", "thumbs up sign"),
        ("woman: medium-light skin tone", "medium-light", "woman"),
        ("santa claus (dark skin tone)", "dark", "santa claus"),
    ],
)
def test_strip_attribute(caption, value, base):
    assert strip_attribute(caption, value) == base


def test_neutral_prompts_come_from_labelled_records_only():
    texts = ["rocket", "waving hand: light skin tone", "waving hand: dark skin tone", "waving hand"]
    values = [None, "light", "dark", None]
    assert neutral_prompts_from_data(texts, values) == ["waving hand"]
