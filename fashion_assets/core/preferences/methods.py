"""Every preference method of SPEC §5 on the same answers: fitted on training answers only, then
scored on any validation answers, and compared (accuracy, ROC AUC, on all and unseen answers).

The fit (honest thresholds, autoencoder codes, stacked weights) sees nothing of the validation
answers; each validation answer's scores depend on the fit, the training answers and the
features only — so new answers can be scored alone, with the same numbers as in a full run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .profile import ProfileFit, Side, design, fit_profile, predict_profile
from ..common.uncertainty import N_BOOT, accuracy_interval, auc_interval, bootstrap_weights, brier, roc_auc
from .scores import (Encoded, answer_counts, autoencode, seed_scores, stacked_features, unit_median,
                          user_based_scores, youden_threshold)


def metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    pred = scores > threshold
    return {"accuracy": float((pred == y).mean()) if len(y) else float("nan"), "roc_auc": roc_auc(y, scores),
            "answers": int(len(y))}


@dataclass
class MethodFit:
    """Everything the methods learn from the training answers and the image features — nothing
    about the validation answers: honest thresholds (from leave-one-out training scores), the
    autoencoder codes, the stacked model's weights, the like prior."""
    prior: float
    codes: np.ndarray
    thresholds: dict[str, float]
    stacked_coef: np.ndarray
    stacked_intercept: float
    profile: ProfileFit | None = None  # profile_honest, when the fit had the side information
    # The unit median vectors of the features and of the codes (the seed score's stand-in for an
    # empty list): computed once when fitting; None in fits stored before they were kept.
    median_x: np.ndarray | None = None
    median_codes: np.ndarray | None = None


def save_fit(path, fit: MethodFit):
    """Write a fit to one ``.npz`` file (``load_fit`` reads it back)."""
    import json

    from ..common.atomic import write_npz

    return write_npz(path, codes=fit.codes, stacked_coef=fit.stacked_coef, stacked_intercept=fit.stacked_intercept,
                     prior=fit.prior, thresholds=json.dumps(fit.thresholds), median_x=fit.median_x,
                     median_codes=fit.median_codes, **fit.profile.to_arrays())


def load_fit(path) -> MethodFit:
    """A fit written by ``save_fit`` (fits stored before the medians were kept lack them)."""
    import json

    data = np.load(path, allow_pickle=False)
    kept = {k: data[k] for k in ("median_x", "median_codes") if k in data}
    return MethodFit(float(data["prior"]), data["codes"], json.loads(str(data["thresholds"])), data["stacked_coef"],
                     float(data["stacked_intercept"]), ProfileFit.from_arrays(data), **kept)


HONEST = ("seed_honest", "autoencoder_honest", "user_based", "stacked_honest", "profile_honest")
BASELINES = {"always_dislike": 0.5, "respondent_majority": 0.0, "copy_if_seen_else_majority": 0.0}
SEED_PROTOCOL = {"seed_youden_on_validation": "seed", "autoencoder_seed_protocol": "autoencoder_seed_protocol"}


def fit_methods(x: np.ndarray, train: Encoded, autoencoder_epochs: int = 200, side: Side | None = None) -> MethodFit:
    """Fit every method on the training answers (leave-one-out scores choose the honest thresholds
    and train the stacked model; with ``side``, also profile_honest)."""
    from sklearn.linear_model import LogisticRegression  # here, not above: scoring needs no scikit-learn

    prior = float(train.y.mean())
    codes = autoencode(x, autoencoder_epochs)
    median_x, median_codes = unit_median(x), unit_median(codes)
    loo_seed = seed_scores(x, train, train, exclude_target=True, median=median_x)
    loo_user = user_based_scores(train, train)
    thresholds = {"seed_honest": youden_threshold(train.y, loo_seed),
                  "autoencoder_honest": youden_threshold(train.y, seed_scores(codes, train, train, exclude_target=True,
                                                                              median=median_codes)),
                  "user_based": youden_threshold(train.y, loo_user), "stacked_honest": 0.5}
    base = stacked_features(x, train, train, prior, loo_seed, loo_user)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(base, train.y)
    profile = (fit_profile(design(side, train, train, base), train.y, train.r, side.categories, base.shape[1] + 1)
               if side is not None else None)
    return MethodFit(prior, codes, thresholds, model.coef_[0].copy(), float(model.intercept_[0]), profile,
                     median_x, median_codes)


