"""Stage 1-1 / 2-1 / 2-2: the image, label, valid-label, leakage and preference tables.

Tables go through the DuckDB I/O manager; the HTML report is a file under the data root.
"""

import time

import dagster as dg
import pandas as pd
from pydantic import Field

from ..core import tables
from ..core.scanning import scan_images, scan_labels
from ..core.vocabulary import CLASS_LABELS
from ..resources import DataRootResource
from .metadata import markdown, quarantine_check, table_metadata

GROUP = "tables"

@dg.multi_asset(
    outs={
        "image_table": dg.AssetOut(description="One row per image file of both splits: parsed name, size, content hash.",
                                   group_name=GROUP, kinds={"duckdb"}),
        "image_quarantine": dg.AssetOut(description="Image files that could not be used, each with the reason.",
                                        group_name=GROUP, kinds={"duckdb"}),
    },
)
def image_files(context: dg.AssetExecutionContext, data_root: DataRootResource):
    """Scan both image folders: parse every file name and JPEG header; bad files go to quarantine."""
    images, quarantine = scan_images(data_root.raw)
    context.log.info(f"{len(images)} images, {len(quarantine)} quarantined, from {data_root.raw}")
    per_split = images.groupby("split").size().to_dict()
    yield dg.Output(images, "image_table", metadata={**table_metadata(images), "per_split": per_split})
    yield dg.Output(quarantine, "image_quarantine", metadata=table_metadata(quarantine, preview_rows=50))

class LabelScanConfig(dg.Config):
    workers: int = Field(default=0, description="Parser processes; 0 = one per CPU core.")
    chunk_size: int = Field(default=4000, description="Files per work item handed to a parser process.")

@dg.multi_asset(
    outs={
        "label_table": dg.AssetOut(description="One row per survey JSON: name fields, respondent, every answer.",
                                   group_name=GROUP, kinds={"duckdb"}),
        "label_quarantine": dg.AssetOut(description="Label files that could not be parsed, each with the reason.",
                                        group_name=GROUP, kinds={"duckdb"}),
    },
)
def label_files(context: dg.AssetExecutionContext, config: LabelScanConfig, data_root: DataRootResource):
    """Parse every survey-label JSON of both splits in parallel; bad files go to quarantine."""
    start, last = time.perf_counter(), [0.0]

    def progress(done: int, total: int) -> None:
        elapsed = time.perf_counter() - start
        if done == total or elapsed - last[0] > 5:
            last[0] = elapsed
            rate = done / max(elapsed, 1e-9)
            context.log.info(f"labels parsed: {done}/{total} ({rate:,.0f} files/s, ETA {(total - done) / max(rate, 1e-9):.0f}s)")

    labels, quarantine = scan_labels(data_root.raw, workers=config.workers or None,
                                     chunk_size=config.chunk_size, progress=progress)
    elapsed = time.perf_counter() - start
    yield dg.Output(labels, "label_table", metadata={
        **table_metadata(labels), "files_per_second": dg.MetadataValue.float(round((len(labels) + len(quarantine)) / max(elapsed, 1e-9), 1)),
        "per_split": labels.groupby("split").size().to_dict()})
    yield dg.Output(quarantine, "label_quarantine", metadata=table_metadata(quarantine, preview_rows=50))

