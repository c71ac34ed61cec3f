"""Preference methods on constructed cases with known answers, and the honesty guarantees."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from fashion_assets.core.preferences.methods import (NEW_IMAGE_METHODS, fit_methods, score_methods,
                                                    score_new_images)
from fashion_assets_tests.core.preferences.methods import every_method
from fashion_assets.core.preferences.scores import (column_median, encode, kernel_like_rate, seed_scores,
                                             seed_scores_reference, unit_median, user_based_scores)

# Four images on two axes: a and a2 point one way, b and b2 the other.
NAMES = ["a", "a2", "b", "b2"]
X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])


def answers(rows):
    return pd.DataFrame(rows, columns=["R_id", "jpg_name", "like"])


def test_seed_score_by_hand():
    train = answers([(1, "a", 1), (1, "b", 0)])
    test = answers([(1, "a2", 1), (1, "b2", 0)])
    tr, te = encode(train, test, NAMES)
    s = seed_scores(X, tr, te)
    cos = lambda u, v: u @ v / np.linalg.norm(u) / np.linalg.norm(v)  # noqa: E731
    assert s[0] == pytest.approx(cos(X[1], X[0]) - cos(X[1], X[2]))
    assert s[0] > 0 > s[1]


def test_empty_list_uses_the_median_vector():
    train = answers([(1, "a", 1)])  # no dislikes
    test = answers([(1, "b", 0)])
    tr, te = encode(train, test, NAMES)
    median = np.median(X, axis=0)
    expected = X[2] @ X[0] / np.linalg.norm(X[0]) - X[2] @ median / np.linalg.norm(median)
    assert seed_scores(X, tr, te)[0] == pytest.approx(expected)


def test_vectorised_seed_equals_the_per_pair_reference():
    rng = np.random.default_rng(0)
    names = [f"img{k}" for k in range(40)]
    x = rng.normal(size=(40, 16)) ** 2
    train = answers([(int(r), names[int(i)], int(y)) for r, i, y in zip(rng.integers(0, 8, 150), rng.integers(0, 40, 150), rng.integers(0, 2, 150))])
    test = answers([(int(r), names[int(i)], int(y)) for r, i, y in zip(rng.integers(0, 10, 60), rng.integers(0, 40, 60), rng.integers(0, 2, 60))])
    tr, te = encode(train, test, names)
    ref = seed_scores_reference({n: x[k] for k, n in enumerate(names)}, train, test)
    np.testing.assert_allclose(seed_scores(x, tr, te), ref, atol=1e-9, rtol=0)


def test_honest_score_ignores_the_respondents_own_answer_about_the_target():
    train = answers([(1, "a", 1), (1, "b", 0), (1, "b2", 0)])
    test = answers([(1, "a", 1)])  # a repeat of a training answer
    tr, te = encode(train, test, NAMES)
    leaky, honest = seed_scores(X, tr, te)[0], seed_scores(X, tr, te, exclude_target=True)[0]
    tr2, te2 = encode(answers([(1, "b", 0), (1, "b2", 0)]), test, NAMES)
    assert honest == pytest.approx(seed_scores(X, tr2, te2)[0])  # as if the answer had never been given
    assert leaky > honest


def test_kernel_rate_follows_similar_images():
    train = answers([(1, "a", 1), (1, "b", 0)])
    test = answers([(1, "a2", 1), (1, "b2", 0)])
    tr, te = encode(train, test, NAMES)
    rate = kernel_like_rate(X, tr, te)
    assert rate[0] > 0.9 and rate[1] < 0.1


def test_user_based_follows_like_minded_respondents():
    # Respondents 1 and 2 agree on a and b; 2 liked a2, so 1 should like it too. 3 disagrees with 1.
    train = answers([(1, "a", 1), (1, "b", 0), (2, "a", 1), (2, "b", 0), (2, "a2", 1),
                     (3, "a", 0), (3, "b", 1), (3, "b2", 1)])
    test = answers([(1, "a2", 1), (1, "b2", 0)])
    tr, te = encode(train, test, NAMES)
    s = user_based_scores(tr, te)
    assert s[0] > 0 and s[1] < 0


@pytest.fixture(scope="module")
def synthetic():
    """Respondents who like images on one side of a direction; some validation answers repeat training."""
    rng = np.random.default_rng(1)
    names = [f"img{k}" for k in range(120)]
    x = np.abs(rng.normal(size=(120, 8)))
    taste = rng.normal(size=(30, 8))
    rows = []
    for r in range(30):
        for i in rng.choice(120, 14, replace=False):
            rows.append((r, names[i], int(taste[r] @ (x[i] - x.mean(0)) > 0), "Train"))
        for i in rng.choice(120, 4, replace=False):
            rows.append((r, names[i], int(taste[r] @ (x[i] - x.mean(0)) > 0), "Validation"))
    df = pd.DataFrame(rows, columns=["R_id", "jpg_name", "like", "split"])
    train, test = df[df.split == "Train"], df[df.split == "Validation"].reset_index(drop=True)
    seen = set(zip(train.R_id, train.jpg_name))
    unseen = np.array([(r, j) not in seen for r, j in zip(test.R_id, test.jpg_name)])
    return x, names, train, test, unseen


def test_every_method_runs_and_honest_ones_beat_chance(synthetic):
    x, names, train, test, unseen = synthetic
    tr, te = encode(train, test, names)
    table, _ = every_method(x, tr, te, unseen, autoencoder_epochs=20)
    assert set(table.method) >= {"seed", "seed_youden_on_validation", "seed_honest", "autoencoder_seed_protocol",
                                 "autoencoder_honest", "user_based", "always_dislike", "respondent_majority",
                                 "copy_if_seen_else_majority", "stacked_honest"}
    t = table.set_index("method")
    assert t.loc["seed_honest", "roc_auc_unseen"] > 0.6
    assert t.loc["stacked_honest", "roc_auc_unseen"] > 0.6


def test_a_planted_leak_in_the_survey_answers_is_not_used(synthetic):
    x, names, train, test, unseen = synthetic
    leaky = test.assign(Q1=np.where(test.like == 1, 4, 1))  # Q1 reveals Q5
    tr, te = encode(train, test, names)
    tr2, te2 = encode(train, leaky.assign(Q1=1 - leaky.Q1), names)
    a, _ = every_method(x, tr, te, unseen, autoencoder_epochs=5)
    b, _ = every_method(x, tr2, te2, unseen, autoencoder_epochs=5)
    pd.testing.assert_frame_equal(a, b)


def test_honest_thresholds_never_see_validation_labels(synthetic):
    x, names, train, test, unseen = synthetic
    tr, te = encode(train, test, names)
    flipped = test.assign(like=1 - test.like)
    tr2, te2 = encode(train, flipped, names)
    a, sa = every_method(x, tr, te, unseen, autoencoder_epochs=5)
    b, sb = every_method(x, tr2, te2, unseen, autoencoder_epochs=5)
    honest = a.protocol.isin(["honest", "baseline"])
    # Thresholds and scores of honest methods and baselines are identical when validation labels change.
    np.testing.assert_array_equal(a[honest].threshold.to_numpy(), b[honest].threshold.to_numpy())
    for name in a[honest].method:
        np.testing.assert_array_equal(sa[name], sb[name])
    # The seed protocol's threshold does depend on them: that is exactly its flaw.
    assert a.set_index("method").loc["seed_youden_on_validation", "threshold"] != \
        b.set_index("method").loc["seed_youden_on_validation", "threshold"]


@pytest.mark.parametrize("rows", [1, 2, 5, 6, 301])
def test_column_median_is_numpys_median_exactly(rows):
    # The seed's empty-list stand-in: a faster median must not move the scores at all.
    x = np.random.default_rng(rows).normal(size=(rows, 7))
    x[:, 3] = 1.5  # ties
    assert np.array_equal(column_median(x), np.median(x, axis=0))
    assert np.array_equal(column_median(x.astype(np.float32)), np.median(x.astype(np.float32).astype(np.float64), axis=0))


def test_new_answers_scored_alone_equal_a_full_recompute(synthetic):
    # What the incremental predictions rely on: an answer's scores do not depend on the other
    # validation answers, so scoring only the new ones gives the full run's numbers.
    x, names, train, test, unseen = synthetic
    tr, te = encode(train, test, names)
    fit = fit_methods(x, tr, autoencoder_epochs=5)
    full = score_methods(x, fit, tr, te)
    part = test.iloc[::7].reset_index(drop=True)
    tr2, te2 = encode(train, part, names)
    alone = score_methods(x, fit, tr2, te2)
    for method, scores in full.items():
        np.testing.assert_allclose(alone[method], scores[::7], rtol=0, atol=1e-9, err_msg=method)
    # The fit keeps the median vectors the seed score needs; a fit stored without them (older
    # versions) computes them from the features: the same numbers.
    np.testing.assert_array_equal(fit.median_x, unit_median(x))
    without = score_methods(x, dataclasses.replace(fit, median_x=None, median_codes=None), tr, te)
    for method, scores in full.items():
        np.testing.assert_array_equal(without[method], scores, err_msg=method)


def test_a_new_photo_is_scored_as_an_image_nobody_answered_whatever_else_is_in_its_batch(synthetic):
    # New photos are appended to the feature matrix: they must get exactly the scores the methods
    # give a known image without answers, and one photo's scores must not depend on the others.
    x, names, train, _, _ = synthetic
    train = train[~train.jpg_name.isin(names[:3])]  # nobody answered the first three images
    unanswered = [0, 1, 2]
    tr, _ = encode(train, train.iloc[:0], names)
    fit = fit_methods(x, tr, autoencoder_epochs=5)
    probe = pd.DataFrame({"R_id": sorted(set(train.R_id)), "jpg_name": names[unanswered[0]], "like": 0})
    tr2, te2 = encode(train, probe, names)
    expected = score_methods(x, fit, tr2, te2)
    alone = score_new_images(x, fit, tr, x[unanswered[:1]])
    batch = score_new_images(x, fit, tr, x[[unanswered[1], unanswered[0], unanswered[2]]] * [[1.0], [1.0], [3.0]])
    assert set(alone) == set(NEW_IMAGE_METHODS) - {"profile_honest"}  # that one needs the side information
    for method in alone:
        assert alone[method].shape == (1, tr.n_resp)
        np.testing.assert_allclose(alone[method][0], expected[method], rtol=0, atol=1e-12, err_msg=method)
        np.testing.assert_allclose(batch[method][1], expected[method], rtol=0, atol=1e-12, err_msg=method)


def test_a_new_photo_ranks_the_respondents_who_liked_images_like_it_first():
    train = answers([(1, "a", 1), (1, "b", 0), (1, "b2", 0), (2, "b", 1), (2, "a", 0), (2, "a2", 0),
                     (3, "a2", 1), (3, "b2", 0)])
    tr, _ = encode(train, train.iloc[:0], NAMES)
    fit = fit_methods(X, tr, autoencoder_epochs=5)
    scores = score_new_images(X, fit, tr, np.array([[0.95, 0.05], [0.05, 0.95]]))
    for method in ("seed_honest", "stacked_honest"):
        a_like, b_like = scores[method]
        assert a_like[0] > a_like[1] and a_like[2] > a_like[1], method  # respondents 1 and 3 like a-images
        assert b_like[1] > b_like[0], method
