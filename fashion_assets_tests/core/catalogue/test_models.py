"""The champion rule between the catalogue's classifiers: a version that passed the gate takes the
alias unless the champion did better on the same validation split."""

from fashion_assets.core.catalogue.models import champion_stays


def test_the_champion_stays_only_when_better_on_the_same_split():
    champion = {"split_version": "s1", "validation_accuracy": "0.850000", "architecture": "efficientnet_lite0"}
    assert champion_stays(None, "s1", 0.5) is None  # no champion yet
    why = champion_stays(champion, "s1", 0.80)
    assert why == "the champion (efficientnet_lite0) reached 85.0% on the same validation split, this version 80.0%"
    assert champion_stays(champion, "s1", 0.85) is None  # a tie goes to the newer version
    assert champion_stays(champion, "s1", 0.90) is None
    assert champion_stays(champion, "s2", 0.10) is None  # other products or labels: not comparable
    assert champion_stays({"split_version": "s1"}, "s1", 0.1) is None  # a version registered before the tag
