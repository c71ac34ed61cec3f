"""Stage 1-1 / 2-1 / 2-2: the image, label, valid-label, leakage and preference tables.

Tables go through the DuckDB I/O manager with a content data version (identical rows leave
downstream fresh); each check is declared on the asset it guards and emitted with it. Every
table follows its raw folders eagerly when automation is on (they are cheap).
"""

import dagster as dg
import pandas as pd
from pydantic import Field

from ..core.tables import derived as tables
from ..core.common.atomic import write_text
from ..core.tables.file_match import match_stored
from ..core.common.progress import Progress
from ..core.tables.scanning import label_changes, scan_images
from ..core.tables.vocabulary import CLASS_LABELS
from ..io_managers import QueryTable, StoredTable, TableChange, WarehouseResource
from ..resources import DataRootResource
from .conventions import EAGER, LISTING_TAG, TABLES, markdown, quarantine_check, table_metadata, table_output



def _spec(name: str, asset: str, description: str, blocking: bool = False) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, description=description, blocking=blocking)


def folder_scan(source: str, what: str, table_about: str, quarantine_about: str):
    """A scan of one raw source: its ``<what>_table``, its ``<what>_quarantine`` and their checks."""
    table, quarantine = f"{what}_table", f"{what}_quarantine"
    out = dict(group_name=TABLES, kinds={"duckdb"}, code_version="2", automation_condition=EAGER)
    return dg.multi_asset(
        outs={table: dg.AssetOut(description=table_about, **out), quarantine: dg.AssetOut(description=quarantine_about, **out)},
        deps=[source],
        check_specs=[_spec(f"{quarantine}_empty", quarantine, f"No {what} file had to be quarantined (WARN lists them)."),
                     _spec(f"{table}_style_vocabulary", table,
                           f"Every {what}'s (style, sex) is a known class after spelling normalisation.")])


@folder_scan("raw_images", "image", "One row per image file of both splits: parsed name, path, size, content hash.",
             "Image folder entries that could not be used, each with the reason.")
def image_files(context: dg.AssetExecutionContext, data_root: DataRootResource):
    """Scan both image folders: parse every file name and JPEG header; bad files go to quarantine."""
    images, quarantine = scan_images(data_root.raw)
    context.log.info(f"{len(images)} images, {len(quarantine)} quarantined, from {data_root.raw}")
    yield table_output(images, output_name="image_table", per_split=images.groupby("split").size().to_dict())
    yield table_output(quarantine, preview_rows=50, output_name="image_quarantine")
    yield quarantine_check(quarantine, "image", "image_quarantine")
    yield _vocabulary_check(images, "image_table")


class LabelScanConfig(dg.Config):
    workers: int = Field(default=0, ge=0, description="Parser processes; 0 = one per CPU core.")
    chunk_size: int = Field(default=4000, ge=1, description="Files per work item handed to a parser process.")
    full_reparse: bool = Field(default=False, description="Parse every file again instead of only new or changed "
                                                          "ones (name, size and mtime compared with the stored rows).")


@folder_scan("raw_labels", "label", "One row per survey JSON: name fields, respondent, every answer "
             "(stored by inserts and deletes: rows come in no particular order).",
             "Label folder entries that could not be parsed, each with the reason.")
