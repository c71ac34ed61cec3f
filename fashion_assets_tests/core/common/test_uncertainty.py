import numpy as np
from sklearn.metrics import roc_auc_score

from fashion_assets.core.common.uncertainty import accuracy_interval, auc_interval, bootstrap_weights, brier, weighted_auc


def respondents_answers(rng, n_resp=150, per=12, rate=0.7, spread=0.15):
    """Synthetic answers: each respondent is right at their own rate around ``rate`` (so answers
    of one respondent are correlated, as in the survey)."""
    own = np.clip(rng.normal(rate, spread, n_resp), 0, 1)
    r = np.repeat(np.arange(n_resp), per)
    return r, (rng.random(len(r)) < own[r]).astype(int)


def test_respondent_bootstrap_interval_covers_the_true_rate():
    rng = np.random.default_rng(1)
    covered, widths = 0, []
    for k in range(60):
        r, correct = respondents_answers(rng)
        lo, hi = accuracy_interval(correct, bootstrap_weights(r, 400, seed=k))
        covered += lo <= 0.7 <= hi
        widths.append(hi - lo)
    assert covered >= 52  # nominal 95%: at least 87% of 60 intervals cover the true rate
    assert 0.03 < np.mean(widths) < 0.12


def test_answer_level_resampling_would_be_too_narrow_for_correlated_answers():
    """Why respondents are resampled: treating correlated answers as independent understates the
    uncertainty."""
    rng = np.random.default_rng(2)
    r, correct = respondents_answers(rng, spread=0.3)
    by_resp = np.subtract(*accuracy_interval(correct, bootstrap_weights(r, 500))[::-1])
    by_answer = np.subtract(*accuracy_interval(correct, bootstrap_weights(np.arange(len(r)), 500))[::-1])
    assert by_resp > 1.5 * by_answer


def test_weighted_auc_equals_sklearn_with_ties_and_weights():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(size=300) + y, 1)  # many ties
    w = rng.integers(0, 3, size=(300, 4)).astype(np.float32)
    ours = weighted_auc(y, scores, w)
    for k in range(4):
        assert abs(ours[k] - roc_auc_score(y, scores, sample_weight=w[:, k])) < 1e-6
    lo, hi = auc_interval(y, scores, bootstrap_weights(np.arange(300), 300))
    assert lo < roc_auc_score(y, scores) < hi


def test_same_data_same_interval_and_brier():
    r = np.repeat(np.arange(50), 4)
    correct = (np.arange(200) % 3 > 0).astype(int)
    assert accuracy_interval(correct, bootstrap_weights(r)) == accuracy_interval(correct, bootstrap_weights(r))
    assert brier(np.array([1, 0, 1, 0]), np.full(4, 0.5)) == 0.25
    assert brier(np.array([1, 0]), np.array([1.0, 0.0])) == 0.0


def test_roc_points_auc_and_youden_equal_sklearn_with_ties():
    """Our ROC points, AUC and Youden threshold (numpy, so that scoring new answers loads no
    scikit-learn) are scikit-learn's."""
    from sklearn.metrics import roc_curve

    from fashion_assets.core.preferences.scores import youden_threshold
    from fashion_assets.core.common.uncertainty import roc_auc, roc_points

    rng = np.random.default_rng(4)
    for rounding in (0, 1, 3):
        y = rng.integers(0, 2, 500)
        scores = np.round(rng.normal(size=500) + 0.7 * y, rounding)  # heavy ties at rounding 0
        fpr, tpr, thr = roc_points(y, scores)
        ref = roc_curve(y, scores, drop_intermediate=False)
        for ours, theirs in zip((fpr, tpr, thr), ref):
            np.testing.assert_allclose(ours, theirs)
        assert abs(roc_auc(y, scores) - roc_auc_score(y, scores)) < 1e-12
        ref_fpr, ref_tpr, ref_thr = roc_curve(y, scores)  # the default drops collinear points
        assert youden_threshold(y, scores) == ref_thr[np.argmax(ref_tpr - ref_fpr)]
    assert np.isnan(roc_auc(np.ones(5), np.arange(5.0)))
