import numpy as np
import pytest

from audits.representation import (
    confusion,
    distribution,
    images_needed,
    neutral_prompts_from_data,
    strip_attribute,
    total_variation,
    uniform,
    unmix,
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


def test_unmix_inverts_a_known_confusion_and_stays_on_the_simplex():
    conf = np.array([[0.7, 0.3, 0.0], [0.2, 0.8, 0.0], [0.0, 0.1, 0.9]])
    true_mix = np.array([0.6, 0.1, 0.3])
    seen = true_mix @ conf  # what the measurement reports on a large sample
    np.testing.assert_allclose(unmix(seen * 10_000, conf), true_mix, atol=1e-4)
    # a count the confusion cannot produce exactly is still answered with a distribution
    est = unmix(np.array([0.0, 100.0, 0.0]), conf)
    assert est.min() >= 0 and est.sum() == pytest.approx(1.0)


def test_confusion_counts_only_images_the_measurement_placed_in_a_group():
    conf = confusion(["a", "a", "a", "b"], ["a", "b", "no_skin", "b"], ["a", "b", "c"])
    np.testing.assert_allclose(conf, [[0.5, 0.5, 0], [0, 1, 0], [0, 0, 1]])


def test_a_noisier_measurement_needs_more_images_for_the_same_power():
    exact = images_needed(np.eye(5), 0.4, 0.2)
    noisy = images_needed(0.6 * np.eye(5) + 0.1 * (1 - np.eye(5)), 0.4, 0.2)
    assert noisy > 2 * exact
    assert images_needed(np.eye(5), 0.4, 0.1) > 3 * exact  # half the margin: about four times the images