def label_files(context: dg.AssetExecutionContext, config: LabelScanConfig, data_root: DataRootResource,
                warehouse: WarehouseResource):
    """Parse the survey-label JSON of both splits in parallel; bad files go to quarantine.
    Incremental: files whose name, size and mtime match the stored rows keep them, and the stored
    table is changed in place (new rows inserted, rows of changed or deleted files removed), not
    rewritten. Its data version is a hash of the file listing (name, size, mtime) it was parsed from.
    In a run raw_data_sensor requested, that listing is the one the sensor took (a file changed
    since is the next tick's change). The warehouse is not held while files are parsed: a run
    beside this one (another refresh, the daemon's) takes its turn on the file meanwhile."""
    progress: Progress | None = None

    def report(done: int, total: int) -> None:
        nonlocal progress
        progress = progress or Progress(total, "labels parsed", context.log.info, unit=" files/s", last_line=False)
        progress.update(done)

    def stored(files):  # the stored rows matched against the listing in DuckDB, where they are
        with warehouse.get_connection() as conn:
            return match_stored(conn, f"{warehouse.table_schema}.label_table", files)

    stored = None if config.full_reparse else stored
    stored_quarantine = None if config.full_reparse else warehouse.previous_rows("label_quarantine")
    listing = data_root.kept_listing("raw_labels", context.run.tags.get(LISTING_TAG))
    changes = label_changes(data_root.raw, stored, stored_quarantine, workers=config.workers or None,
                            chunk_size=config.chunk_size, progress=report, listing=listing)
    counts, quarantine = changes.counts, changes.quarantine
    context.log.info(f"{counts['parsed']} label files parsed, {counts['unchanged']} unchanged kept, "
                     f"{counts['rows_removed']} stored rows removed" + (" (full re-parse)" if config.full_reparse else "")
                     + f", {_listing_source(listing, context.run.tags)}")
    rate = counts["parsed"] / max(progress.seconds, 1e-9) if progress else 0.0
    # Rows per split: every regular file is a row unless it is quarantined (quarantined entries
    # that are not regular files, hidden or sub-folders, have no size and are not in the listing).
    bad = quarantine[quarantine.file_size.notna()].split.value_counts()
    per_split = changes.listing.split.value_counts().sub(bad, fill_value=0).astype(int).to_dict()
    change = TableChange(changes.added, changes.removed, key=("split", "file_name"), replace=counts["previous_rows"] == 0)
    # One open of the warehouse for both tables and the check (the I/O manager's connections share it).
    with warehouse.get_connection() as conn:
        yield dg.Output(change, "label_table", data_version=dg.DataVersion(changes.version),
                        metadata={**table_metadata(changes.added),  # schema and preview: of the rows added
                                  "files_per_second": dg.MetadataValue.float(round(rate, 1)), "per_split": per_split,
                                  "files": dg.MetadataValue.json(counts)})
        yield table_output(quarantine, preview_rows=50, output_name="label_quarantine")
        yield quarantine_check(quarantine, "label", "label_quarantine")
        # The table is committed once its output is yielded: the check asks DuckDB about all of it.
        table = f"{warehouse.table_schema}.label_table"
        unknown = conn.execute(f"SELECT split, file_name, sex, style_raw FROM {table} WHERE NOT style_known").df()
        misspelt, seen = conn.execute(f"SELECT count(*) FILTER (WHERE style IS DISTINCT FROM style_raw), count(DISTINCT "
                                      f"class_label) FILTER (WHERE style_known) FROM {table}").fetchall()[0]
    yield _vocabulary_result(unknown, int(misspelt), int(seen), "label_table")

@dg.asset(group_name=TABLES, kinds={"duckdb"}, code_version="2", automation_condition=EAGER)
def style_counts(image_table: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Images per (sex, style) in training, validation and both: the seed's statistics table."""
    counts = tables.style_counts(image_table)
    return table_output(counts, table=dg.MetadataValue.md(markdown(counts)))


@dg.asset(group_name=TABLES, kinds={"duckdb"}, code_version="2", automation_condition=EAGER,
          check_specs=[_spec("valid_labels_coverage", "valid_labels",
                             "Every class of every split has valid labels; coverage per split.")])
def valid_labels(label_table: StoredTable, image_table: StoredTable):
    """Labels whose image exists in the same split, joined on the full file name (not the ID alone).
    DuckDB builds it from the two stored tables: neither is loaded into pandas, and the rows are
    stored without passing through pandas. Its metadata, data version (a hash of every row) and coverage check are aggregates
    DuckDB computes over the result."""
    with label_table.connection() as conn:
        v = tables.summarise_valid_labels(conn, label_table.name, image_table.name)
    yield dg.Output(QueryTable(v.sql), data_version=dg.DataVersion(v.version), metadata={
        "dagster/row_count": dg.MetadataValue.int(v.rows),
        "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(name=str(c), type=str(t)) for c, t in
                                                         zip(v.schema.column_name, v.schema.column_type)]),
        "preview": dg.MetadataValue.md(markdown(v.preview)), **v.per_split,
        "respondents": dg.MetadataValue.int(v.respondents), "like_rate": dg.MetadataValue.float(v.like_rate),
        "per_class": dg.MetadataValue.md(markdown(v.per_class))})
    yield _coverage_check(v.known, v.classes, v.coverage)


@dg.asset(group_name=TABLES, kinds={"duckdb"}, code_version="2", automation_condition=EAGER,
          check_specs=[_spec("leakage_report_split_leakage", "leakage_report",
                             "Validation shares no image or answer with training (WARN with counts).")])
def leakage_report(image_table: pd.DataFrame, valid_labels: pd.DataFrame):
    """Validation images also in training (by name or content), repeated, duplicated and contradicting answers."""
    report = tables.leakage_report(image_table, valid_labels)
    counts = tables.leakage_counts(report, image_table)
    yield table_output(report, counts=dg.MetadataValue.json(counts))
    leaked = counts["validation_images_in_training_by_name"] + counts["validation_images_in_training_by_content_only"]
    yield dg.AssetCheckResult(
        check_name="leakage_report_split_leakage", passed=leaked == 0 and counts["repeated_validation_answers"] == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"{leaked} of {counts['validation_images']} validation images and "
                     f"{counts['repeated_validation_answers']} validation answers also occur in training; "
                     "report accuracy on the unseen part as well"),
        metadata={k: (dg.MetadataValue.json(v) if isinstance(v, dict) else dg.MetadataValue.int(v)) for k, v in counts.items()})


