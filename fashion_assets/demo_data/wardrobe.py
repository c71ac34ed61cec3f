"""Photo mode: the generated figures wear real product photos (``--photos DIR``).

``DIR`` is a product catalogue laid out as ``../shared/datasets/fashion-products``: ``styles.csv``
(id, gender, subCategory, articleType, baseColour, usage …) and ``images/{id}.jpg`` on white
backgrounds. Each style has a recipe over what the photos show — usage, colours, article types —
and every outfit is drawn from all products with weights from the recipe, so a style's outfits
are typical of it without being exclusive to it: classes overlap, as real styles do.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from .looks import STYLE_LOOKS

SLOTS = {"top": ("Topwear",), "dress": ("Dress",), "bottom": ("Bottomwear",),
         "shoes": ("Shoes", "Sandal", "Flip Flops"), "accessory": ("Bags", "Watches", "Eyewear", "Headwear", "Belts")}
# The generator's palette words as the catalogue's baseColour names.
COLOUR_NAMES = {"black": ("Black", "Charcoal"), "white": ("White", "Off White"), "grey": ("Grey", "Grey Melange"),
                "navy": ("Navy Blue",), "beige": ("Beige", "Skin", "Nude"), "brown": ("Brown", "Tan", "Coffee Brown"),
                "khaki": ("Khaki",), "olive": ("Olive",), "red": ("Red", "Maroon"), "pink": ("Pink", "Peach"),
                "orange": ("Orange", "Rust"), "yellow": ("Yellow", "Mustard"), "green": ("Green", "Sea Green"),
                "teal": ("Teal", "Turquoise Blue"), "blue": ("Blue",), "denim": ("Blue", "Navy Blue"),
                "purple": ("Purple", "Magenta", "Lavender"), "silver": ("Silver", "Steel"), "gold": ("Gold", "Bronze"),
                "cream": ("Cream", "Off White")}
USAGES = ("Casual", "Formal", "Sports", "Ethnic")
STYLE_USAGE = {"athleisure": "Sports", "sportivecasual": "Sports", "hiphop": "Sports", "powersuit": "Formal",
               "classic": "Formal", "mods": "Formal", "metrosexual": "Formal", "minimal": "Formal", "ivy": "Formal",
               "cityglam": "Formal", "oriental": "Ethnic", "hippie": "Ethnic", "ecology": "Ethnic"}
STYLE_TYPES = {"athleisure": "Tshirts Sweatshirts Track Pants Leggings Shorts Tights",
               "sportivecasual": "Tshirts Sweatshirts Track Pants Shorts", "hiphop": "Tshirts Sweatshirts Jeans Shorts",
               "powersuit": "Shirts Jackets Trousers", "classic": "Shirts Sweaters Trousers Skirts",
               "mods": "Shirts Sweaters Trousers", "metrosexual": "Shirts Jackets Trousers Jeans",
               "minimal": "Shirts Tops Trousers", "ivy": "Shirts Sweaters Trousers", "cityglam": "Tops Jackets Skirts",
               "oriental": "Kurtas Kurtis Tunics Churidar Dupatta", "hippie": "Kurtas Kurtis Tunics Skirts Capris",
               "ecology": "Kurtas Tunics Tops Capris", "feminine": "Tops Dresses Skirts Capris",
               "bodyconscious": "Dresses Tops Leggings Skirts", "lingerie": "Dresses Tops Camisoles Leggings",
               "lounge": "Tshirts Sweatshirts Track Pants Capris", "grunge": "Shirts Jackets Jeans",
               "punk": "Jackets Tshirts Jeans Leggings", "normcore": "Tshirts Shirts Jeans Trousers",
               "genderless": "Shirts Tshirts Trousers Jeans", "military": "Jackets Shirts Trousers Shorts",
               "kitsch": "Tops Tshirts Skirts Shorts", "popart": "Tshirts Tops Skirts Shorts",
               "disco": "Tops Dresses Skirts Leggings", "space": "Jackets Tops Leggings Skirts",
               "bold": "Tshirts Shirts Jeans Trousers"}
GENDERS = {"M": ("Men", "Boys", "Unisex"), "W": ("Women", "Girls", "Unisex")}
# Recipe weights (log scale): how typical a product is for a style. Softer weights overlap classes more.
W_COLOUR, W_USAGE, W_TYPE, W_GENDER = 1.6, 1.4, 1.8, 3.0
OUTFIT_COLUMNS = ("top_path", "bottom_path", "shoes_path", "accessory_path", "top_usage", "top_colour", "top_article",
                  "bottom_colour")


def load_wardrobe(folder: str | Path) -> pd.DataFrame:
    """Products usable as clothes: id, path, gender, slot, articleType, colour, usage (labelled
    rows whose photo is present; rows without a usable slot or field are left out)."""
    folder = Path(folder)
    styles = folder / "styles.csv"
    if not styles.is_file() or not (folder / "images").is_dir():
        raise FileNotFoundError(f"{folder} is not a product catalogue: it needs styles.csv and images/{{id}}.jpg")
    table = pd.read_csv(styles, on_bad_lines="skip", dtype={"id": str})
    slot_of = {sub: slot for slot, subs in SLOTS.items() for sub in subs}
    table = table.assign(slot=table.subCategory.map(slot_of), path=[str(folder / "images" / f"{i}.jpg") for i in table.id])
    table = table.dropna(subset=["slot", "gender", "articleType", "baseColour", "usage"])
    table = table[[Path(p).is_file() for p in table.path]]
    wardrobe = table.rename(columns={"baseColour": "colour"})[["id", "path", "gender", "slot", "articleType", "colour",
                                                                 "usage"]].sort_values("id", ignore_index=True)
    missing = [s for s in ("top", "bottom", "shoes") if not (wardrobe.slot == s).any()]
    if missing:
        raise ValueError(f"{folder} has no labelled product photo for the slot(s) {missing} "
                         f"(subCategory {[SLOTS[s] for s in missing]})")
    return wardrobe


def recipe_weights(wardrobe: pd.DataFrame, style: str, sex: str, slot: str) -> tuple[np.ndarray, np.ndarray]:
    """(row indices of the slot's products, sampling probabilities for this style and sex)."""
    rows = np.flatnonzero(wardrobe.slot.to_numpy() == slot)
    items = wardrobe.iloc[rows]
    tops, bottoms = STYLE_LOOKS[style][0].split(), STYLE_LOOKS[style][1].split()
    colours = {c for word in (bottoms if slot == "bottom" else tops) for c in COLOUR_NAMES[word]}
    score = (W_COLOUR * items.colour.isin(colours).to_numpy()
             + W_USAGE * (items.usage == STYLE_USAGE.get(style, "Casual")).to_numpy()
             + W_TYPE * items.articleType.isin(STYLE_TYPES[style].split()).to_numpy()
             + W_GENDER * items.gender.isin(GENDERS[sex]).to_numpy())
    p = np.exp(score - score.max())
    return rows, p / p.sum()


class Dresser:
    """Draws outfits for (style, sex) from a wardrobe (recipe weights computed once per class)."""

    def __init__(self, wardrobe: pd.DataFrame):
        self.wardrobe = wardrobe
        self._weights: dict = {}

    def _pick(self, style: str, sex: str, slot: str, rng: np.random.Generator) -> pd.Series:
        key = (style, sex, slot)
        if key not in self._weights:
            self._weights[key] = recipe_weights(self.wardrobe, style, sex, slot)
        rows, p = self._weights[key]
        return self.wardrobe.iloc[rows[rng.choice(len(rows), p=p)]]

    def outfit(self, style: str, sex: str, rng: np.random.Generator) -> dict:
        dresses = sex == "W" and (self.wardrobe.slot == "dress").any() and "Dresses" in STYLE_TYPES[style]
        top = self._pick(style, sex, "dress" if dresses and rng.random() < 0.6 else "top", rng)
        bottom = None if top.slot == "dress" else self._pick(style, sex, "bottom", rng)
        shoes = self._pick(style, sex, "shoes", rng)
        accessory = (self._pick(style, sex, "accessory", rng) if (self.wardrobe.slot == "accessory").any()
                     and rng.random() < 0.5 else None)
        return {"top_path": top.path, "bottom_path": bottom.path if bottom is not None else "",
                "shoes_path": shoes.path, "accessory_path": accessory.path if accessory is not None else "",
                "top_usage": top.usage, "top_colour": top.colour, "top_article": top.articleType,
                "bottom_colour": bottom.colour if bottom is not None else top.colour}


@lru_cache(maxsize=512)
def cutout(path: str, near_white: int = 236) -> Image.Image:
    """A product photo cut out of its white background: RGBA, cropped to the product. The
    background is the near-white region connected to the border, so white parts inside the
    product (a white shirt's front) stay."""
    from scipy import ndimage

    rgb = np.asarray(Image.open(path).convert("RGB"))
    white = (rgb >= near_white).all(axis=2)
    labels, _ = ndimage.label(white)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    background = np.isin(labels, border[border > 0])
    alpha = ndimage.binary_opening(~background, iterations=1)
    if not alpha.any():
        alpha = ~background
    ys, xs = np.nonzero(alpha)
    box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    image = Image.fromarray(np.dstack([rgb, (alpha * 255).astype(np.uint8)]), "RGBA")
    return image.crop(box)
