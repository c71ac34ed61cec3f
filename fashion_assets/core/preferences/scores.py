"""Like/dislike prediction for (respondent, image) answers (SPEC §5), vectorised.

Inputs are the valid answers split into training (known) and validation (to predict), with the
columns R_id, jpg_name, like (0/1); image features are rows of a matrix indexed by image name.
Only the respondent, the image, the image's features and *training* answers are ever used — never
the other survey answers about the target image (Q1 tracks Q5 96% of the time).

Honest variants remove the target image from the respondent's own lists (validation repeats
training answers) and fit every threshold or weight on leave-one-out scores of the training
answers; validation labels are used only to score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from .features import unit_rows
from ..common.uncertainty import roc_points


@dataclass
class Encoded:
    r: np.ndarray  # respondent index per answer
    i: np.ndarray  # image index per answer
    y: np.ndarray  # 1 = like
    n_resp: int
    n_img: int


def encode(train: pd.DataFrame, test: pd.DataFrame, images: list[str] | dict[str, int],
           column: str = "jpg_name") -> tuple[Encoded, Encoded]:
    """Answers as index arrays. ``images`` maps each answer's ``column`` value to its feature row
    (a list: row k is the k-th name; a dict: several keys may share a row, e.g. identical files)."""
    img = images if isinstance(images, dict) else {n: k for k, n in enumerate(images)}
    n_img = max(img.values(), default=-1) + 1
    resp = {r: k for k, r in enumerate(sorted(set(train.R_id) | set(test.R_id)))}

    def enc(df):
        missing = set(df[column]) - set(img)
        if missing:
            raise KeyError(f"{len(missing)} answered images have no features, e.g. {sorted(missing)[:3]}")
        return Encoded(df.R_id.map(resp).to_numpy(), df[column].map(img).to_numpy(), df.like.to_numpy().astype(int),
                       len(resp), n_img)
    return enc(train), enc(test)


def answer_counts(e: Encoded, mask: np.ndarray) -> sparse.csr_matrix:
    return sparse.csr_matrix((np.ones(int(mask.sum())), (e.r[mask], e.i[mask])), shape=(e.n_resp, e.n_img))


def column_median(x: np.ndarray) -> np.ndarray:
    """np.median(x, axis=0), exactly, in a fifth of the time: the median is the hot spot of the
    seed score at full scale. Rows of the transposed copy are partitioned once (one kth, not
    np.median's two) and the lower middle value is the maximum of the lower part."""
    n = x.shape[0]
    if n == 0:
        return np.full(x.shape[1], np.nan)
    cols = np.ascontiguousarray(np.asarray(x, dtype=np.float64).T)
    k = n // 2
    cols.partition(k, axis=1)
    upper = cols[:, k]
    return upper.copy() if n % 2 else (cols[:, :k].max(axis=1) + upper) / 2


def unit_median(x: np.ndarray, median_of: int | None = None) -> np.ndarray:
    """The median feature vector of the first ``median_of`` rows of ``x`` (all by default), unit length."""
    return unit_rows(column_median(x[:median_of])[None])[0]


def seed_scores(x: np.ndarray, train: Encoded, test: Encoded, exclude_target: bool = False,
                median_of: int | None = None, median: np.ndarray | None = None) -> np.ndarray:
    """Mean cosine similarity of the target image to the respondent's training likes minus that
    to the dislikes; the median feature vector stands in for an empty list (the seed's method).
    ``exclude_target`` removes the target image from the respondent's lists first. The median is
    over the first ``median_of`` rows of ``x`` (default: all), so rows appended for new images
    leave it unchanged. ``median``: that vector already computed (``unit_median``), for callers
    scoring several variants over the same ``x``."""
    xn = unit_rows(x)
    t = xn[test.i]
    counts = {sign: answer_counts(train, mask) for sign, mask in ((1.0, train.y == 1), (-1.0, train.y == 0))}
    n_all = {sign: np.asarray(a.sum(axis=1)).ravel() for sign, a in counts.items()}
    need_median = any((n == 0).any() for n in n_all.values()) or exclude_target
    if need_median and median is None:
        median = unit_median(x, median_of)
    if not exclude_target:
        # Cosine is linear in the second vector, so "mean similarity to the likes minus to the
        # dislikes" is one dot product with (mean like vector - mean dislike vector), the median
        # standing in for an empty list; both means come from one signed sparse product.
        signed = sum(sparse.diags(sign / np.maximum(n_all[sign], 1)) @ a for sign, a in counts.items())
        v = np.asarray(signed @ xn)
        for sign, n in n_all.items():
            if (n == 0).any():
                v[n == 0] += sign * median
        return np.einsum("ij,ij->i", t, v[test.r])
    out = np.zeros(len(test.r))
    for sign, a in counts.items():
        sums = np.asarray(a @ xn)[test.r]
        c = np.asarray(a[test.r, test.i]).ravel()
        n = n_all[sign][test.r] - c
        mean = np.einsum("ij,ij->i", t, sums - c[:, None] * t) / np.maximum(n, 1)
        out += sign * np.where(n > 0, mean, t @ median)
    return out


def seed_scores_reference(features: dict[str, np.ndarray], train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """The seed's per-pair loop, kept as the reference the vectorised version must reproduce."""
    from sklearn.metrics.pairwise import cosine_similarity

    dummy = np.median(np.stack(list(features.values())), axis=0).reshape(1, -1)
    scores = []
    for r, img in zip(test.R_id, test.jpg_name):
        mine = train[train.R_id == r]
        likes, dislikes = list(mine[mine.like == 1].jpg_name), list(mine[mine.like == 0].jpg_name)
        like_f = np.stack([features[n] for n in likes]) if likes else dummy
        dislike_f = np.stack([features[n] for n in dislikes]) if dislikes else dummy
        v = features[img].reshape(1, -1)
        scores.append(cosine_similarity(v, like_f).mean() - cosine_similarity(v, dislike_f).mean())
    return np.array(scores)


def youden_threshold(y: np.ndarray, scores: np.ndarray) -> float:
    """The threshold that maximises sensitivity + specificity (Youden's J), the first of equals."""
    fpr, tpr, thr = roc_points(y, scores)
    return float(thr[np.argmax(tpr - fpr)])


def _pairs(train: Encoded, test: Encoded):
    """Every (test answer, training answer of the same respondent) pair, as index arrays."""
    order = np.argsort(train.r, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(train.r, minlength=train.n_resp))])
    n = ptr[test.r + 1] - ptr[test.r]
    t_idx = np.repeat(np.arange(len(test.r)), n)
    offsets = np.arange(len(t_idx)) - np.repeat(np.cumsum(n) - n, n)
    j_idx = order[np.repeat(ptr[test.r], n) + offsets]
    return t_idx, j_idx