@dg.asset(group_name=GROUP, kinds={"duckdb"})
def style_counts(image_table: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Images per (sex, style) in training, validation and both: the seed's statistics table."""
    counts = tables.style_counts(image_table)
    return dg.Output(counts, metadata={**table_metadata(counts), "table": dg.MetadataValue.md(markdown(counts))})

@dg.asset(group_name=GROUP, kinds={"duckdb"})
def valid_labels(label_table: pd.DataFrame, image_table: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Labels whose image exists in the same split, joined on the full file name (not the ID alone)."""
    valid, stats = tables.valid_labels(label_table, image_table)
    per_class = tables.per_class_counts(valid)
    return dg.Output(valid, metadata={
        **table_metadata(valid),
        "valid_per_split": stats["full_name_join"],
        "seed_id_only_join_per_split": stats["id_only_join"],
        "label_files_per_split": stats["label_files"],
        "respondents": dg.MetadataValue.int(int(valid.R_id.nunique())),
        "like_rate": dg.MetadataValue.float(round(float((valid.Q5 == tables.LIKE).mean()), 4) if len(valid) else 0.0),
        "per_class": dg.MetadataValue.md(markdown(per_class)),
    })

@dg.asset(group_name=GROUP, kinds={"duckdb"})
def leakage_report(image_table: pd.DataFrame, valid_labels: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Validation images also in training (by name or content), repeated, duplicated and contradicting answers."""
    report = tables.leakage_report(image_table, valid_labels)
    counts = tables.leakage_counts(report, image_table)
    return dg.Output(report, metadata={**table_metadata(report), "counts": dg.MetadataValue.json(counts)})

@dg.asset(group_name=GROUP, kinds={"duckdb"})
def user_preferences(valid_labels: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Per respondent (R_id): liked and disliked images in training and in validation."""
    prefs = tables.user_preferences(valid_labels)
    return dg.Output(prefs, metadata={**table_metadata(prefs), "respondents": dg.MetadataValue.int(len(prefs))})

class PreferenceReportConfig(dg.Config):
    top_n: int = Field(default=100, description="How many respondents (most answers first) the report lists.")

@dg.asset(group_name=GROUP, kinds={"html"})
def preference_report(config: PreferenceReportConfig, data_root: DataRootResource,
                      user_preferences: pd.DataFrame) -> dg.MaterializeResult:
    """The top respondents by answer count as a scrollable HTML table under <data root>/reports."""
    top = tables.top_respondents(user_preferences, config.top_n)
    path = data_root.write_text_atomic(data_root.reports / "preference_report.html", tables.preference_report_html(top))
    preview = top.head(10).assign(**{c: top.head(10)[c].map(len) for c in
                                     ("train_liked", "train_disliked", "validation_liked", "validation_disliked")})
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)),
        "respondents": dg.MetadataValue.int(len(top)),
        "preview (list lengths)": dg.MetadataValue.md(markdown(preview)),
    })

# --- checks -------------------------------------------------------------------------------------

@dg.asset_check(asset="image_quarantine", description="No image file had to be quarantined (WARN lists them).")
def image_quarantine_empty(image_quarantine: pd.DataFrame) -> dg.AssetCheckResult:
    return quarantine_check(image_quarantine, "image")

@dg.asset_check(asset="label_quarantine", description="No label file had to be quarantined (WARN lists them).")
def label_quarantine_empty(label_quarantine: pd.DataFrame) -> dg.AssetCheckResult:
    return quarantine_check(label_quarantine, "label")

def _vocabulary_check(df: pd.DataFrame) -> dg.AssetCheckResult:
    unknown = df[~df.style_known]
    summary = unknown.groupby(["sex", "style_raw"]).size().reset_index(name="files")
    return dg.AssetCheckResult(
        passed=unknown.empty, severity=dg.AssetCheckSeverity.ERROR,
        description=("every (style, sex) is one of the 31 classes after spelling normalisation" if unknown.empty
                     else f"{len(unknown)} files have a style outside the 31 classes"),
        metadata={"unknown_files": dg.MetadataValue.int(len(unknown)),
                  "unknown_styles": dg.MetadataValue.md(markdown(summary)),
                  "examples": dg.MetadataValue.md(markdown(unknown[["split", "file_name"]].head(50))),
                  "misspellings_normalised": dg.MetadataValue.int(int((df["style"] != df["style_raw"]).sum())),
                  "known_classes_seen": dg.MetadataValue.int(int(df.loc[df.style_known, "class_label"].nunique())),
                  "classes_expected": dg.MetadataValue.int(len(CLASS_LABELS))})

@dg.asset_check(asset="image_table", description="Every image's (style, sex) is a known class after spelling normalisation.")
def image_table_style_vocabulary(image_table: pd.DataFrame) -> dg.AssetCheckResult:
    return _vocabulary_check(image_table)

@dg.asset_check(asset="label_table", description="Every label's (style, sex) is a known class after spelling normalisation.")
def label_table_style_vocabulary(label_table: pd.DataFrame) -> dg.AssetCheckResult:
    return _vocabulary_check(label_table)

@dg.asset_check(asset="leakage_report", additional_ins={"image_table": dg.AssetIn("image_table")},
                description="Validation shares no image or answer with training (WARN with counts).")
def leakage_report_split_leakage(image_table: pd.DataFrame, leakage_report: pd.DataFrame) -> dg.AssetCheckResult:
    counts = tables.leakage_counts(leakage_report, image_table)
    leaked = counts["validation_images_in_training_by_name"] + counts["validation_images_in_training_by_content_only"]
    return dg.AssetCheckResult(
        passed=leaked == 0 and counts["repeated_validation_answers"] == 0, severity=dg.AssetCheckSeverity.WARN,
        description=(f"{leaked} of {counts['validation_images']} validation images and "
                     f"{counts['repeated_validation_answers']} validation answers also occur in training; "
                     "report accuracy on the unseen part as well"),
        metadata={k: (dg.MetadataValue.json(v) if isinstance(v, dict) else dg.MetadataValue.int(v)) for k, v in counts.items()})

@dg.asset_check(asset="valid_labels", additional_ins={"image_table": dg.AssetIn("image_table")},
                description="Every class of every split has valid labels; coverage per split.")
def valid_labels_coverage(valid_labels: pd.DataFrame, image_table: pd.DataFrame) -> dg.AssetCheckResult:
    known = image_table[image_table.style_known]
    have = set(zip(valid_labels.split, valid_labels.class_label))
    missing = sorted(f"{c} ({s})" for s, c in set(zip(known.split, known.class_label)) if (s, c) not in have)
    labelled = set(zip(valid_labels.split, valid_labels.jpg_name))
    unlabelled = known[[(s, f) not in labelled for s, f in zip(known.split, known.file_name)]]
    coverage = {s: round(1 - float((unlabelled.split == s).sum()) / max(int((known.split == s).sum()), 1), 4)
                for s in ("Train", "Validation")}
    return dg.AssetCheckResult(
        passed=not missing, severity=dg.AssetCheckSeverity.WARN,
        description="every class has valid labels in both splits" if not missing else f"{len(missing)} class/split pairs have no valid label",
        metadata={"classes_without_labels": dg.MetadataValue.json(missing),
                  "share_of_images_with_a_label": dg.MetadataValue.json(coverage),
                  "images_without_labels": dg.MetadataValue.int(len(unlabelled))})

table_assets = [image_files, label_files, style_counts, valid_labels, leakage_report, user_preferences, preference_report]
table_checks = [image_quarantine_empty, label_quarantine_empty, image_table_style_vocabulary,
                label_table_style_vocabulary, leakage_report_split_leakage, valid_labels_coverage]
