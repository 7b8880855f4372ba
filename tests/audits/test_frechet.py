import numpy as np
import pytest

from audits.feature_networks import mobilenet_features
from audits.frechet import frechet_distance, kernel_distance


def test_fd_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 16))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    distances = [frechet_distance(x, x + shift) for shift in (0.1, 0.5, 1.0)]
    assert distances == sorted(distances)
    assert distances[-1] == pytest.approx(16 * 1.0**2, rel=1e-6)  # mean shift only: ||delta mu||^2


def test_fd_of_rank_deficient_sets_stays_real_and_finite():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(10, 64)), rng.normal(size=(12, 64))  # fewer samples than dimensions
    value = frechet_distance(x, y)
    assert np.isfinite(value) and value > 0


def test_kid_near_zero_for_one_distribution_and_larger_for_a_shift():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(300, 8)), rng.normal(size=(300, 8))
    same, _ = kernel_distance(x, y, subsets=20, subset_size=100, seed=0)
    shifted, _ = kernel_distance(x, y + 1.0, subsets=20, subset_size=100, seed=0)
    assert abs(same) < shifted / 10
    assert kernel_distance(x, y + 1.0, 20, 100, seed=0) == kernel_distance(x, y + 1.0, 20, 100, seed=0)


def test_fd_in_mobilenet_features_grows_with_an_image_shift(emoji):
    images = emoji.train_images[:48]
    feats = mobilenet_features(images, 64)
    darker = [mobilenet_features((images * f).astype(np.uint8), 64) for f in (0.9, 0.5)]
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-6)
    assert 0 < frechet_distance(feats, darker[0]) < frechet_distance(feats, darker[1])


def test_too_few_samples_is_an_error_naming_the_shape():
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(np.zeros((1, 4)), np.zeros((5, 4)))
