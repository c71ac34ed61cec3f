"""Print the style-count table, a short summary of the tables and the latest check results.

``python -m fashion_assets.cli.summary`` reads the stored tables through the project's I/O manager
and the check results from the Dagster instance in $DAGSTER_HOME. ``--checks`` prints only the
latest check results (exit status 1 when an ERROR-severity check failed); ``--catalogue`` the
catalogue's two classifiers side by side (what `make catalogue` ends with).
"""

from __future__ import annotations

import sys

import dagster as dg
import pandas as pd

from ..core.registry import STYLE_MODEL
from ..core.classifier.evaluation import readable_comparison
from ..core.preferences.methods import readable
from ..definitions import defs


def latest_check_results(definitions: dg.Definitions, instance: dg.DagsterInstance) -> list[tuple[str, str, str]]:
    """(check, status, description) for every check, from the latest evaluation in the instance."""
    keys = list(definitions.resolve_asset_graph().asset_check_keys)
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    out = []
    for key in sorted(keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        record = records.get(key)
        evaluation = record.event.dagster_event.event_specific_data if record and record.event and record.event.dagster_event else None
        if evaluation is None or not hasattr(evaluation, "passed"):
            out.append((key.name, "not run" if record is None else record.status.value, ""))
            continue
        status = "PASS" if evaluation.passed else f"FAIL ({evaluation.severity.value})"
        out.append((key.name, status, evaluation.description or ""))
    return out


def print_checks(instance: dg.DagsterInstance) -> int:
    """Latest result of every check; returns how many failed with ERROR severity."""
    errors = 0
    print("Latest check results")
    for name, status, description in latest_check_results(defs, instance):
        print(f"  {status:<14} {name:<32} {description}")
        errors += status == "FAIL (ERROR)"
    return errors


CATALOGUE_MODELS = {"product_classifier": "ResNet-18, scratch", "product_transfer_classifier": "EfficientNet-Lite0, ImageNet"}


def catalogue_comparison(instance: dg.DagsterInstance) -> pd.DataFrame:
    """The latest training of each catalogue classifier: its level, test-split figures (scored
    once), the validation accuracy the champion rule compares, and whether it is the champion."""
    rows, champion = [], instance.get_latest_materialization_event(dg.AssetKey("product_champion"))
    chosen = (champion.asset_materialization.metadata.get("registered_model"),
              champion.asset_materialization.metadata.get("registered_version")) if champion else (None, None)
    chosen = tuple(getattr(v, "value", v) for v in chosen)
    for name, network in CATALOGUE_MODELS.items():
        record = instance.get_latest_materialization_event(dg.AssetKey(name))
        if not (record and record.asset_materialization):
            rows.append({"model": name, "network": network, "level": "not trained yet"})
            continue
        meta = record.asset_materialization.metadata
        s = meta["summary"].value
        rows.append({"model": name, "network": network, "level": s["level"], "classes": s["classes"],
                     "test accuracy": f"{s['accuracy']:.1%}", "majority": f"{s['majority_baseline']:.1%}",
                     "macro F1": f"{s['f1_macro']:.3f}", "validation": f"{s.get('validation_accuracy', float('nan')):.1%}",
                     "version": meta["registered_version"].value if "registered_version" in meta else "",
                     "champion": "yes" if chosen == (f"product_classifier_{s['level']}", meta["registered_version"].value
                                                     if "registered_version" in meta else None) else "no"})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--checks"]:
        with dg.DagsterInstance.get() as instance:
            return 1 if print_checks(instance) else 0
    if args == ["--catalogue"]:
        with dg.DagsterInstance.get() as instance:
            print("Catalogue classifiers, latest training of each (test split scored once; the champion: passed its "
                  "gate and\nno worse than the other on the validation split of the same products)\n")
            print(catalogue_comparison(instance).to_string(index=False))
        return 0
    counts = defs.load_asset_value("style_counts")
    images = defs.load_asset_value("image_table")
    valid = defs.load_asset_value("valid_labels")
    labels = defs.load_asset_value("label_table")
    leakage = defs.load_asset_value("leakage_report")
    img_q = defs.load_asset_value("image_quarantine")
    lab_q = defs.load_asset_value("label_quarantine")
    print("Images per sex & style (the seed's statistics table)\n")
    print(counts.to_string(index=False))
    per = lambda df: ", ".join(f"{s} {n:,}" for s, n in df.groupby("split").size().items())  # noqa: E731
    kinds = leakage.kind.value_counts()
    print("\nSummary")
    print(f"  images        {per(images)}  ({len(img_q)} quarantined)")
    print(f"  label files   {per(labels)}  ({len(lab_q)} quarantined)")
    print(f"  valid labels  {per(valid)}  from {valid.R_id.nunique():,} respondents, like rate {(valid.Q5 == 2).mean():.1%}")
    print(f"  leakage       {kinds.get('image_same_name', 0)} validation images also in training by name, "
          f"{kinds.get('image_same_content', 0)} more by content; {kinds.get('repeated_answer', 0)} repeated answers")
    with dg.DagsterInstance.get() as instance:
        record = instance.get_latest_materialization_event(dg.AssetKey("style_classifier"))
        if record and record.asset_materialization:
            c = record.asset_materialization.metadata["summary"].value
            seed = c.get("seed_protocol_validation_accuracy")
            print(f"  classifier    {c['validation_accuracy']:.1%} on all {c['validation_images']} validation images, "
                  f"{c['unseen_accuracy']:.1%} on the {c['unseen_images']} unseen ones (epoch {c['best_epoch']} chosen on a "
                  f"training holdout, {c['holdout_accuracy']:.1%}); seed protocol "
                  f"{'n/a' if seed is None else f'{seed:.1%}'}; {c['device']}")
            if "pooled" in c:
                p = c["pooled"]
                print(f"  pooled        {p['validation_accuracy']:.1%} on all, {p['unseen_accuracy']:.1%} on unseen: the "
                      f"network with the colour histograms (network weight {p['network_weight']}, chosen on the "
                      f"holdout), what new photos are classified with")
            meta = record.asset_materialization.metadata
            if "registered_version" in meta:
                champion = defs.resources["model_registry"].registry().champion(STYLE_MODEL)
                print(f"  registry      this training is version {meta['registered_version'].value} "
                      f"({meta['mlflow_run'].value}); champion: "
                      f"{'none' if champion is None else f'version {champion.version}'}  (make models, make mlflow)")
            compared = defs.load_asset_value("style_classifier").folder / "baselines.csv"
            if compared.exists():
                print("\nClassifier beside its baselines (same training images and holdout; 95% intervals, images "
                      "resampled)\n")
                print(readable_comparison(pd.read_csv(compared)).to_string(index=False))
        print()
        print_checks(instance)
        if instance.get_latest_materialization_event(dg.AssetKey("preference_metrics")):
            metrics = defs.load_asset_value("preference_metrics")
            print("\nPreference prediction on validation answers: all, and unseen (respondent never rated the image in "
                  "training);\n95% bootstrap intervals (respondents resampled); Brier score where a method gives a like "
                  "probability\n")
            if "accuracy_all_low" in metrics.columns:
                print(readable(metrics).to_string(index=False))
            else:  # stored by an older version: no intervals yet
                cols = ["method", "protocol", "accuracy_all", "roc_auc_all", "accuracy_unseen", "roc_auc_unseen"]
                print(metrics[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
