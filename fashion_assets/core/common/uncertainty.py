"""How much a reported figure would move with other data: cluster bootstrap intervals and the
Brier score; ROC points and AUC in numpy.

Answers of one respondent are not independent (a respondent who likes most things makes every
method look right on all of their answers), so preference figures are resampled by respondent:
each bootstrap sample draws respondents with replacement and takes all of their answers. A
classifier's images are resampled one by one (each image its own cluster). The samples are
drawn once per call, from a fixed seed, and shared by every method scored on the same answers,
so two methods' intervals describe the same resamples and the same data give the same interval.
"""

from __future__ import annotations

import numpy as np

N_BOOT = 1000
LEVEL = 0.95


def bootstrap_weights(clusters: np.ndarray, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """(n, n_boot) weights: how often each item occurs in each bootstrap sample when whole
    clusters (``clusters[i]``: item i's cluster id) are drawn with replacement. Items are rows,
    so that taking a subset of items is a cheap row selection."""
    _, cluster = np.unique(np.asarray(clusters), return_inverse=True)
    k = int(cluster.max()) + 1 if len(cluster) else 0
    if k == 0:
        return np.zeros((0, n_boot), dtype=np.float32)
    draws = np.random.default_rng(seed).multinomial(k, np.full(k, 1.0 / k), size=n_boot).astype(np.float32)
    return np.ascontiguousarray(draws.T)[cluster]


def _interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if len(samples) == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return float(lo), float(hi)


def accuracy_interval(correct: np.ndarray, weights: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of accuracy over the bootstrap samples (``correct``: 0/1 per item; any
    per-item value works alike, e.g. a paired difference of -1, 0 or 1)."""
    if weights.shape[0] == 0:
        return float("nan"), float("nan")
    totals = weights.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _interval((np.asarray(correct, dtype=np.float32) @ weights) / totals, level)


def weighted_auc(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC for each column of ``weights`` (item weights), ties counted one half: the weighted
    share of (like, dislike) pairs that the scores order correctly. One sort for all columns."""
    y, scores = np.asarray(y), np.asarray(scores, dtype=float)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y != 1)
    order = np.argsort(scores[neg], kind="stable")
    neg_scores = scores[neg][order]
    below = np.zeros((len(neg) + 1, weights.shape[1]), dtype=np.float32)  # counts: exact in float32
    np.cumsum(weights[neg[order]], axis=0, out=below[1:])  # dislike weight up to each rank
    lo = np.searchsorted(neg_scores, scores[pos], side="left")  # dislikes scored strictly lower
    hi = np.searchsorted(neg_scores, scores[pos], side="right")  # … or equal (a tie counts one half)
    wp = weights[pos]
    with np.errstate(invalid="ignore", divide="ignore"):
        return 0.5 * (wp * (below[lo] + below[hi])).sum(axis=0) / (wp.sum(axis=0) * below[-1])


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """sklearn.metrics.roc_auc_score for 0/1 labels (NaN when a class is absent)."""
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(weighted_auc(y, scores, np.ones((len(y), 1)))[0])


def roc_points(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates, thresholds) at every distinct score, thresholds
    decreasing from +inf: sklearn.metrics.roc_curve(..., drop_intermediate=False). Here because
    importing scikit-learn takes 1.2 s of the survey refresh's few seconds (benchmarks/survey_refresh.py);
    the tests check it against scikit-learn."""
    y, scores = np.asarray(y), np.asarray(scores, dtype=float)
    order = np.argsort(-scores, kind="mergesort")
    ranked, liked = scores[order], (y[order] == 1)
    last = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # the last item at each distinct score
    tps = np.r_[0, np.cumsum(liked)[last]]
    fps = np.r_[0, last + 1 - tps[1:]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return fps / fps[-1], tps / tps[-1], np.r_[np.inf, ranked[last]]


def auc_interval(y: np.ndarray, scores: np.ndarray, weights: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of ROC AUC over the bootstrap samples (NaN when a class is absent)."""
    if weights.shape[0] == 0 or len(np.unique(y)) < 2:
        return float("nan"), float("nan")
    return _interval(weighted_auc(y, scores, weights), level)


def brier(y: np.ndarray, probability: np.ndarray) -> float:
    """Mean squared difference between the predicted like probability and the answer (0 is
    perfect; always saying 0.5 scores 0.25)."""
    if len(y) == 0:
        return float("nan")
    return float(np.mean((np.asarray(probability, dtype=float) - np.asarray(y, dtype=float)) ** 2))
