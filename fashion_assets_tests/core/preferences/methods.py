"""Every preference method on the same answers, as preference_model and preference_models run
them (fit on the training answers, score the test answers, one metrics table)."""

import numpy as np
import pandas as pd

from fashion_assets.core.preferences.methods import Encoded, Side, fit_methods, metrics_table, score_methods


def every_method(x: np.ndarray, train: Encoded, test: Encoded, unseen: np.ndarray, autoencoder_epochs: int = 200,
                 side: Side | None = None) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """(metrics table, scores per method)."""
    fit = fit_methods(x, train, autoencoder_epochs, side)
    scores = score_methods(x, fit, train, test, side)
    return metrics_table(fit, test.y, unseen, scores, respondents=test.r), scores
