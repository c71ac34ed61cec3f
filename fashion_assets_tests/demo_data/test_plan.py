"""The generator's plan: exact seed counts at scale 1, sensible small scales, determinism."""

import numpy as np
import pytest

from fashion_assets.demo_data.plan import image_count_plan
from fashion_assets.demo_data.truth import ground_truth
from fashion_assets.demo_data.writer import GeneratorConfig, plan_dataset
from fashion_assets.core.tables.vocabulary import CLASS_LABELS, SEED_IMAGE_COUNTS, SEED_TOTALS


def test_count_plan_at_scale_one_is_the_seed_table():
    plan = image_count_plan(1.0)
    assert {c: (p.train, p.validation) for c, p in plan.items()} == SEED_IMAGE_COUNTS
    assert sum(p.train for p in plan.values()) == 4070
    assert sum(p.validation for p in plan.values()) == 951
    assert sum(p.validation_in_training for p in plan.values()) == 529


@pytest.mark.parametrize("scale", [0.005, 0.05, 0.3])
def test_small_scales_keep_every_class_in_both_splits(scale):
    for cls, p in image_count_plan(scale).items():
        assert p.train >= 2 and p.validation >= 2, cls
        assert 1 <= p.validation_in_training <= p.validation - 1, cls


@pytest.fixture(scope="module")
def full_plan():
    config = GeneratorConfig(scale=1.0, seed=0)
    images, labels = plan_dataset(config, np.random.default_rng(config.seed))
    return images, labels, ground_truth(images, labels, [], config)


def _close(actual, expected, rel=0.03):
    return abs(actual - expected) <= rel * expected


def test_full_scale_plan_matches_the_seed_totals(full_plan):
    _, _, t = full_plan
    assert t["image_files"] == {"Train": 4070, "Validation": 951}
    for key in ("label_files", "valid_labels", "valid_labels_id_join"):
        for split, expected in SEED_TOTALS[key].items():
            assert _close(t[key][split], expected), (key, split, t[key][split])
    assert _close(t["respondents"], SEED_TOTALS["respondents"])
    leak = t["leakage"]
    assert leak["validation_images_in_training_by_name"] == 529
    assert _close(leak["repeated_validation_answers"], SEED_TOTALS["repeated_validation_answers"])
    assert leak["exact_duplicate_answers"] == SEED_TOTALS["exact_duplicate_answers"]
    assert leak["contradicting_answer_pairs"] == 1
    assert 0.37 <= t["like_rate"] <= 0.43


def test_full_scale_survey_behaves_like_the_real_one(full_plan):
    images, labels, _ = full_plan
    real = set(zip(images.split, images.file_name))
    valid = labels[[(s, j) in real for s, j in zip(labels.split, labels.jpg_name)]]
    # Respondents rate only images of their own gender (r_gender 1 = M, 2 = W).
    image_sex = valid.jpg_name.str[-5]
    assert (image_sex == valid.r_gender.map({1: "M", 2: "W"})).all()
    # Q1 (first impression) tracks Q5 about 96% of the time.
    agree = ((valid.Q1 >= 3) == (valid.Q5 == 2)).mean()
    assert 0.94 <= agree <= 0.98
    # The image ID alone is not a key: some IDs are reused with other attributes.
    assert images.drop_duplicates("file_name").groupby("image_id").file_name.nunique().max() >= 2
    assert (images.style_raw == "hippee").any()
    # Every class has valid answers in both splits.
    classes = valid.jpg_name.str[:-4].str.split("_").map(lambda p: f"{'hippie' if p[3] == 'hippee' else p[3]}_{p[4]}")
    assert set(zip(valid.split, classes)) == {(s, c) for s in ("Train", "Validation") for c in CLASS_LABELS}


def test_preference_depends_on_respondent_and_image(full_plan):
    _, labels, _ = full_plan
    valid = labels[labels.kind == "valid"]
    # Tastes differ between respondents and between images: neither alone explains the likes.
    per_respondent = valid.groupby("R_id").p_like.mean()
    assert per_respondent.std() > 0.15
    within = valid.groupby("R_id").p_like.std().dropna()
    assert within.mean() > 0.1


def test_plan_is_deterministic_by_seed():
    a_images, a_labels = plan_dataset(GeneratorConfig(scale=0.02, seed=3), np.random.default_rng(3))
    b_images, b_labels = plan_dataset(GeneratorConfig(scale=0.02, seed=3), np.random.default_rng(3))
    c_images, _ = plan_dataset(GeneratorConfig(scale=0.02, seed=4), np.random.default_rng(4))
    assert a_images.equals(b_images) and a_labels.equals(b_labels)
    assert not a_images.file_name.equals(c_images.file_name)
