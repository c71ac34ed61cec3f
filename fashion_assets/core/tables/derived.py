"""The seed's tables (missions 1-1, 2-1, 2-2) as pure DataFrame transforms."""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass

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


VALID_LABELS_SQL = ("SELECT * FROM {labels} l SEMI JOIN (SELECT DISTINCT split, file_name FROM {images}) i "
                    "ON l.split = i.split AND l.jpg_name = i.file_name ORDER BY l.split, l.file_name")
SPLITS = ["Train", "Validation"]


@dataclass
class ValidLabels:
    """valid_labels as a query over the stored tables, and the aggregates DuckDB computed over it."""
    sql: str
    version: str  # a hash of the schema and of every row
    rows: int
    schema: pd.DataFrame  # column_name, column_type
    preview: pd.DataFrame
    respondents: int
    like_rate: float
    per_split: dict  # valid rows, the seed's ID-only join and label files, per split
    per_class: pd.DataFrame  # sex, style, Train, Validation
    classes: pd.DataFrame  # the (split, class_label) pairs that have valid labels
    known: pd.DataFrame  # the (split, class_label) pairs of images with a known class
    coverage: pd.DataFrame  # per split: known images and those without a valid label


def summarise_valid_labels(conn, labels: str, images: str) -> ValidLabels:
    """Labels whose image exists in the same split, joined on the full file name (not the ID
    alone), built in DuckDB from the stored tables ``labels`` and ``images``: nothing is loaded
    into pandas but the aggregates."""
    sql = VALID_LABELS_SQL.format(labels=labels, images=images)
    conn.execute(f"CREATE TEMP TABLE valid AS {sql}")
    run = lambda query: conn.execute(query.format(images=images, labels=labels)).df()  # noqa: E731
    schema = run("DESCRIBE valid")
    rows, row_hash, respondents, likes = conn.execute(
        f"SELECT count(*), coalesce(sum(hash(v)), 0), count(DISTINCT R_id), avg((Q5 = {LIKE})::INT) "
        "FROM valid v").fetchall()[0]
    preview = run("SELECT * FROM valid LIMIT 10")
    valid_per_split = run("SELECT split, count(*) AS n FROM valid GROUP BY split")
    # The seed's join on the image ID alone (at most one match per label row, the keys being
    # distinct) and the files per split, over every label file.
    counts = run("SELECT l.split, count(*) AS label_files, count(i.image_id) AS id_only_join FROM {labels} l "
                 "LEFT JOIN (SELECT DISTINCT split, image_id FROM {images}) i "
                 "ON l.split = i.split AND l.image_id = i.image_id GROUP BY l.split")
    per_class = run("SELECT sex, style, split, count(file_name) AS n FROM valid GROUP BY ALL")
    classes = run("SELECT DISTINCT split, class_label, true AS labelled FROM valid")
    known = run("SELECT DISTINCT split, class_label FROM {images} WHERE style_known")
    coverage = run("SELECT i.split, count(*) AS known, count(*) FILTER (WHERE v.jpg_name IS NULL) AS unlabelled "
                   "FROM {images} i LEFT JOIN (SELECT DISTINCT split, jpg_name FROM valid) v "
                   "ON v.split = i.split AND v.jpg_name = i.file_name WHERE i.style_known GROUP BY i.split")
    conn.execute("DROP TABLE valid")
    columns = ",".join(f"{c}:{t}" for c, t in zip(schema.column_name, schema.column_type))
    version = hashlib.sha256(f"{columns}|{rows}|{row_hash}".encode()).hexdigest()[:20]
    per_class = (per_class.pivot_table(index=["sex", "style"], columns="split", values="n", aggfunc="sum", fill_value=0)
                 .reindex(columns=SPLITS, fill_value=0).reset_index())

    def per_split(frame: pd.DataFrame, column: str) -> dict:
        return frame.set_index("split")[column].reindex(SPLITS, fill_value=0).astype(int).to_dict()

    return ValidLabels(sql, version, int(rows), schema, preview, int(respondents),
                       round(float(likes), 4) if rows else 0.0,
                       {"valid_per_split": per_split(valid_per_split, "n"),
                        "seed_id_only_join_per_split": per_split(counts, "id_only_join"),
                        "label_files_per_split": per_split(counts, "label_files")},
                       per_class, classes, known, coverage)
