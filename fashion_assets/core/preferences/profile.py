"""``profile_honest``: a like/dislike model that uses what is known about the respondent and the image.

Beside the stacked honest features (seed score, similarity-weighted like rate, the respondent's
and the image's like rates, the user-based vote — all with the target left out), it has

- the image's class (one-hot from the labelled file name; a new photo's class posteriors),
- the respondent's profile (the user fields of the survey: gender, age, marital status, job,
  income, r_style1…5 — one-hot), crossed with the image's class: a population prior of "people
  like this like images like that",
- the respondent's own like rate in the image's class, from their other training answers,
  shrunk towards the overall like rate: how this respondent departs from that prior.

A logistic regression over these, with its L2 strength chosen by 5-fold cross-validation on the
training answers (folds by respondent; log-loss). Nothing about a validation answer — its label
or the other survey questions about the target image (Q1…Q4) — is ever an input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from .scores import Encoded, answer_counts

PROFILE_FIELDS = ("r_gender", "age", "mar", "job", "income", "r_style1", "r_style2", "r_style3", "r_style4", "r_style5")
C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
FOLDS = 5
CLASS_PRIOR_WEIGHT = 2.0  # pseudo-answers that shrink a respondent's class like rate to the overall rate


@dataclass(frozen=True)
class Side:
    """What is known beside the answers: each respondent's one-hot profile (rows in ``encode``'s
    respondent order) and each feature row's class vector (one-hot, or posteriors)."""
    profiles: np.ndarray  # (respondents, profile columns)
    classes: np.ndarray  # (feature rows, classes)
    categories: dict  # the profile's one-hot columns: field → values

    def with_new_images(self, classes: np.ndarray) -> "Side":
        """The same, with rows appended for new images (their class posteriors)."""
        return Side(self.profiles, np.vstack([self.classes, classes]), self.categories)


def side_from_answers(answers: pd.DataFrame, rows: dict[str, int], n_rows: int, order: list,
                      categories: dict[str, list] | None = None) -> Side:
    """The side information of ``answers`` (columns R_id, image, class_label, style_known and the
    profile fields): profiles of the respondents ``order`` with ``categories`` (default: the
    values in ``answers``), and the one-hot labelled class of every answered image's feature row."""
    from ..tables.vocabulary import CLASS_LABELS

    categories = profile_categories(answers) if categories is None else categories
    classes = np.zeros((n_rows, len(CLASS_LABELS)))
    known = answers[answers.style_known.astype(bool) & answers.image.isin(rows)].drop_duplicates("image")
    column = {c: k for k, c in enumerate(CLASS_LABELS)}
    known = known[known.class_label.isin(column)]
    classes[known.image.map(rows).to_numpy(dtype=int), known.class_label.map(column).to_numpy(dtype=int)] = 1.0
    return Side(one_hot_profiles(answers, order, categories), classes, categories)


def profile_categories(respondents: pd.DataFrame) -> dict[str, list]:
    """The values each profile field takes (the one-hot columns), from the training respondents."""
    return {f: sorted(pd.unique(respondents[f].dropna()).tolist()) for f in PROFILE_FIELDS if f in respondents.columns}


def one_hot_profiles(respondents: pd.DataFrame, order: list, categories: dict[str, list]) -> np.ndarray:
    """(len(order), columns) one-hot profiles of the respondents ``order`` (R_ids); an unknown
    value or respondent is all zeros in that field."""
    first = respondents.drop_duplicates("R_id").set_index("R_id").reindex(order)
    blocks = [np.stack([(first[f].to_numpy() == v) for v in values], axis=1) if values else np.zeros((len(order), 0))
              for f, values in categories.items()]
    return np.hstack(blocks).astype(np.float64) if blocks else np.zeros((len(order), 0))


