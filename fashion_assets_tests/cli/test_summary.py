import dagster as dg

from fashion_assets.cli.summary import latest_check_results


def test_latest_check_results_come_from_the_instance(tables_run):
    defs, _ = tables_run
    with dg.DagsterInstance.ephemeral() as instance:
        before = dict((n, s) for n, s, _ in latest_check_results(defs, instance))
        assert set(before.values()) == {"not run"}
        defs.resolve_job_def("tables_job").execute_in_process(instance=instance)
        after = {n: s for n, s, _ in latest_check_results(defs, instance)}
    assert after["image_quarantine_empty"] == "FAIL (WARN)"  # the tiny dataset has planted faults
    assert after["image_table_style_vocabulary"] == "FAIL (ERROR)"
    assert after["valid_labels_coverage"] in ("PASS", "FAIL (WARN)")
    assert after["segmentation_outliers_white_ratio_iqr"] == "not run"  # not part of the tables job