def score_methods(x: np.ndarray, fit: MethodFit, train: Encoded, test: Encoded,
                  side: Side | None = None) -> dict[str, np.ndarray]:
    """Every method's score of each test answer (profile_honest when the fit has it and ``side``
    is given). Each answer's scores depend on the training answers, the features, the side
    information and the fit only, never on the other test answers — so scoring new answers alone
    gives the same numbers as scoring them with everything else."""
    # Once each, not per variant; the fit's own when it has them (the caller passes the features
    # the fit was made on, or a fit without median_x).
    median_x = fit.median_x if fit.median_x is not None else unit_median(x)
    median_codes = fit.median_codes if fit.median_codes is not None else unit_median(fit.codes)
    scores = {"seed": seed_scores(x, train, test, median=median_x)}
    scores["seed_youden_on_validation"] = scores["seed"]
    scores["seed_honest"] = seed_scores(x, train, test, exclude_target=True, median=median_x)
    scores["autoencoder_seed_protocol"] = seed_scores(fit.codes, train, test, median=median_codes)
    scores["autoencoder_honest"] = seed_scores(fit.codes, train, test, exclude_target=True, median=median_codes)
    scores["user_based"] = user_based_scores(train, test)
    scores["always_dislike"] = np.zeros(len(test.y))
    scores["respondent_majority"] = majority = respondent_majority(fit, train, test)
    a_all, a_like = answer_counts(train, np.ones(len(train.r), bool)), answer_counts(train, train.y == 1)
    seen_n = np.asarray(a_all[test.r, test.i]).ravel()
    seen_rate = np.asarray(a_like[test.r, test.i]).ravel() / np.maximum(seen_n, 1)
    scores["copy_if_seen_else_majority"] = np.where(seen_n > 0, seen_rate - 0.5, majority)
    scores.update(_model_scores(x, fit, train, test, scores["seed_honest"], scores["user_based"], side))
    return scores


def _model_scores(x: np.ndarray, fit: MethodFit, train: Encoded, test: Encoded, seed_honest: np.ndarray,
                  user_based: np.ndarray, side: Side | None) -> dict[str, np.ndarray]:
    """The two learned honest predictors, over the same honest features: stacked_honest, and
    profile_honest when the fit has it and ``side`` is given."""
    base = stacked_features(x, train, test, fit.prior, seed_honest, user_based)
    out = {"stacked_honest": 1.0 / (1.0 + np.exp(-(base @ fit.stacked_coef + fit.stacked_intercept)))}
    if fit.profile is not None and side is not None:
        out["profile_honest"] = predict_profile(fit.profile, design(side, train, test, base))
    return out


def respondent_majority(fit: MethodFit, train: Encoded, test: Encoded) -> np.ndarray:
    """The respondent's training like rate (the prior for a respondent without answers), minus 0.5."""
    n = np.bincount(train.r, minlength=train.n_resp)
    rate = np.bincount(train.r, weights=train.y, minlength=train.n_resp) / np.maximum(n, 1)
    return np.where(n[test.r] > 0, rate[test.r], fit.prior) - 0.5


# The methods that can score an image nobody has answered yet (a new photo): the autoencoder's
# codes exist only for the images it was fitted on, and copying an earlier answer needs one.
NEW_IMAGE_METHODS = ("seed_honest", "respondent_majority", "stacked_honest", "profile_honest")
PAIRS_PER_CHUNK = 100_000  # (new image, training answer) pairs held at once: ~0.8 GB of float64 features