def kernel_like_rate(x: np.ndarray, train: Encoded, test: Encoded, tau: float = 0.1, prior: float = 0.4,
                     prior_weight: float = 1.0) -> np.ndarray:
    """Similarity-weighted like rate over the respondent's other training answers (the target image
    excluded), weights exp(cos/tau), shrunk towards ``prior``."""
    xn = unit_rows(x)
    t_idx, j_idx = _pairs(train, test)
    keep = train.i[j_idx] != test.i[t_idx]
    t_idx, j_idx = t_idx[keep], j_idx[keep]
    w = np.exp(((xn[test.i[t_idx]] * xn[train.i[j_idx]]).sum(axis=1) - 1) / tau)
    num = np.bincount(t_idx, weights=w * train.y[j_idx], minlength=len(test.r))
    den = np.bincount(t_idx, weights=w, minlength=len(test.r))
    return (num + prior_weight * prior * np.exp(-1 / tau)) / (den + prior_weight * np.exp(-1 / tau))


def _rate_without_target(key_train, key_test, n_keys, train: Encoded, test: Encoded, prior: float,
                         weight: float) -> np.ndarray:
    """Like rate of a group (a respondent, or an image) in training, without the answers about this
    (respondent, image) pair, shrunk towards ``prior`` with ``weight`` pseudo-answers."""
    likes = np.bincount(key_train, weights=train.y, minlength=n_keys)[key_test]
    n = np.bincount(key_train, minlength=n_keys)[key_test].astype(float)
    own = np.asarray(answer_counts(train, np.ones(len(train.r), bool))[test.r, test.i]).ravel()
    own_likes = np.asarray(answer_counts(train, train.y == 1)[test.r, test.i]).ravel()
    return (likes - own_likes + weight * prior) / (n - own + weight)


