"""The network and the colour-histogram model as one classifier: a weighted product of their
class probabilities (log-linear pooling), the weight chosen on the training holdout.

The two see different things (the network shapes and textures at a low resolution, the
histograms every pixel's colour per body band) and get different images right, so pooling them
beats either where each is weak. The colour model travels as plain arrays (the fitted scaler and
logistic regression), inside the classifier's checkpoint, and is applied without scikit-learn
wherever the classifier's logits are turned into classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WEIGHTS = tuple(np.round(np.arange(0.0, 1.0001, 0.1), 1))  # the network's share, 0 = colour alone
FLOOR = np.log(1e-9)  # log-probability of a class the colour model never saw in training


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class ColourExpert:
    """A fitted ``StandardScaler`` + multinomial ``LogisticRegression`` on colour histograms, as
    arrays: ``log_proba`` equals the pipeline's ``predict_log_proba`` (columns: every class index
    0 … n_classes-1; a class absent from its training data gets ``FLOOR``)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (fitted classes, features)
    intercept: np.ndarray
    classes: np.ndarray  # class index of each row of coef
    n_classes: int

    @classmethod
    def from_pipeline(cls, pipeline, n_classes: int) -> "ColourExpert":
        scaler, model = pipeline[0], pipeline[-1]
        return cls(scaler.mean_.copy(), scaler.scale_.copy(), model.coef_.copy(), model.intercept_.copy(),
                   model.classes_.astype(np.int64), int(n_classes))

    def log_proba(self, features: np.ndarray) -> np.ndarray:
        z = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale @ self.coef.T + self.intercept
        out = np.full((len(z), self.n_classes), FLOOR)
        if len(self.classes) == 1:  # scikit-learn fits one class as certain
            out[:, self.classes[0]] = 0.0
        else:
            out[:, self.classes] = log_softmax(z)
        return out

    def to_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "ColourExpert":
        return cls(**{k: (d[k] if k == "n_classes" else np.asarray(d[k])) for k in cls.__dataclass_fields__})


def pool(network_logits: np.ndarray, colour_log_proba: np.ndarray, weight: float) -> np.ndarray:
    """Pooled class scores: weight·log p_network + (1-weight)·log p_colour (their softmax is the
    normalised weighted product; argmax is the pooled prediction)."""
    if weight >= 1.0:
        return log_softmax(network_logits)
    return weight * log_softmax(network_logits) + (1 - weight) * np.asarray(colour_log_proba, dtype=np.float64)


def mean_log_loss(scores: np.ndarray, y: np.ndarray) -> float:
    return float(-log_softmax(scores)[np.arange(len(y)), y].mean())


def choose_weight(network_logits: np.ndarray, colour_log_proba: np.ndarray, y: np.ndarray,
                  grid: tuple[float, ...] = WEIGHTS) -> tuple[float, dict[float, float]]:
    """The network's weight with the lowest mean log-loss on the holdout (ties: the larger
    weight), and the loss at each weight. Log-loss, not accuracy: on a few hundred images accuracy
    moves in steps of one image, the loss uses every probability. No holdout: the network alone."""
    if len(y) == 0:
        return 1.0, {}
    losses = {float(w): mean_log_loss(pool(network_logits, colour_log_proba, w), y) for w in grid}
    best = min(losses.values())
    return max(w for w, v in losses.items() if v <= best + 1e-12), losses
