"""The generator's survey plan: respondents, their tastes, and one row per survey-label file.

Label kinds (column ``kind``):
- ``valid``: an answer about an image that exists in the same split;
- ``repeat``: a validation answer that repeats a training answer (same respondent, image, Q5);
- ``exact_duplicate``: a second file with the same content as another answer of the split;
- ``contradiction``: a second answer by the same respondent about the same image, other Q5;
- ``collision``: an answer about a missing image whose 5-digit ID belongs to an existing image
  (counted by the seed's ID-only join, not by the full-name join);
- ``phantom``: an answer about an image that is not in the image folders at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.tables.vocabulary import CLASS_LABELS, SEED_TOTALS, SEED_VALID_LABELS_ID_JOIN, STYLE_ERA
from .looks import PATTERNS, luminance
from .wardrobe import USAGES
from .plan import ID_SPACE, image_name, largest_remainder

TARGET_LIKE_RATE = 0.40
ANSWERS_PER_MISSING_IMAGE = 4.3
N_STYLE_AXES = 5


def _quirk_count(seed_count: int, scale: float) -> int:
    """Quirks scale with the data but at least one is always planted, so tests can find it."""
    return max(1, round(seed_count * scale))


def plan_respondents(n_by_sex: dict[str, int], rng: np.random.Generator, photo: bool = False) -> pd.DataFrame:
    """Respondents with their user fields and latent tastes.

    Taste per respondent: a bias, an affinity per class driven by their self-described style axes
    (r_style1..5) plus individual noise, and preferences for bright colours, patterns and fit —
    or, in photo mode, for the usage, colour and article type of the product photos worn.
    """
    rows = []
    axes_loading = np.random.default_rng(12345).normal(0, 0.9, (N_STYLE_AXES, len(CLASS_LABELS)))
    next_id = int(rng.integers(10, 60))
    for sex, n in n_by_sex.items():
        for _ in range(n):
            next_id += int(rng.integers(1, 30))
            axes = rng.integers(1, 3, N_STYLE_AXES)
            affinity = (axes - 1.5) * 2 @ axes_loading + rng.normal(0, 0.9, len(CLASS_LABELS))
            rows.append(dict(
                R_id=next_id, sex=sex, r_gender=1 if sex == "M" else 2,
                age=int(rng.integers(1, 5)), mar=int(rng.integers(1, 3)),
                job=int(rng.integers(1, 7)), income=int(rng.integers(1, 7)),
                **{f"r_style{k + 1}": int(a) for k, a in enumerate(axes)},
                activity=float(rng.lognormal(0, 0.9)),
                bias=float(rng.normal(0, 0.7)),
                affinity=affinity,
                likes_bright=float(rng.normal(0, 2.0) + (axes[1] - 1.5) * 1.5),
                likes_pattern=rng.normal(0, 0.8, len(PATTERNS)),
                likes_fit=float(rng.normal(0, 1.2) + (axes[2] - 1.5)),
            ))
    resp = pd.DataFrame(rows)
    if photo:  # drawn after the others, so the drawn mode's respondents stay as they were
        usage_loading = np.random.default_rng(54321).normal(0, 0.8, (N_STYLE_AXES, len(USAGES)))
        axes = resp[[f"r_style{k + 1}" for k in range(N_STYLE_AXES)]].to_numpy() - 1.5
        resp["likes_usage"] = list(axes * 2 @ usage_loading + rng.normal(0, 0.8, (len(resp), len(USAGES))))
        resp["likes_colour"] = list(rng.normal(0, 0.9, (len(resp), len(TASTE_COLOURS) + 1)))
        resp["likes_article"] = list(rng.normal(0, 0.9, (len(resp), len(TASTE_ARTICLES) + 1)))
    return resp


TASTE_COLOURS = ("Black", "White", "Grey", "Blue", "Navy Blue", "Red", "Pink", "Green", "Brown", "Purple", "Yellow", "Beige")
TASTE_ARTICLES = ("Tshirts", "Shirts", "Tops", "Kurtas", "Dresses", "Jackets", "Sweatshirts", "Sweaters")


def _taste(resp: pd.DataFrame, column: str, index: np.ndarray) -> np.ndarray:
    return np.stack(resp[column].to_numpy())[np.arange(len(resp)), index]


def _group(values: pd.Series, names: tuple) -> np.ndarray:
    """Each value's index in ``names``; len(names) for any other value."""
    return values.map({n: i for i, n in enumerate(names)}).fillna(len(names)).to_numpy(dtype=int)