def respondent_rate(train: Encoded, test: Encoded, prior: float, weight: float = 2.0) -> np.ndarray:
    """The respondent's training like rate without the target image, shrunk towards ``prior``."""
    return _rate_without_target(train.r, test.r, train.n_resp, train, test, prior, weight)


def image_rate(train: Encoded, test: Encoded, prior: float, weight: float = 3.0) -> np.ndarray:
    """How often other respondents liked the target image in training, shrunk towards ``prior``."""
    return _rate_without_target(train.i, test.i, train.n_img, train, test, prior, weight)


def user_based_scores(train: Encoded, test: Encoded) -> np.ndarray:
    """User-based filtering: respondents similar to this one (cosine over their ±1 training answers)
    vote on the image. The respondent's own answers never vote, and the target image is taken out
    of the similarity (otherwise a repeated answer would leak through agreeing neighbours)."""
    ratings = sparse.csr_matrix((np.where(train.y == 1, 1.0, -1.0), (train.r, train.i)),
                                shape=(train.n_resp, train.n_img))
    ratings.sum_duplicates()
    ratings.data = np.sign(ratings.data)
    norms = np.sqrt(np.asarray(ratings.multiply(ratings).sum(axis=1)).ravel())
    rn = (sparse.diags(1 / np.maximum(norms, 1e-12)) @ ratings).tocsr()
    sim = (rn @ rn.T).tocsr()
    sim.setdiag(0)
    sim.eliminate_zeros()
    col = ratings[:, test.i].T.tocsr()  # each answer's image column: who rated it, how
    num = np.asarray(sim[test.r].multiply(col).sum(axis=1)).ravel()
    den = np.asarray(abs(sim[test.r]).multiply(abs(col)).sum(axis=1)).ravel()
    # Remove the target image's term from every similarity: sim(r,u) - rn[r,i]·rn[u,i].
    own = np.asarray(rn[test.r, test.i]).ravel()
    col_n = rn[:, test.i].T.tocsr()
    self_term = own * np.asarray(ratings[test.r, test.i]).ravel()
    num -= own * (np.asarray(col_n.multiply(col).sum(axis=1)).ravel() - self_term)
    return num / np.maximum(den, 1e-12)


def autoencode(x: np.ndarray, epochs: int = 200, seed: int = 42) -> np.ndarray:
    """The seed's autoencoder (512→128→64→128→512, sigmoid output) trained on all features; the
    64-d codes. Inputs are scaled to [0, 1] so the sigmoid output can reconstruct them."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    data = torch.tensor(x / max(float(x.max()), 1e-12), dtype=torch.float32)
    encoder = nn.Sequential(nn.Linear(x.shape[1], 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
    decoder = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, x.shape[1]), nn.Sigmoid())
    opt = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
    for _ in range(epochs):
        loss = nn.functional.mse_loss(decoder(encoder(data)), data)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return encoder(data).numpy().astype(np.float64)


def stacked_features(x: np.ndarray, train: Encoded, test: Encoded, prior: float,
                     seed_honest: np.ndarray, user_based: np.ndarray) -> np.ndarray:
    """Honest features of an answer: seed score (target excluded), similarity-weighted like rate,
    respondent like rate, image like rate among others, user-based score. The two scores that
    other methods report too are passed in, so they are computed once."""
    return np.column_stack([seed_honest, kernel_like_rate(x, train, test, prior=prior),
                            respondent_rate(train, test, prior), image_rate(train, test, prior), user_based])
