"""What a style looks like in the generated photos: colours, pattern, silhouette, accessories.

A "look" is a small dict of drawable attributes, drawn per image from its (style, sex) with
per-image variation. The renderer draws it; the respondents' tastes are defined over the same
attributes, so preferences are about what the images show.
"""

from __future__ import annotations

import numpy as np

PALETTE = {
    "black": (25, 25, 28), "white": (235, 235, 230), "grey": (130, 130, 135), "navy": (30, 40, 90),
    "beige": (210, 190, 150), "brown": (110, 70, 40), "khaki": (120, 115, 70), "olive": (85, 95, 45),
    "red": (190, 30, 40), "pink": (235, 130, 170), "orange": (240, 130, 30), "yellow": (240, 210, 40),
    "green": (40, 150, 70), "teal": (20, 140, 140), "blue": (40, 100, 200), "denim": (70, 100, 150),
    "purple": (120, 50, 150), "silver": (190, 195, 205), "gold": (200, 160, 50), "cream": (245, 235, 210),
}
PATTERNS = ("solid", "stripes", "dots", "check", "print")
BOTTOMS = ("trousers", "wide", "leggings", "shorts", "skirt", "mini", "dress")
WOMEN_ONLY_BOTTOMS = {"skirt", "mini", "dress", "leggings"}

# style: (top colours, bottom colours, patterns, bottoms, fit 0 loose..1 tight, hat rate)
STYLE_LOOKS = {
    "athleisure": ("grey black pink white", "black grey", "solid stripes", "leggings shorts", 0.8, 0.1),
    "bodyconscious": ("red black pink", "red black", "solid", "dress mini", 0.95, 0.0),
    "cityglam": ("silver gold black white", "black cream", "solid print", "skirt trousers", 0.7, 0.1),
    "classic": ("navy cream beige white", "navy beige grey", "solid check", "skirt trousers", 0.6, 0.1),
    "disco": ("gold silver purple", "purple black", "print dots", "wide mini", 0.7, 0.0),
    "ecology": ("green khaki cream beige", "khaki brown beige", "solid print", "wide skirt", 0.3, 0.3),
    "feminine": ("pink cream white", "pink white cream", "dots print solid", "skirt dress", 0.6, 0.2),
    "genderless": ("grey black white", "black grey", "solid", "wide trousers", 0.2, 0.1),
    "grunge": ("black red denim", "denim black", "check solid", "trousers skirt", 0.3, 0.2),
    "hiphop": ("yellow red blue black", "denim black", "print solid", "wide shorts", 0.05, 0.5),
    "hippie": ("orange yellow brown teal", "denim brown", "print dots", "wide skirt", 0.2, 0.4),
    "kitsch": ("pink yellow teal purple", "teal yellow pink", "dots print check", "mini skirt", 0.6, 0.4),
    "lingerie": ("cream pink white", "cream pink", "solid", "dress", 0.9, 0.0),
    "lounge": ("beige cream grey", "beige grey", "solid", "wide trousers", 0.1, 0.0),
    "military": ("olive khaki brown", "olive khaki", "solid print", "trousers", 0.5, 0.6),
    "minimal": ("white black grey", "black white", "solid", "trousers skirt", 0.6, 0.0),
    "normcore": ("grey navy white", "denim beige", "solid", "trousers", 0.4, 0.2),
    "oriental": ("red gold teal", "red black", "print", "dress skirt", 0.6, 0.1),
    "popart": ("yellow blue red pink", "blue red", "dots print", "mini skirt", 0.6, 0.1),
    "powersuit": ("black navy red", "black navy", "solid stripes", "trousers", 0.7, 0.0),
    "punk": ("black red", "black red", "check stripes", "leggings mini", 0.8, 0.2),
    "space": ("silver white", "silver white", "solid", "leggings mini", 0.85, 0.3),
    "sportivecasual": ("white blue red grey", "navy black grey", "stripes solid", "trousers shorts", 0.4, 0.4),
    "bold": ("red orange yellow purple", "black denim", "print check", "trousers wide", 0.4, 0.2),
    "ivy": ("navy cream white green", "beige khaki", "stripes check", "trousers", 0.6, 0.1),
    "metrosexual": ("white pink silver black", "black grey", "solid", "trousers", 0.85, 0.0),
    "mods": ("navy grey white", "grey black", "solid check", "trousers", 0.8, 0.1),
}


def _pick(rng: np.random.Generator, words: str) -> str:
    options = words.split()
    # Earlier words are the style's signature: weight them more.
    weights = np.arange(len(options), 0, -1, dtype=float)
    return options[rng.choice(len(options), p=weights / weights.sum())]


def _jitter(rng: np.random.Generator, name: str, amount: float = 18.0) -> str:
    rgb = np.clip(np.array(PALETTE[name]) + rng.normal(0, amount, 3), 0, 255).astype(int)
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def draw_look(style: str, sex: str, rng: np.random.Generator) -> dict:
    tops, bottoms_colours, patterns, bottoms, fit, hat_rate = STYLE_LOOKS[style]
    bottom = _pick(rng, bottoms)
    if sex == "M" and bottom in WOMEN_ONLY_BOTTOMS:
        bottom = "trousers"
    if rng.random() < 0.15:  # every style has outliers
        bottom = BOTTOMS[rng.integers(3 if sex == "M" else len(BOTTOMS))]
    return dict(
        top_color=_jitter(rng, _pick(rng, tops)),
        bottom_color=_jitter(rng, _pick(rng, bottoms_colours)),
        accent_color=_jitter(rng, _pick(rng, " ".join(PALETTE)), 30),
        pattern=_pick(rng, patterns) if rng.random() > 0.1 else PATTERNS[rng.integers(len(PATTERNS))],
        bottom=bottom,
        fit=float(np.clip(fit + rng.normal(0, 0.15), 0, 1)),
        long_hair=bool(rng.random() < (0.75 if sex == "W" else 0.1)),
        hat=bool(rng.random() < hat_rate),
        lighting=float(np.clip(rng.normal(1.0, 0.12), 0.7, 1.3)),
        arm_left=float(rng.uniform(5, 40)),
        arm_right=float(rng.uniform(5, 40)),
        leg_spread=float(rng.uniform(0.0, 0.08)),
        figure_height=float(rng.uniform(0.72, 0.92)),
        figure_x=float(rng.uniform(0.38, 0.62)),
        background_seed=int(rng.integers(2**31)),
    )


draw_look.columns = (
    "top_color", "bottom_color", "accent_color", "pattern", "bottom", "fit", "long_hair", "hat",
    "lighting", "arm_left", "arm_right", "leg_spread", "figure_height", "figure_x", "background_seed",
)


def luminance(hex_colour: str) -> float:
    """Perceived brightness of a '#rrggbb' colour in [0, 1]."""
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return (0.299 * r + 0.587 * g + 0.114 * b) / 255.0