def like_logits(resp: pd.DataFrame, images: pd.DataFrame) -> np.ndarray:
    """Taste of each (respondent, image) row pair, before the global offset."""
    cls_idx = images["class_label"].map({c: i for i, c in enumerate(CLASS_LABELS)}).to_numpy()
    affinity = np.stack(resp["affinity"].to_numpy())[np.arange(len(resp)), cls_idx]
    if "top_usage" in images.columns:  # photo mode: tastes over what the product photos show
        return (resp["bias"].to_numpy() + affinity + _taste(resp, "likes_usage", _group(images.top_usage, USAGES))
                + _taste(resp, "likes_colour", _group(images.top_colour, TASTE_COLOURS))
                + _taste(resp, "likes_article", _group(images.top_article, TASTE_ARTICLES)))
    pat_idx = images["pattern"].map({p: i for i, p in enumerate(PATTERNS)}).to_numpy()
    bright = images["top_color"].map(luminance).to_numpy() - 0.5
    pattern = np.stack(resp["likes_pattern"].to_numpy())[np.arange(len(resp)), pat_idx]
    return (resp["bias"].to_numpy() + affinity + pattern
            + resp["likes_bright"].to_numpy() * bright
            + resp["likes_fit"].to_numpy() * (images["fit"].to_numpy() - 0.5))


def _offset_for_rate(logits: np.ndarray, rate: float) -> float:
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(logits + mid)))).mean() > rate:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def _assign_respondents(images: pd.DataFrame, answers_per_image: np.ndarray, resp: pd.DataFrame,
                        rng: np.random.Generator, taken: set) -> list[tuple[int, str]]:
    """Distinct same-sex respondents for each image, weighted by activity, skipping taken pairs."""
    out = []
    pools = {sex: grp for sex, grp in resp.groupby("sex")}
    for (_, img), k in zip(images.iterrows(), answers_per_image):
        pool = pools[img.sex]
        w = pool["activity"].to_numpy()
        ids = pool["R_id"].to_numpy()
        k = min(int(k), len(ids))
        picked = ids[rng.choice(len(ids), size=min(len(ids), k * 2 + 4), replace=False, p=w / w.sum())]
        chosen = [int(r) for r in picked if (int(r), img.file_name) not in taken][:k]
        for r in chosen:
            taken.add((r, img.file_name))
            out.append((r, img.file_name))
    return out


