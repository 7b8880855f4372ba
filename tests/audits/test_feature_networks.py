import numpy as np
import torch
from skimage import data

from audits.feature_networks import (
    FEATURE_DIM,
    MobileNetV2,
    load_mobilenet_v2,
    mobilenet_features,
    mobilenet_logits,
    weights_path,
)


def test_architecture_matches_the_torchvision_state_dict_exactly():
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    model_keys = set(MobileNetV2().state_dict())
    assert model_keys == set(state)


def test_real_weights_classify_photos_sensibly():
    coffee = mobilenet_logits(data.coffee()[None]).argmax()
    cat = mobilenet_logits(data.chelsea()[None]).argmax()
    assert coffee in {967, 968, 504}  # espresso, cup, coffee mug
    assert 281 <= cat <= 285  # the domestic-cat classes
    astronaut_top5 = np.argsort(-mobilenet_logits(data.astronaut()[None])[0])[:5]
    assert {518, 560} & set(astronaut_top5.tolist())  # crash helmet / football helmet


def test_features_are_deterministic_and_pooled(emoji):
    images = emoji.train_images[:8]
    a, b = mobilenet_features(images, 64), mobilenet_features(images, 64)
    assert a.shape == (8, FEATURE_DIM)
    np.testing.assert_array_equal(a, b)
    assert not load_mobilenet_v2().training
