"""Charts are copied under unique, safe names, once each."""

from model_cards.assets import AssetCopier

from .conftest import png


def test_same_file_name_from_two_places_gets_two_names(tmp_path):
    copier = AssetCopier(tmp_path / "card")
    a = copier.add("bias", png(tmp_path / "x" / "chart.png", (1, 2, 3)))
    b = copier.add("bias", png(tmp_path / "y" / "chart.png", (4, 5, 6)))
    assert a.rel_path != b.rel_path
    assert (tmp_path / "card" / a.rel_path).read_bytes() != (tmp_path / "card" / b.rel_path).read_bytes()


def test_the_same_file_twice_is_copied_once(tmp_path):
    copier = AssetCopier(tmp_path / "card")
    source = png(tmp_path / "chart.png")
    assert copier.add("bias", source) is copier.add("quality", source)
    assert len(list((tmp_path / "card" / "assets").iterdir())) == 1


def test_unsafe_characters_are_replaced(tmp_path):
    copier = AssetCopier(tmp_path / "card")
    asset = copier.add("bias", png(tmp_path / "a chart (1) [x].png"))
    assert asset.rel_path == "assets/bias-a-chart-1-x-.png"
    assert asset.title == "a chart (1) [x]"


def test_a_missing_file_is_recorded_not_raised(tmp_path):
    asset = AssetCopier(tmp_path / "card").add("bias", tmp_path / "gone.png")
    assert asset.missing and asset.is_image