def score_new_images(x: np.ndarray, fit: MethodFit, train: Encoded, new_x: np.ndarray,
                     side: Side | None = None) -> dict[str, np.ndarray]:
    """Every respondent's score for each new image, per method of NEW_IMAGE_METHODS: arrays of
    shape (new images, train.n_resp) (profile_honest only with a ``side`` that has the new
    images' class rows appended). The same numbers ``score_methods`` gives for an image no
    training answer is about: the user-based vote of an image nobody rated is empty (0), and the
    target image is in no respondent's lists, so nothing is excluded."""
    n_new, base = len(new_x), len(x)
    x_all = np.vstack([x, np.asarray(new_x, dtype=x.dtype)])
    train = Encoded(train.r, train.i, train.y, train.n_resp, base + n_new)
    methods = [m for m in NEW_IMAGE_METHODS if m != "profile_honest" or (fit.profile is not None and side is not None)]
    out = {m: np.zeros((n_new, train.n_resp)) for m in methods}
    step = max(1, PAIRS_PER_CHUNK // max(len(train.r), 1))
    respondents = np.arange(train.n_resp)
    for start in range(0, n_new, step):
        images = np.arange(start, min(start + step, n_new))
        test = Encoded(np.tile(respondents, len(images)), np.repeat(base + images, train.n_resp),
                       np.zeros(len(images) * train.n_resp, dtype=int), train.n_resp, base + n_new)
        seed = seed_scores(x_all, train, test, exclude_target=True, median_of=base)
        scores = {"seed_honest": seed, "respondent_majority": respondent_majority(fit, train, test),
                  **_model_scores(x_all, fit, train, test, seed, np.zeros(len(test.r)), side)}
        for m in methods:
            out[m][images] = scores[m].reshape(len(images), train.n_resp)
    return out


def thresholds_and_protocols(fit: MethodFit, y: np.ndarray, scores: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """The threshold and protocol of every method. The seed protocol's thresholds are chosen on the
    validation answers themselves (``y``) — that is the seed's flaw, kept to be reported, never used."""
    thresholds = {"seed": 0.0, "profile_honest": 0.5, **fit.thresholds, **BASELINES}
    protocols = {"seed": "seed (threshold 0)", **{m: "honest" for m in HONEST}, **{b: "baseline" for b in BASELINES}}
    for method, source in SEED_PROTOCOL.items():
        thresholds[method] = youden_threshold(y, scores[source]) if len(np.unique(y)) == 2 else 0.0
        protocols[method] = "seed protocol: threshold chosen on validation"
    return thresholds, protocols


ORDER = ["seed", "seed_youden_on_validation", "seed_honest", "autoencoder_seed_protocol", "autoencoder_honest",
         "user_based", "always_dislike", "respondent_majority", "copy_if_seen_else_majority", "stacked_honest",
         "profile_honest"]


# Methods whose score is a like probability (after this shift): they also get a Brier score.
PROBABILITY_SHIFT = {"stacked_honest": 0.0, "profile_honest": 0.0, "respondent_majority": 0.5,
                     "copy_if_seen_else_majority": 0.5}


def metrics_table(fit: MethodFit, y: np.ndarray, unseen: np.ndarray, scores: dict[str, np.ndarray],
                  respondents: np.ndarray | None = None, n_boot: int = N_BOOT) -> pd.DataFrame:
    """Accuracy and ROC AUC of every method on all and on unseen answers, each with a 95%
    bootstrap interval (respondents resampled; every method on the same resamples), and the Brier
    score of the methods that give a like probability. Without ``respondents`` every answer is
    its own respondent."""
    thresholds, protocols = thresholds_and_protocols(fit, y, scores)
    weights = bootstrap_weights(np.arange(len(y)) if respondents is None else respondents, n_boot)
    parts = {"all": (np.ones(len(y), bool), weights), "unseen": (unseen, weights[unseen])}
    rows = []
    for name in (m for m in ORDER if m in scores):
        s = scores[name]
        row = {"method": name, "protocol": protocols[name], "threshold": thresholds[name]}
        for part, (sel, w) in parts.items():
            m = metrics(y[sel], s[sel], thresholds[name])
            acc_lo, acc_hi = accuracy_interval((s[sel] > thresholds[name]) == y[sel], w)
            auc_lo, auc_hi = auc_interval(y[sel], s[sel], w)
            row.update({f"accuracy_{part}": m["accuracy"], f"accuracy_{part}_low": acc_lo, f"accuracy_{part}_high": acc_hi,
                        f"roc_auc_{part}": m["roc_auc"], f"roc_auc_{part}_low": auc_lo, f"roc_auc_{part}_high": auc_hi,
                        f"brier_{part}": (brier(y[sel], s[sel] + PROBABILITY_SHIFT[name]) if name in PROBABILITY_SHIFT
                                          else float("nan")),
                        f"answers_{part}": m["answers"]})
        rows.append(row)
    return pd.DataFrame(rows)


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The metrics table as a person reads it: 'value [low, high]' per figure, Brier beside."""
    def cell(row, col, pct):
        v, lo, hi = row[col], row[f"{col}_low"], row[f"{col}_high"]
        if not np.isfinite(v):
            return "-"
        return (f"{v:.1%} [{lo:.1%}, {hi:.1%}]" if pct else f"{v:.3f} [{lo:.3f}, {hi:.3f}]")
    out = table[["method", "protocol"]].copy()
    for part in ("all", "unseen"):
        out[f"accuracy {part}"] = [cell(r, f"accuracy_{part}", True) for _, r in table.iterrows()]
        out[f"ROC AUC {part}"] = [cell(r, f"roc_auc_{part}", False) for _, r in table.iterrows()]
        out[f"Brier {part}"] = table[f"brier_{part}"].map(lambda b: "-" if not np.isfinite(b) else f"{b:.3f}")
    return out
