"""The seed's tables (missions 1-1, 2-1, 2-2) as pure DataFrame transforms."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from .vocabulary import SEXES

# What makes two answers the same answer: everything in the JSON except the file it came in.
ANSWER_KEY = ["R_id", "jpg_name", "E_id", "Q1", "Q2", "Q3", "Q411", "Q412", "Q413", "Q414",
              *(f"Q42{k:02d}" for k in range(1, 17)), "Q5"]
LIKE, DISLIKE = 2, 1


def style_counts(images: pd.DataFrame) -> pd.DataFrame:
    """Images per (sex, style) in each split and combined: the seed's statistics table.

    Sorted as the seed prints it: women first, then by training count ascending.
    """
    counts = images.pivot_table(index=["sex", "style"], columns="split", values="file_name",
                                aggfunc="count", fill_value=0)
    counts = counts.reindex(columns=["Train", "Validation"], fill_value=0)
    counts.columns = ["train", "validation"]
    counts["total"] = counts.train + counts.validation
    counts = counts.reset_index()
    counts["sex_order"] = counts.sex.map({s: i for i, s in enumerate(SEXES)}).fillna(len(SEXES))
    counts = counts.sort_values(["sex_order", "train", "style"]).drop(columns="sex_order")
    return counts.reset_index(drop=True).astype({"train": "int64", "validation": "int64", "total": "int64"})


LEAKAGE_COLUMNS = ["kind", "split", "file_name", "other_file_name", "R_id", "jpg_name"]


def leakage_report(images: pd.DataFrame, valid: pd.DataFrame) -> pd.DataFrame:
    """Everything that ties validation to training, and duplicated or contradicting answers.

    kinds: ``image_same_name`` (validation file also in training; ``jpg_name`` says whether the
    content matches too), ``image_same_content`` (other name, identical bytes), ``repeated_answer``
    (validation answer = a training answer: same respondent, image and Q5), ``exact_duplicate``
    (a second file with an identical answer in the same split), ``contradicting_answer`` (the same
    respondent and image with both Q5 values, within a split or across).
    """
    parts = []
    train = images[images.split == "Train"]
    val = images[images.split == "Validation"]
    by_name = val.merge(train[["file_name", "sha1"]], on="file_name", suffixes=("", "_train"))
    parts.append(pd.DataFrame({
        "kind": "image_same_name", "split": "Validation", "file_name": by_name.file_name,
        "other_file_name": by_name.file_name,
        "jpg_name": by_name.sha1.eq(by_name.sha1_train).map({True: "same content", False: "other content"})}))
    first_by_hash = train.drop_duplicates("sha1").set_index("sha1").file_name
    by_content = val[val.sha1.isin(first_by_hash.index) & ~val.file_name.isin(train.file_name)]
    parts.append(pd.DataFrame({"kind": "image_same_content", "split": "Validation", "file_name": by_content.file_name,
                               "other_file_name": by_content.sha1.map(first_by_hash)}))

    v_train = valid[valid.split == "Train"]
    v_val = valid[valid.split == "Validation"]
    first_train = v_train.drop_duplicates(["R_id", "jpg_name", "Q5"])[["R_id", "jpg_name", "Q5", "file_name"]]
    rep = v_val.merge(first_train, on=["R_id", "jpg_name", "Q5"], suffixes=("", "_train"))
    parts.append(pd.DataFrame({"kind": "repeated_answer", "split": "Validation", "file_name": rep.file_name,
                               "other_file_name": rep.file_name_train, "R_id": rep.R_id, "jpg_name": rep.jpg_name}))

    for split, rows in valid.groupby("split"):
        dup = rows.duplicated(ANSWER_KEY, keep="first")
        firsts = rows[~dup].set_index(ANSWER_KEY).file_name
        d = rows[dup]
        other = [firsts.get(tuple(k)) for k in d[ANSWER_KEY].itertuples(index=False)]
        parts.append(pd.DataFrame({"kind": "exact_duplicate", "split": split, "file_name": d.file_name,
                                   "other_file_name": other, "R_id": d.R_id, "jpg_name": d.jpg_name}))

    # Contradictions: the same respondent and image with both Q5 values, first within a split,
    # then across splits for pairs not already reported within one.
    answers = valid.drop_duplicates(["split", "R_id", "jpg_name", "Q5"])
    within = answers[answers.groupby(["split", "R_id", "jpg_name"]).Q5.transform("nunique") > 1]
    reported = set(zip(within.R_id, within.jpg_name))
    across = answers.drop_duplicates(["R_id", "jpg_name", "Q5"])
    across = across[(across.groupby(["R_id", "jpg_name"]).Q5.transform("nunique") > 1)
                    & np.array([(r, j) not in reported for r, j in zip(across.R_id, across.jpg_name)], dtype=bool)]
    for scope, rows, keys in (("within", within, ["split", "R_id", "jpg_name"]), ("across", across, ["R_id", "jpg_name"])):
        for _, g in rows.sort_values(keys + ["Q5"]).groupby(keys):
            parts.append(pd.DataFrame({"kind": "contradicting_answer",
                                       "split": g.split.iloc[0] if scope == "within" else "Train/Validation",
                                       "file_name": [g.file_name.iloc[-1]], "other_file_name": [g.file_name.iloc[0]],
                                       "R_id": [g.R_id.iloc[0]], "jpg_name": [g.jpg_name.iloc[0]]}))
    report = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else pd.DataFrame()
    report = report.reindex(columns=LEAKAGE_COLUMNS)
    report["R_id"] = report.R_id.astype("Int64")
    return report


def leakage_counts(report: pd.DataFrame, images: pd.DataFrame) -> dict:
    kinds = report.kind.value_counts().to_dict()
    val_names = images.loc[images.split == "Validation", "file_name"]
    seen = set(report.loc[report.kind.isin(["image_same_name", "image_same_content"]), "file_name"])
    return {
        "validation_images": int(len(val_names)),
        "validation_images_in_training_by_name": int(kinds.get("image_same_name", 0)),
        "validation_images_in_training_by_content_only": int(kinds.get("image_same_content", 0)),
        "unseen_validation_images": int((~val_names.isin(seen)).sum()),
        "repeated_validation_answers": int(kinds.get("repeated_answer", 0)),
        "exact_duplicate_answers": {s: int(((report.kind == "exact_duplicate") & (report.split == s)).sum())
                                    for s in ("Train", "Validation")},
        "contradicting_answers": int(kinds.get("contradicting_answer", 0)),
    }


def user_preferences(valid: pd.DataFrame) -> pd.DataFrame:
    """Per respondent: liked and disliked image lists in training and validation (mission 2-2)."""
    lists = (valid.assign(col=valid.split.map({"Train": "train", "Validation": "validation"}) + "_"
                          + valid.Q5.map({LIKE: "liked", DISLIKE: "disliked"}))
             .sort_values("file_name")
             .groupby(["R_id", "col"]).jpg_name.agg(list).unstack("col"))
    cols = ["train_liked", "train_disliked", "validation_liked", "validation_disliked"]
    lists = lists.reindex(columns=cols)
    for c in cols:
        lists[c] = lists[c].map(lambda v: v if isinstance(v, list) else [])
    lists["answers"] = lists[cols].map(len).sum(axis=1).astype("int64")
    lists = lists.reset_index()
    lists["R_id"] = lists.R_id.astype("int64")
    return lists.sort_values(["answers", "R_id"], ascending=[False, True], ignore_index=True)


def top_respondents(prefs: pd.DataFrame, n: int = 100) -> pd.DataFrame:
    """The n respondents with the most answers (ties: lower R_id first)."""
    return prefs.sort_values(["answers", "R_id"], ascending=[False, True]).head(n).reset_index(drop=True)


def preference_report_html(top: pd.DataFrame, title: str = "Top respondents by answer count") -> str:
    """The seed's scrollable HTML table: one row per respondent, Training/Validation × liked/disliked."""
    head = ("<tr><th rowspan=2>R_id</th><th rowspan=2>answers</th><th colspan=2>Training</th>"
            "<th colspan=2>Validation</th></tr><tr><th>liked</th><th>disliked</th><th>liked</th><th>disliked</th></tr>")
    body = []
    for row in top.itertuples(index=False):
        cells = "".join(f"<td>{'<br>'.join(html.escape(x) for x in getattr(row, c))}</td>"
                        for c in ("train_liked", "train_disliked", "validation_liked", "validation_disliked"))
        body.append(f"<tr><th>{row.R_id}</th><td>{row.answers}</td>{cells}</tr>")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
.scroll {{ max-height: 600px; overflow: auto; border: 1px solid #ccc; }}
table {{ border-collapse: collapse; font-size: 12px; text-align: center; }}
th, td {{ border: 1px solid #ddd; padding: 4px; vertical-align: top; }}
thead th {{ position: sticky; top: 0; background: #f4f4f4; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(top)} respondents. Lists hold the image files each respondent rated (valid labels only).</p>
<div class="scroll"><table><thead>{head}</thead><tbody>
{chr(10).join(body)}
</tbody></table></div></body></html>
"""
