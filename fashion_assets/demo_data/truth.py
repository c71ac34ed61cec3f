"""Ground truth of a generated dataset, computed from the generator's plan (not from its files)."""

from __future__ import annotations

import dataclasses

import pandas as pd

from ..core.tables.vocabulary import class_label, normalise_style

ANSWER_COLUMNS = ("E_id", "Q1", "Q2", "Q3", "Q411", "Q412", "Q413", "Q414",
                  *(f"Q42{k:02d}" for k in range(1, 17)), "Q5")


def _class_of(jpg_name: str) -> str:
    parts = jpg_name[:-4].split("_")
    return class_label(normalise_style(parts[3]), parts[4])


def ground_truth(images: pd.DataFrame, labels: pd.DataFrame, faults: list[dict], config) -> dict:
    splits = ("Train", "Validation")
    names = {s: set(images.loc[images.split == s, "file_name"]) for s in splits}
    ids = {s: set(images.loc[images.split == s, "image_id"]) for s in splits}
    labels = labels.assign(image_id=labels.jpg_name.str[2:7].astype(int))
    valid = labels[[jpg in names[s] for s, jpg in zip(labels.split, labels.jpg_name)]]
    id_join = labels[[i in ids[s] for s, i in zip(labels.split, labels.image_id)]]
    v_train, v_val = valid[valid.split == "Train"], valid[valid.split == "Validation"]

    train_answers = set(zip(v_train.R_id, v_train.jpg_name, v_train.Q5))
    repeated = sum((r, j, q) in train_answers for r, j, q in zip(v_val.R_id, v_val.jpg_name, v_val.Q5))
    exact = {s: int(valid[valid.split == s].duplicated(["R_id", "jpg_name", *ANSWER_COLUMNS]).sum()) for s in splits}
    pairs = valid.groupby(["split", "R_id", "jpg_name"]).Q5.nunique()
    train_pictures = set(images.loc[images.split == "Train", "picture"])
    val_images = images[images.split == "Validation"]
    per_respondent = valid.groupby("R_id").size().reset_index(name="answers")
    top = per_respondent.sort_values(["answers", "R_id"], ascending=[False, True]).head(100)

    return {
        "config": dataclasses.asdict(config),
        "image_files": {s: int((images.split == s).sum()) for s in splits},
        "images_per_class": {s: images[images.split == s].class_label.value_counts().sort_index().to_dict() for s in splits},
        "label_files": {s: int((labels.split == s).sum()) for s in splits},
        "valid_labels": {s: int((valid.split == s).sum()) for s in splits},
        "valid_labels_id_join": {s: int((id_join.split == s).sum()) for s in splits},
        "valid_labels_per_class": {s: valid[valid.split == s].jpg_name.map(_class_of).value_counts().sort_index().to_dict() for s in splits},
        "respondents": int(valid.R_id.nunique()),
        "like_rate": float((valid.Q5 == 2).mean()),
        "leakage": {
            "validation_images_in_training_by_name": int(val_images.file_name.isin(names["Train"]).sum()),
            "validation_images_in_training_by_content": int(val_images.picture.isin(train_pictures).sum()),
            "validation_images_in_training_by_content_only": int((val_images.picture.isin(train_pictures) & ~val_images.file_name.isin(names["Train"])).sum()),
            "repeated_validation_answers": int(repeated),
            "exact_duplicate_answers": exact,
            "contradicting_answer_pairs": int((pairs > 1).sum()),
        },
        "top_respondents": [[int(r), int(n)] for r, n in zip(top.R_id, top.answers)],
        "faults": faults,
    }
