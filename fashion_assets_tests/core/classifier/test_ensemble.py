import json

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fashion_assets.core.classifier.ensemble import FLOOR, ColourExpert, choose_weight, log_softmax, pool


def test_the_colour_expert_as_arrays_gives_scikit_learns_probabilities_and_survives_json():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(120, 7)), rng.choice([0, 2, 3], 120)  # class 1 (and 4) never seen
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=500)).fit(x, y)
    expert = ColourExpert.from_pipeline(pipeline, n_classes=5)
    test = rng.normal(size=(30, 7))
    got = expert.log_proba(test)
    np.testing.assert_allclose(got[:, [0, 2, 3]], pipeline.predict_log_proba(test), atol=1e-9)
    assert (got[:, [1, 4]] == FLOOR).all()
    again = ColourExpert.from_dict(json.loads(json.dumps(expert.to_dict())))
    np.testing.assert_allclose(again.log_proba(test), got, atol=0)


def draw(rng, n):
    """Four classes; the 'network' sees only which pair (0-1 or 2-3) an image is in, the 'colour
    model' only which member of the pair: each alone is right about half the time."""
    y = rng.integers(0, 4, n)
    pair, member = y // 2, y % 2
    net = np.where(np.arange(4) // 2 == pair[:, None], 2.0, -2.0) + rng.normal(0, 0.5, (n, 4))
    col = np.where(np.arange(4) % 2 == member[:, None], 1.5, -1.5) + rng.normal(0, 0.5, (n, 4))
    return net, log_softmax(col), y


def test_pooling_combines_what_each_model_knows_with_the_weight_chosen_on_the_holdout():
    rng = np.random.default_rng(1)
    holdout, test = draw(rng, 300), draw(rng, 2000)
    weight, losses = choose_weight(*holdout)
    assert 0 < weight < 1 and losses[weight] == min(losses.values())
    net, col, y = test
    accuracy = {name: (scores.argmax(1) == y).mean() for name, scores in
                (("network", net), ("colour", col), ("pooled", pool(net, col, weight)))}
    assert accuracy["network"] < 0.6 and accuracy["colour"] < 0.6 and accuracy["pooled"] > 0.9


def test_a_useless_colour_model_gets_no_weight_and_no_holdout_means_the_network_alone():
    rng = np.random.default_rng(2)
    net, _, y = draw(rng, 300)
    y = net.argmax(1)  # the network is right; the colour model below is noise
    weight, _ = choose_weight(net * 3, log_softmax(rng.normal(0, 2, (300, 4))), y)
    assert weight == 1.0
    np.testing.assert_allclose(pool(net, np.zeros_like(net), 1.0), log_softmax(net))
    assert choose_weight(net[:0], net[:0], y[:0]) == (1.0, {})