def plan_labels(images: pd.DataFrame, scale: float, rng: np.random.Generator):
    """Respondents and one row per label file. Returns (respondents, labels)."""
    T = SEED_TOTALS
    real = images.drop_duplicates(["split", "file_name"])
    train_imgs = real[real.split == "Train"]
    val_imgs = real[real.split == "Validation"]

    n_exact = {s: _quirk_count(T["exact_duplicate_answers"][s], scale) for s in ("Train", "Validation")}
    n_contra = _quirk_count(T["contradicting_answers"], scale)
    n_valid = {s: max(len(real[real.split == s]), round(T["valid_labels"][s] * scale)) for s in ("Train", "Validation")}
    n_repeat = round(T["repeated_validation_answers"] * scale)
    n_resp = max(4, round(T["respondents"] * scale))

    # Respondents of each sex in proportion to the answers about that sex's images.
    m_share = sum(v for c, v in SEED_VALID_LABELS_ID_JOIN.items() if c.endswith("_M")) / sum(SEED_VALID_LABELS_ID_JOIN.values())
    n_m = max(2, round(n_resp * m_share))
    resp = plan_respondents({"M": n_m, "W": max(2, n_resp - n_m)}, rng, photo="top_usage" in images.columns)

    # Training answers: per class as in the seed's table, spread over the class's images; images
    # that were copied into validation get more answers (the real copies are the popular ones).
    base_train = n_valid["Train"] - n_exact["Train"] - n_contra
    weights = {c: SEED_VALID_LABELS_ID_JOIN[c] for c in CLASS_LABELS}
    total_w = sum(weights.values())
    per_class = largest_remainder({c: base_train * w / total_w for c, w in weights.items()}, base_train)
    copied_names = set(images.loc[images.copy_of_train, "file_name"])
    taken: set = set()
    train_pairs = []
    for cls, n in per_class.items():
        imgs = train_imgs[train_imgs.class_label == cls]
        w = np.where(imgs.file_name.isin(copied_names), 2.0, 1.0)
        k = rng.multinomial(n, w / w.sum())
        train_pairs += _assign_respondents(imgs, k, resp, rng, taken)

    labels = pd.DataFrame(train_pairs, columns=["R_id", "jpg_name"]).assign(split="Train", kind="valid")

    # Validation: repeats of training answers about copied images, then new answers.
    on_copied = labels[labels.jpg_name.isin(copied_names)]
    n_repeat = min(n_repeat, len(on_copied))
    repeats = on_copied.iloc[rng.choice(len(on_copied), size=n_repeat, replace=False)]
    repeats = repeats.assign(split="Validation", kind="repeat", source=repeats.index)
    n_new_val = n_valid["Validation"] - n_repeat - n_exact["Validation"]
    w = np.where(val_imgs.file_name.isin(copied_names), 0.5, 1.5)
    val_pairs = _assign_respondents(val_imgs, rng.multinomial(n_new_val, w / w.sum()), resp, rng, taken)
    val_new = pd.DataFrame(val_pairs, columns=["R_id", "jpg_name"]).assign(split="Validation", kind="valid")
    labels = pd.concat([labels, repeats, val_new], ignore_index=True)
    labels = _ensure_every_respondent_answers(labels, resp, images, rng)

    # Q5 from the respondents' tastes about what each image shows.
    img_look = real.drop_duplicates("file_name").set_index("file_name")
    r_tab = resp.set_index("R_id")
    logits = like_logits(r_tab.loc[labels.R_id].reset_index(), img_look.loc[labels.jpg_name].reset_index())
    offset = _offset_for_rate(logits, TARGET_LIKE_RATE)
    labels["p_like"] = 1 / (1 + np.exp(-(logits + offset)))
    labels["Q5"] = np.where(rng.random(len(labels)) < labels.p_like, 2, 1)
    is_rep = labels.kind == "repeat"
    labels.loc[is_rep, "Q5"] = labels.loc[labels.loc[is_rep, "source"].astype(int), "Q5"].to_numpy()

    # Exact duplicates and the contradiction: second files about an existing answer.
    extra = []
    for split, n in n_exact.items():
        pool = labels[(labels.split == split) & (labels.kind == "valid")]
        picked = pool.iloc[rng.choice(len(pool), size=n, replace=False)]
        extra.append(picked.assign(kind="exact_duplicate", source=picked.index))
    pool = labels[(labels.split == "Train") & (labels.kind == "valid")]
    picked = pool.iloc[rng.choice(len(pool), size=n_contra, replace=False)]
    extra.append(picked.assign(kind="contradiction", source=picked.index, Q5=3 - picked.Q5))
    labels = pd.concat([labels, *extra], ignore_index=True)

    missing = _plan_missing_image_labels(images, resp, scale, labels, rng)
    labels = pd.concat([labels, missing], ignore_index=True)
    labels["survey_id"] = rng.choice(np.arange(1, max(250_000, 2 * len(labels))), size=len(labels), replace=False)
    labels["E_id"] = rng.choice(np.arange(100_000, 100_000 + 4 * len(labels)), size=len(labels), replace=False)
    # A repeat keeps its training file's survey ID half the time (the same file in both folders);
    # exact duplicates keep the E_id (identical content) under a new survey ID.
    for kind, keep_survey in (("repeat", 0.5), ("exact_duplicate", 0.0)):
        rows = labels.index[labels.kind == kind]
        src = labels.loc[rows, "source"].astype(int).to_numpy()
        labels.loc[rows, "E_id"] = labels.loc[src, "E_id"].to_numpy()
        same = rows[rng.random(len(rows)) < keep_survey]
        labels.loc[same, "survey_id"] = labels.loc[labels.loc[same, "source"].astype(int), "survey_id"].to_numpy()
    labels["file_name"] = labels.jpg_name.str[:-4] + "_" + labels.survey_id.map("{:06d}".format) + ".json"
    return resp, labels


