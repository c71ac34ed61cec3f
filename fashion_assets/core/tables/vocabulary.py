"""The dataset's vocabulary: sexes, eras, the 31 sex&style classes, known misspellings.

Also holds the seed's reference counts (SPEC §1), which the demo-data generator reproduces at
scale 1. They are reference data for the generator and for reports, never used to fill in a
result.
"""

from __future__ import annotations

SEXES = ("W", "M")
PREFIXES = ("W", "T")
# Two-digit era codes as they appear in file names, and the year the survey JSON writes for them.
ERA_YEARS = {
    "00": 2000, "10": 2010, "19": 2019, "50": 1950,
    "60": 1960, "70": 1970, "80": 1980, "90": 1990,
}

WOMEN_STYLES = (
    "athleisure", "bodyconscious", "cityglam", "classic", "disco", "ecology", "feminine",
    "genderless", "grunge", "hiphop", "hippie", "kitsch", "lingerie", "lounge", "military",
    "minimal", "normcore", "oriental", "popart", "powersuit", "punk", "space", "sportivecasual",
)
MEN_STYLES = ("bold", "hiphop", "hippie", "ivy", "metrosexual", "mods", "normcore", "sportivecasual")
STYLES_BY_SEX = {"W": WOMEN_STYLES, "M": MEN_STYLES}

# Spellings seen in the real file names, mapped to the canonical style.
MISSPELLINGS = {"hippee": "hippie"}


def normalise_style(raw: str) -> str:
    """Canonical spelling of a style as written in a file name (lower-cased, misspellings fixed)."""
    style = raw.lower()
    return MISSPELLINGS.get(style, style)


def class_label(style: str, sex: str) -> str:
    """The sex&style class name used by the classifier, e.g. ``feminine_W``."""
    return f"{style}_{sex}"


def is_known_class(style: str, sex: str) -> bool:
    return style in STYLES_BY_SEX.get(sex, ())


# Every class in LabelEncoder order (sorted strings), as the seed's classifier numbers them.
CLASS_LABELS = tuple(sorted(class_label(s, sex) for sex in SEXES for s in STYLES_BY_SEX[sex]))

# The era each style's photos come from in the real data (every seed example agrees).
STYLE_ERA = {
    "athleisure": "10", "bodyconscious": "80", "cityglam": "00", "classic": "50", "disco": "70",
    "ecology": "00", "feminine": "50", "genderless": "19", "grunge": "90", "hiphop": "90",
    "hippie": "70", "kitsch": "90", "lingerie": "90", "lounge": "19", "military": "70",
    "minimal": "60", "normcore": "19", "oriental": "00", "popart": "60", "powersuit": "80",
    "punk": "70", "space": "60", "sportivecasual": "10", "bold": "80", "ivy": "50",
    "metrosexual": "00", "mods": "60",
}

# Seed image counts per class: (training, validation). 4,070 / 951 in all.
SEED_IMAGE_COUNTS = {
    "grunge_W": (31, 10), "military_W": (33, 9), "disco_W": (37, 10), "space_W": (37, 15),
    "popart_W": (41, 8), "lounge_W": (45, 8), "hiphop_W": (48, 8), "lingerie_W": (55, 5),
    "ecology_W": (64, 17), "punk_W": (65, 12), "cityglam_W": (67, 18), "athleisure_W": (67, 14),
    "classic_W": (77, 22), "genderless_W": (77, 12), "oriental_W": (78, 18), "hippie_W": (91, 14),
    "kitsch_W": (91, 22), "bodyconscious_W": (95, 23), "powersuit_W": (120, 34),
    "minimal_W": (139, 35), "normcore_W": (153, 20), "feminine_W": (154, 44),
    "sportivecasual_W": (157, 48),
    "ivy_M": (237, 79), "hippie_M": (260, 82), "bold_M": (268, 57), "mods_M": (269, 80),
    "hiphop_M": (274, 66), "metrosexual_M": (278, 58), "sportivecasual_M": (298, 52),
    "normcore_M": (364, 51),
}

# Seed valid training labels per class from its image_id-only join (20,303 rows in all).
SEED_VALID_LABELS_ID_JOIN = {
    "bold_M": 1144, "hiphop_M": 1321, "hippie_M": 1571, "ivy_M": 1719, "metrosexual_M": 1226,
    "mods_M": 1615, "normcore_M": 1096, "sportivecasual_M": 1657,
    "athleisure_W": 424, "bodyconscious_W": 500, "cityglam_W": 329, "classic_W": 504,
    "disco_W": 141, "ecology_W": 295, "feminine_W": 762, "genderless_W": 234, "grunge_W": 122,
    "hiphop_W": 243, "hippie_W": 339, "kitsch_W": 374, "lingerie_W": 188, "lounge_W": 207,
    "military_W": 115, "minimal_W": 780, "normcore_W": 646, "oriental_W": 369, "popart_W": 195,
    "powersuit_W": 623, "punk_W": 237, "space_W": 184, "sportivecasual_W": 1143,
}

# Seed totals (SPEC §1).
SEED_TOTALS = {
    "label_files": {"Train": 211_346, "Validation": 36_383},
    "valid_labels": {"Train": 16_095, "Validation": 4_104},
    "valid_labels_id_join": {"Train": 20_303, "Validation": 4_262},
    "respondents": 4_075,
    "validation_images_in_training": 529,
    "repeated_validation_answers": 2_444,
    "exact_duplicate_answers": {"Train": 12, "Validation": 5},
    "contradicting_answers": 1,
}