def class_like_rate(train: Encoded, test: Encoded, classes: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """The respondent's like rate among their training answers about images of the target's class
    (weighted by the class vector), without their answers about the target image itself, shrunk
    towards ``prior`` (per test answer) with CLASS_PRIOR_WEIGHT pseudo-answers."""
    like_counts, all_counts = answer_counts(train, train.y == 1), answer_counts(train, np.ones(len(train.r), bool))
    likes, seen = np.asarray(like_counts @ classes)[test.r], np.asarray(all_counts @ classes)[test.r]
    own_likes = np.asarray(like_counts[test.r, test.i]).ravel()
    own = np.asarray(all_counts[test.r, test.i]).ravel()
    d = classes[test.i]
    rate = ((likes - own_likes[:, None] * d) + CLASS_PRIOR_WEIGHT * prior[:, None]) / \
        ((seen - own[:, None] * d) + CLASS_PRIOR_WEIGHT)
    return (rate * d).sum(axis=1) / np.maximum(d.sum(axis=1), 1e-12)


def design(side: Side, train: Encoded, test: Encoded, base: np.ndarray) -> sparse.csr_matrix:
    """The model's inputs per test answer: the honest base features, the class like rate (shrunk
    towards the respondent rate, base column 2), the class, and profile × class."""
    d = side.classes[test.i]
    taste = class_like_rate(train, test, side.classes, base[:, 2])
    cross = np.einsum("np,nc->npc", side.profiles[test.r], d).reshape(len(test.r), -1)
    return sparse.hstack([sparse.csr_matrix(np.column_stack([base, taste])), sparse.csr_matrix(d),
                          sparse.csr_matrix(cross)], format="csr")


@dataclass(frozen=True)
class ProfileFit:
    coef: np.ndarray
    intercept: float
    mean: np.ndarray  # of the dense columns (base + class rate), for standardising
    scale: np.ndarray
    c: float
    categories: dict
    cv_log_loss: dict  # C → mean held-out log-loss

    def to_arrays(self) -> dict:
        return {"profile_coef": self.coef, "profile_intercept": self.intercept, "profile_mean": self.mean,
                "profile_scale": self.scale, "profile_c": self.c,
                "profile_meta": json.dumps({"categories": self.categories, "cv_log_loss": self.cv_log_loss})}

    @classmethod
    def from_arrays(cls, data) -> "ProfileFit | None":
        if "profile_coef" not in data:
            return None
        meta = json.loads(str(data["profile_meta"]))
        return cls(data["profile_coef"], float(data["profile_intercept"]), data["profile_mean"], data["profile_scale"],
                   float(data["profile_c"]), meta["categories"], meta["cv_log_loss"])


def _standardised(x: sparse.csr_matrix, mean: np.ndarray, scale: np.ndarray) -> sparse.csr_matrix:
    k = len(mean)
    dense = (x[:, :k].toarray() - mean) / scale
    return sparse.hstack([sparse.csr_matrix(dense), x[:, k:]], format="csr")


def fit_profile(x: sparse.csr_matrix, y: np.ndarray, groups: np.ndarray, categories: dict,
                dense_columns: int) -> ProfileFit:
    """Standardise the dense columns, choose C on GroupKFold log-loss, refit on every answer."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import GroupKFold

    dense = x[:, :dense_columns].toarray()
    mean, scale = dense.mean(axis=0), np.maximum(dense.std(axis=0), 1e-9)
    xs = _standardised(x, mean, scale)
    folds = list(GroupKFold(n_splits=min(FOLDS, len(np.unique(groups)))).split(xs, y, groups))
    losses = {}
    for c in C_GRID:
        held = []
        for fit_rows, held_rows in folds:
            model = LogisticRegression(C=c, max_iter=2000).fit(xs[fit_rows], y[fit_rows])
            held.append(log_loss(y[held_rows], model.predict_proba(xs[held_rows])[:, 1], labels=[0, 1]))
        losses[c] = float(np.mean(held))
    best = min(losses, key=losses.get)
    model = LogisticRegression(C=best, max_iter=2000).fit(xs, y)
    return ProfileFit(model.coef_[0].copy(), float(model.intercept_[0]), mean, scale, best, categories,
                      {str(c): round(v, 5) for c, v in losses.items()})


def predict_profile(fit: ProfileFit, x: sparse.csr_matrix) -> np.ndarray:
    z = _standardised(x, fit.mean, fit.scale) @ fit.coef + fit.intercept
    return 1.0 / (1.0 + np.exp(-z))