def _ensure_every_respondent_answers(labels, resp, images, rng):
    """Hand one answer from a busy respondent to each respondent without any, so that the
    respondent count among valid labels is exactly the planned one. Repeated answers and their
    training sources are left alone (they must keep matching)."""
    counts = labels.R_id.value_counts()
    idle = [(r, s) for r, s in zip(resp.R_id, resp.sex) if counts.get(r, 0) == 0]
    if not idle:
        return labels
    sex_of = images.drop_duplicates("file_name").set_index("file_name").sex
    jpg_sex = labels.jpg_name.map(sex_of)
    movable = (labels.kind == "valid") & ~labels.index.isin(labels.get("source", pd.Series(dtype=float)).dropna().astype(int))
    taken = set(zip(labels.R_id, labels.jpg_name))
    for r, sex in idle:
        busy = labels.R_id.map(counts).fillna(0) > 2
        cand = labels.index[movable & busy & (jpg_sex == sex)]
        for idx in cand[rng.permutation(len(cand))[:50]]:
            if (r, labels.at[idx, "jpg_name"]) not in taken:
                counts[labels.at[idx, "R_id"]] -= 1
                labels.at[idx, "R_id"] = r
                counts[r] = 1
                taken.add((r, labels.at[idx, "jpg_name"]))
                break
    return labels


def _plan_missing_image_labels(images, resp, scale, labels, rng):
    """Labels about images that are not in the image folders: ID collisions and phantoms."""
    T = SEED_TOTALS
    out = []
    used_ids = set(images.image_id)
    free = np.setdiff1d(np.arange(ID_SPACE), np.fromiter(used_ids, int))
    names_taken = set(images.file_name)
    classes = list(CLASS_LABELS)
    resp_by_sex = {s: g.R_id.to_numpy() for s, g in resp.groupby("sex")}
    for split in ("Train", "Validation"):
        n_done = int((labels.split == split).sum())
        n_coll = round((T["valid_labels_id_join"][split] - T["valid_labels"][split]) * scale)
        n_total = max(round(T["label_files"][split] * scale), n_done + n_coll)
        n_phantom = n_total - n_done - n_coll
        split_imgs = images[images.split == split].drop_duplicates("file_name")
        for kind, n in (("collision", n_coll), ("phantom", n_phantom)):
            n_imgs = max(1, int(np.ceil(n / ANSWERS_PER_MISSING_IMAGE))) if n else 0
            cls = rng.choice(classes, size=n_imgs)
            if kind == "collision":
                ids = split_imgs.image_id.to_numpy()[rng.integers(len(split_imgs), size=n_imgs)]
            else:
                ids = free[rng.integers(len(free), size=n_imgs)]
            names = []
            for c, i in zip(cls, ids):
                style, sex = c.rsplit("_", 1)
                name = image_name("T" if rng.random() < 0.15 else "W", int(i), STYLE_ERA[style], style, sex)
                if name in names_taken:  # never a name that exists: it would be a valid label
                    name = image_name("T" if name[0] == "W" else "W", int(i), "10" if STYLE_ERA[style] != "10" else "90", style, sex)
                names.append(name)
            which = rng.integers(n_imgs, size=n) if n else np.zeros(0, int)
            jpg = np.array(names)[which] if n else np.array([], dtype=object)
            sexes = np.array([nm.rsplit("_", 1)[1][0] for nm in jpg])
            r_ids = np.empty(n, dtype=np.int64)
            for s in ("M", "W"):
                sel = sexes == s
                r_ids[sel] = rng.choice(resp_by_sex[s], size=int(sel.sum()))
            out.append(pd.DataFrame(dict(R_id=r_ids, jpg_name=jpg, split=split, kind=kind,
                                         Q5=np.where(rng.random(n) < TARGET_LIKE_RATE, 2, 1))))
    return pd.concat(out, ignore_index=True)


def survey_answers(q5: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The other answers about the image, drawn given Q5 (they are about the same image, so they
    correlate with it: Q1 agrees with Q5 96% of the time)."""
    n = len(q5)
    like = q5 == 2
    agree = rng.random(n) < 0.96
    high = np.where(like == agree, 1, 0)
    out = {"Q1": np.where(high == 1, rng.integers(3, 5, n), rng.integers(1, 3, n)),
           "Q2": rng.integers(1, 4, n),
           "Q3": np.where(rng.random(n) < 0.05, 0, rng.integers(1, 9, n)),  # 0 = not answered
           "Q411": rng.integers(1, 4, n)}
    for q in ("Q412", "Q413", "Q414"):
        out[q] = np.where(rng.random(n) < np.where(like, 0.6, 0.4), 1, 2)
    for k in range(1, 17):
        p = np.where(like, 0.22, 0.12) if k <= 6 else 0.12
        out[f"Q42{k:02d}"] = np.where(rng.random(n) < p, k, 0)
    out["Q5"] = q5
    return out
