"""Photo mode: the generated figures wear real product photos, the classes are recipes over what
the photos show (overlapping), and the respondents' tastes are about it too."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fashion_assets.demo_data.__main__ import main as datagen_main
from fashion_assets.demo_data.plan import plan_images
from fashion_assets.demo_data.survey import like_logits, plan_respondents
from fashion_assets.demo_data.wardrobe import Dresser, cutout, load_wardrobe, recipe_weights
from fashion_assets.demo_data.writer import GeneratorConfig, generate
from fashion_assets_tests import FIXTURES

PHOTOS = FIXTURES / "fashion_products"


@pytest.fixture(scope="module")
def wardrobe():
    return load_wardrobe(PHOTOS)


def test_the_wardrobe_is_the_labelled_clothes_with_a_photo(wardrobe):
    assert {"top", "bottom", "shoes", "dress", "accessory"} <= set(wardrobe.slot)
    assert all(Path(p).is_file() for p in wardrobe.path)
    styles = pd.read_csv(PHOTOS / "styles.csv", dtype={"id": str})
    withheld = set(styles.id) - {p.stem for p in (PHOTOS / "images").iterdir()}
    assert withheld and not withheld & set(wardrobe.id)  # labels without a photo are not used


def test_a_folder_that_is_not_a_catalogue_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="styles.csv"):
        load_wardrobe(tmp_path)
    assert datagen_main(["--out", str(tmp_path / "raw"), "--photos", str(tmp_path)]) == 2
    assert "not a product catalogue" in capsys.readouterr().err


def test_a_cutout_keeps_the_product_and_drops_the_white_background():
    shoe = next(p for p in sorted((PHOTOS / "images").iterdir()))
    item = cutout(str(shoe))
    alpha = np.asarray(item.getchannel("A"))
    rgb = np.asarray(item.convert("RGB")).astype(int)
    assert item.size[0] <= 224 and item.size[1] <= 224 and alpha.mean() > 0
    assert (rgb[alpha == 255] < 236).any(axis=1).mean() > 0.8  # what is kept is mostly not background white


def test_recipes_make_classes_typical_but_overlapping(wardrobe):
    rows_sport, p_sport = recipe_weights(wardrobe, "athleisure", "M", "top")
    rows_suit, p_suit = recipe_weights(wardrobe, "powersuit", "M", "top")
    tops = wardrobe.iloc[rows_sport]
    formal = (tops.usage == "Formal").to_numpy()
    assert 0 < formal.mean() < 0.5
    assert p_suit[formal].sum() > 1.5 * formal.mean() and p_suit[formal].sum() > 2 * p_sport[formal].sum()
    assert (p_sport > 0).all()  # every product can appear in every style: classes overlap
    images = plan_images(0.2, np.random.default_rng(0), Dresser(wardrobe))
    by_product = images.groupby("top_path").class_label.nunique()
    assert (by_product >= 2).mean() > 0.5


def test_tastes_are_over_what_the_photos_show(wardrobe):
    images = plan_images(0.05, np.random.default_rng(1), Dresser(wardrobe)).drop_duplicates("file_name")
    resp = plan_respondents({"M": 3, "W": 3}, np.random.default_rng(2), photo=True)
    one = images.iloc[[0, 0]].reset_index(drop=True)
    one.loc[1, "top_usage"] = "Ethnic" if one.loc[0, "top_usage"] != "Ethnic" else "Sports"
    logits = like_logits(resp.iloc[[0, 0]].reset_index(drop=True), one)
    assert logits[0] != logits[1]  # the same class with another usage is liked differently


def test_photo_mode_writes_photo_like_images_with_true_masks(tmp_path):
    config = GeneratorConfig(scale=0.005, seed=3, width=120, height=160, masks=True, workers=1, photos=str(PHOTOS))
    truth = generate(tmp_path / "raw", config, log=lambda _: None)
    assert truth["config"]["photos"] == str(PHOTOS)
    photo_path = next((tmp_path / "raw" / "training_image").glob("*.jpg"))
    photo = np.asarray(Image.open(photo_path).convert("RGB")).astype(int)
    mask = np.asarray(Image.open(tmp_path / "raw" / "masks" / "training_image" / (photo_path.stem + ".png"))) > 127
    assert photo.shape == (160, 120, 3) and 0.05 < mask.mean() < 0.6
    # Real photos have many distinct colours on the figure (drawn figures have a handful).
    figure = photo[mask]
    assert len(np.unique(figure // 8, axis=0)) > 100