@dg.asset(group_name=TABLES, kinds={"duckdb"}, code_version="2", automation_condition=EAGER)
def user_preferences(valid_labels: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Per respondent (R_id): liked and disliked images in training and in validation."""
    prefs = tables.user_preferences(valid_labels)
    return table_output(prefs, respondents=dg.MetadataValue.int(len(prefs)))


class PreferenceReportConfig(dg.Config):
    top_n: int = Field(default=100, ge=1, description="How many respondents (most answers first) the report lists.")


@dg.asset(group_name=TABLES, kinds={"html"}, code_version="2", automation_condition=EAGER)
def preference_report(config: PreferenceReportConfig, data_root: DataRootResource,
                      user_preferences: pd.DataFrame) -> dg.MaterializeResult:
    """The top respondents by answer count as a scrollable HTML table under <data root>/reports."""
    top = tables.top_respondents(user_preferences, config.top_n)
    path = write_text(data_root.reports / "preference_report.html", tables.preference_report_html(top))
    preview = top.head(10).assign(**{c: top.head(10)[c].map(len) for c in
                                     ("train_liked", "train_disliked", "validation_liked", "validation_disliked")})
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)),
        "respondents": dg.MetadataValue.int(len(top)),
        "preview (list lengths)": dg.MetadataValue.md(markdown(preview)),
    })


def _listing_source(listing, tags: dict) -> str:
    """Where the parsed listing came from, for the log."""
    if listing is not None:
        return (f"from the listing raw_data_sensor took (data version {listing.digest[:12]}, {listing.entries} "
                "entries: the folders were not listed again)")
    if LISTING_TAG in tags:
        return "from a listing taken now (the one raw_data_sensor kept for this run was replaced by newer ones)"
    return "from a listing taken now"


def _vocabulary_check(df: pd.DataFrame, asset: str) -> dg.AssetCheckResult:
    return _vocabulary_result(df[~df.style_known], int((df["style"] != df["style_raw"]).sum()),
                              int(df.loc[df.style_known, "class_label"].nunique()), asset)


def _vocabulary_result(unknown: pd.DataFrame, misspelt: int, seen: int, asset: str) -> dg.AssetCheckResult:
    """``unknown``: rows (split, file_name, sex, style_raw) whose style is none of the classes;
    ``misspelt``: rows whose style was normalised; ``seen``: known classes present."""
    summary = unknown.groupby(["sex", "style_raw"]).size().reset_index(name="files")
    return dg.AssetCheckResult(
        asset_key=asset, check_name=f"{asset}_style_vocabulary", passed=unknown.empty, severity=dg.AssetCheckSeverity.ERROR,
        description=("every (style, sex) is one of the 31 classes after spelling normalisation" if unknown.empty
                     else f"{len(unknown)} files have a style outside the 31 classes"),
        metadata={"unknown_files": dg.MetadataValue.int(len(unknown)),
                  "unknown_styles": dg.MetadataValue.md(markdown(summary)),
                  "examples": dg.MetadataValue.md(markdown(unknown[["split", "file_name"]].head(50))),
                  "misspellings_normalised": dg.MetadataValue.int(misspelt),
                  "known_classes_seen": dg.MetadataValue.int(seen),
                  "classes_expected": dg.MetadataValue.int(len(CLASS_LABELS))})


def _coverage_check(known: pd.DataFrame, labelled: pd.DataFrame, per_split: pd.DataFrame) -> dg.AssetCheckResult:
    """``known``: the (split, class_label) pairs of images with a known class; ``labelled``: the
    pairs that have valid labels; ``per_split``: known images and those without a valid label."""
    have = set(zip(labelled.split, labelled.class_label))
    missing = sorted(f"{c} ({s})" for s, c in zip(known.split, known.class_label) if (s, c) not in have)
    per_split = per_split.set_index("split")
    coverage = {s: round(1 - float(per_split.unlabelled.get(s, 0)) / max(int(per_split.known.get(s, 0)), 1), 4)
                for s in ("Train", "Validation")}
    return dg.AssetCheckResult(
        check_name="valid_labels_coverage", passed=not missing, severity=dg.AssetCheckSeverity.WARN,
        description="every class has valid labels in both splits" if not missing else f"{len(missing)} class/split pairs have no valid label",
        metadata={"classes_without_labels": dg.MetadataValue.json(missing),
                  "share_of_images_with_a_label": dg.MetadataValue.json(coverage),
                  "images_without_labels": dg.MetadataValue.int(int(per_split.unlabelled.sum()))})
