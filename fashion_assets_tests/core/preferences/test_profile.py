"""profile_honest: a population prior over respondent profile × image class, plus each
respondent's own class like rate — honest (no validation label reaches it) and worth having."""

import numpy as np
import pandas as pd
import pytest

from fashion_assets.core.preferences.methods import fit_methods, score_methods, score_new_images
from fashion_assets_tests.core.preferences.methods import every_method
from fashion_assets.core.preferences.scores import encode
from fashion_assets.core.preferences.profile import PROFILE_FIELDS, side_from_answers
from fashion_assets.core.tables.vocabulary import CLASS_LABELS

CLASSES = CLASS_LABELS[:6]


@pytest.fixture(scope="module")
def survey():
    """Likes driven by the respondents' r_style answers crossed with the image's class (as the
    demo generator's tastes are), plus individual noise; image features that say nothing."""
    rng = np.random.default_rng(0)
    n_resp, n_img = 400, 90
    names = [f"img{k}" for k in range(n_img)]
    image_class = np.arange(n_img) % len(CLASSES)
    x = np.abs(rng.normal(size=(n_img, 16)))
    loading = rng.normal(0, 1.2, (5, len(CLASSES)))
    rows = []
    for r in range(n_resp):
        profile = {f: int(rng.integers(1, 3)) for f in PROFILE_FIELDS}
        axes = np.array([profile[f"r_style{k}"] for k in range(1, 6)]) - 1.5
        taste = 2 * axes @ loading + rng.normal(0, 0.5, len(CLASSES)) + rng.normal(0, 0.5)
        for split, n in (("Train", 10), ("Validation", 3)):
            for i in rng.choice(n_img, n, replace=False):
                like = int(rng.random() < 1 / (1 + np.exp(-taste[image_class[i]])))
                rows.append({"R_id": r, "jpg_name": names[i], "like": like, "split": split, "image": names[i],
                             "class_label": CLASSES[image_class[i]], "style_known": True,
                             "Q1": 4 if like else 1, **profile})  # Q1 reveals the answer: must not be used
    answers = pd.DataFrame(rows)
    train, test = answers[answers.split == "Train"], answers[answers.split == "Validation"].reset_index(drop=True)
    seen = set(zip(train.R_id, train.jpg_name))
    unseen = np.array([(r, j) not in seen for r, j in zip(test.R_id, test.jpg_name)])
    return x, names, train, test, unseen


def _side(train, test, names, categories=None):
    order = sorted(set(train.R_id) | set(test.R_id))
    return side_from_answers(pd.concat([train, test]), {n: k for k, n in enumerate(names)}, len(names), order, categories)


def test_profile_model_beats_the_respondent_majority_where_tastes_follow_profile_and_class(survey):
    x, names, train, test, unseen = survey
    tr, te = encode(train, test, names)
    table, _ = every_method(x, tr, te, unseen, autoencoder_epochs=5, side=_side(train, test, names))
    t = table.set_index("method")
    assert t.loc["profile_honest", "protocol"] == "honest"
    assert t.loc["profile_honest", "roc_auc_unseen"] > t.loc["respondent_majority", "roc_auc_unseen"] + 0.05
    assert t.loc["profile_honest", "roc_auc_unseen_low"] > t.loc["respondent_majority", "roc_auc_unseen"]
    assert t.loc["profile_honest", "accuracy_unseen"] > t.loc["respondent_majority", "accuracy_unseen"] + 0.03
    assert t.loc["profile_honest", "brier_all"] < t.loc["respondent_majority", "brier_all"]


def test_no_validation_label_or_survey_answer_reaches_the_profile_model(survey):
    x, names, train, test, unseen = survey
    tr, te = encode(train, test, names)
    side = _side(train, test, names)
    fit = fit_methods(x, tr, autoencoder_epochs=5, side=side)
    flipped = test.assign(like=1 - test.like, Q1=5 - test.Q1)  # other labels, other leaky answers
    tr2, te2 = encode(train, flipped, names)
    side2 = _side(train, flipped, names, fit.profile.categories)
    np.testing.assert_array_equal(side.profiles, side2.profiles)
    np.testing.assert_array_equal(score_methods(x, fit, tr, te, side)["profile_honest"],
                                  score_methods(x, fit, tr2, te2, side2)["profile_honest"])
    # The regularisation was chosen on training answers only: the same fit whatever validation says.
    again = fit_methods(x, tr2, autoencoder_epochs=5, side=side2)
    assert again.profile.c == fit.profile.c
    np.testing.assert_allclose(again.profile.coef, fit.profile.coef, rtol=0, atol=1e-12)


def test_a_new_photo_with_an_answered_images_class_is_scored_as_an_unanswered_image_of_it(survey):
    x, names, train, _, _ = survey
    train = train[~train.jpg_name.isin(names[:6])]  # images 0-5 (one of each class) nobody answered
    tr, _ = encode(train, train.iloc[:0], names)
    order = sorted(set(train.R_id))
    side = side_from_answers(train, {n: k for k, n in enumerate(names)}, len(names), order)
    side.classes[np.arange(6), np.arange(6)] = 1.0  # their labelled classes
    fit = fit_methods(x, tr, autoencoder_epochs=5, side=side)
    probe = pd.DataFrame({"R_id": order, "jpg_name": names[2], "like": 0})
    tr2, te2 = encode(train, probe, names)
    expected = score_methods(x, fit, tr2, te2, side)["profile_honest"]
    new = score_new_images(x, fit, tr, x[[0, 2]], side.with_new_images(side.classes[[0, 2]]))
    np.testing.assert_allclose(new["profile_honest"][1], expected, rtol=0, atol=1e-12)
