import numpy as np

from fashion_assets.core.classifier.evaluation import comparison_table, readable_comparison


def test_a_lead_shown_by_the_paired_interval_though_the_accuracies_overlap():
    """Model A is right wherever B is, and on 6% more of the images: the two accuracies' own
    intervals overlap, but the paired interval of A's lead (same resampled images) excludes 0
    and covers the true lead."""
    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, 5, n)
    b_right = rng.random(n) < 0.30
    a_right = b_right | (np.arange(n) % 16 == 0) & ~b_right  # ~6% more, never fewer
    wrong = (y + 1) % 5
    unseen = np.arange(n) % 2 == 0
    table = comparison_table(y, unseen, {"a": (0.4, np.where(a_right, y, wrong)), "b": (0.3, np.where(b_right, y, wrong))})
    a, b = table.iloc[0], table.iloc[1]
    assert a.validation_low < b.validation_high  # the accuracies' intervals overlap
    lead = float(a_right.mean() - b_right.mean())
    assert abs(b.validation_lead - lead) < 1e-6
    assert 0 < b.validation_lead_low <= lead <= b.validation_lead_high
    assert np.isnan(a.validation_lead)  # the first model has no lead over itself
    shown = readable_comparison(table)
    assert shown.iloc[1, -1].startswith("+") and shown.iloc[0, -1] == "-"


def test_a_lead_that_is_noise_has_an_interval_across_zero():
    rng = np.random.default_rng(1)
    n = 400
    y = rng.integers(0, 5, n)
    a_right, b_right = rng.random(n) < 0.25, rng.random(n) < 0.25  # independent, equally good
    wrong = (y + 1) % 5
    table = comparison_table(y, np.ones(n, bool), {"a": (0.2, np.where(a_right, y, wrong)),
                                                    "b": (0.2, np.where(b_right, y, wrong))})
    assert table.iloc[1].unseen_lead_low < 0 < table.iloc[1].unseen_lead_high
