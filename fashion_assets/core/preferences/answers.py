"""The survey answers the preference methods learn from and score: one row per answer whose
image has features, with what identifies it, its label (Q5 → like) and the respondent's
profile — never the other survey questions about the image (Q1 tracks Q5)."""

from __future__ import annotations

import pandas as pd

from .features import FeatureMatrix
from .profile import PROFILE_FIELDS, Side, side_from_answers

ANSWER = ["file_name", "R_id", "jpg_name"]  # one survey file: what identifies an answer
# The columns of valid_labels the preference steps read.
ANSWER_COLUMNS = ["R_id", "jpg_name", "split", "Q5", "file_name", "class_label", "style_known", *PROFILE_FIELDS]


def answers_with_features(valid_labels: pd.DataFrame, fm: FeatureMatrix) -> tuple[pd.DataFrame, dict, list[str]]:
    """(answers whose image has features, image key → feature row, the images of the answers
    left out because they have none — quarantined in the image stage — sorted)."""
    rows = dict(zip(fm.index.split + "/" + fm.index.file_name, fm.index.row))
    profile = [f for f in PROFILE_FIELDS if f in valid_labels.columns]
    answers = valid_labels[["R_id", "jpg_name", "split", "Q5", "file_name", "class_label", "style_known", *profile]].assign(
        like=(valid_labels.Q5 == 2).astype(int), image=valid_labels.split + "/" + valid_labels.jpg_name)
    without = ~answers.image.isin(rows)
    return answers[~without], rows, sorted(answers.image[without].unique()) if without.any() else []


def scoring_side(fit, train: pd.DataFrame, new: pd.DataFrame, rows: dict, n_rows: int) -> Side | None:
    """The side information for encode(train, new): profiles in its respondent order (with the
    fit's profile columns; None when the fit has no profile model) and the labelled classes.
    ``fit``: a MethodFit, or None before fitting."""
    if fit is not None and fit.profile is None:
        return None
    order = sorted(set(train.R_id) | set(new.R_id))
    return side_from_answers(pd.concat([train, new]), rows, n_rows, order, fit.profile.categories if fit else None)
