"""Classifier core on CPU: learns a separable toy set, checkpoints round-trip, training resumes."""

import numpy as np
import pytest
import torch
from torchvision.models import resnet18

from fashion_assets.core.classifier.training import TrainConfig, fit, load_classifier, mixup_pairs
from fashion_assets.core.classifier.inference import extract_features, infer, predict_logits
from fashion_assets.core.classifier.batches import augment
from fashion_assets.core.classifier.evaluation import per_class_report
from fashion_assets.core.classifier.data import channel_stats, holdout_split, training_plan

NAMES = ["a_W", "b_W", "c_M", "d_M"]


def toy_set(n_per_class=24, size=32, seed=0):
    """Four classes, each a figure of its own colour on white: trivially separable."""
    rng = np.random.default_rng(seed)
    colours = [(200, 30, 30), (30, 160, 40), (30, 60, 200), (20, 20, 20)]
    x = np.full((4 * n_per_class, 3, size, size), 255, np.uint8)
    y = np.repeat(np.arange(4), n_per_class)
    for i, k in enumerate(y):
        top, left = rng.integers(2, 8), rng.integers(6, 14)
        x[i, :, top:top + 22, left:left + 10] = np.array(colours[k])[:, None, None]
    return torch.from_numpy(x), y


@pytest.fixture(scope="module")
def toy():
    x, y = toy_set()
    tr, ho = holdout_split(y, 0.25, seed=0)
    mean, std = channel_stats(x[tr])
    return x, y, tr, ho, torch.tensor(mean), torch.tensor(std)


CFG = TrainConfig(recipe="improved", epochs=4, batch_size=16, image_size=32, samples_per_epoch=192, patience=10)


def test_learns_a_separable_toy_set_and_checkpoint_round_trips(toy, tmp_path):
    x, y, tr, ho, mean, std = toy
    result = fit((x[tr], y[tr]), (x[ho], y[ho]), NAMES, mean, std, CFG, torch.device("cpu"), tmp_path, log=lambda _: None)
    assert result["best"]["holdout_accuracy"] >= 0.75  # chance is 0.25
    model, ckpt = load_classifier(result["best_path"])
    assert ckpt["class_names"] == NAMES and len(ckpt["mean"]) == 3 and ckpt["config"]["recipe"] == "improved"
    # A plain torchvision model with the saved state_dict gives the same predictions.
    fresh = resnet18(weights=None, num_classes=len(NAMES))
    fresh.load_state_dict(ckpt["state_dict"])
    a = predict_logits(model, x[ho], mean, std, torch.device("cpu"))
    b = predict_logits(fresh, x[ho], mean, std, torch.device("cpu"))
    torch.testing.assert_close(a, b)
    assert (a.argmax(1).numpy() == y[ho]).mean() == pytest.approx(result["best"]["holdout_accuracy"], abs=0.3)


class Interrupted(Exception):
    pass


def stop_after_epoch(n: int):
    """A log callable that interrupts training right after epoch ``n`` was saved."""
    def log(msg):
        if msg.startswith(f"epoch {n}/"):
            raise Interrupted
    return log


def test_training_resumes_from_the_saved_epoch(toy, tmp_path):
    x, y, tr, ho, mean, std = toy
    cfg = TrainConfig(recipe="seed", epochs=3, batch_size=16, image_size=32, samples_per_epoch=64, patience=10)

    with pytest.raises(Interrupted):
        fit((x[tr], y[tr]), (x[ho], y[ho]), NAMES, mean, std, cfg, torch.device("cpu"), tmp_path, log=stop_after_epoch(2),
            inputs_version="data-A")
    messages = []
    result = fit((x[tr], y[tr]), (x[ho], y[ho]), NAMES, mean, std, cfg, torch.device("cpu"), tmp_path, log=messages.append,
                 inputs_version="data-A")
    assert messages[0].startswith("resuming from epoch 2")
    assert [h["epoch"] for h in result["history"]] == [1, 2, 3]
    assert sum(m.startswith("epoch ") for m in messages) == 1  # only epoch 3 was trained again
    # A finished run leaves nothing to resume: the next run trains every epoch and says why.
    messages = []
    fit((x[tr], y[tr]), (x[ho], y[ho]), NAMES, mean, std, cfg, torch.device("cpu"), tmp_path, log=messages.append,
        inputs_version="data-A")
    assert messages[0] == "training afresh: no interrupted run to resume"
    assert sum(m.startswith("epoch ") for m in messages) == 3


def test_an_interrupted_run_on_other_data_is_not_resumed(toy, tmp_path):
    x, y, tr, ho, mean, std = toy
    cfg = TrainConfig(recipe="seed", epochs=2, batch_size=16, image_size=32, samples_per_epoch=64, patience=10)

    with pytest.raises(Interrupted):
        fit((x[tr], y[tr]), (x[ho], y[ho]), NAMES, mean, std, cfg, torch.device("cpu"), tmp_path, log=stop_after_epoch(1),
            inputs_version="data-A")
    messages = []
    result = fit((x[tr], y[tr]), (x[ho], y[ho]), NAMES, mean, std, cfg, torch.device("cpu"), tmp_path,
                 log=messages.append, inputs_version="data-B")
    assert messages[0].startswith("training afresh: the interrupted run") and "other inputs or settings" in messages[0]
    assert [h["epoch"] for h in result["history"]] == [1, 2]
    assert not (tmp_path / "last.pt").exists()


def test_one_inference_pass_gives_logits_and_the_features_before_the_head(toy, tmp_path):
    x, y, tr, ho, mean, std = toy
    model = resnet18(weights=None, num_classes=len(NAMES)).eval()
    out = infer(model, x[:10], mean, std, torch.device("cpu"), batch_size=4, features=True)
    feats = extract_features(model, x[:10], mean, std, torch.device("cpu"))
    assert out["features"].shape == (10, 512) and feats.shape == (10, 512) and feats.dtype == np.float64
    # The head applied to the features gives the logits: the features are what fc sees.
    torch.testing.assert_close(model.fc(out["features"]), out["logits"], rtol=1e-4, atol=1e-4)
    assert isinstance(model.fc, torch.nn.Linear)  # the model itself was not modified


def test_unknown_recipe_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown recipe 'fast'; valid: \['improved', 'seed', 'transfer'\]"):
        TrainConfig(recipe="fast").recipe_settings()
    with pytest.raises(ValueError, match="unknown recipe fields"):
        TrainConfig(overrides={"learning_rate": 1}).recipe_settings()


def test_augmentation_fills_with_white_and_varies_per_sample():
    white = torch.full((8, 3, 32, 32), 255, dtype=torch.uint8)
    out = augment(white, torch.Generator().manual_seed(0))
    assert out.shape == (8, 3, 32, 32) and out.min() > 0.6  # brightness jitter only; no black fill
    x, _ = toy_set(2)
    a = augment(x[:1].repeat(6, 1, 1, 1), torch.Generator().manual_seed(1))
    assert not torch.allclose(a[0], a[1])


def test_per_class_report_covers_every_class():
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 1, 1, 1])
    unseen = np.array([True, False, True, True])
    report = per_class_report(y_true, y_pred, unseen, NAMES)
    assert list(report.class_label) == NAMES
    assert report.accuracy.iloc[0] == 0.5 and report.unseen_accuracy.iloc[1] == 1.0
    assert report.validation_images.iloc[2] == 0 and np.isnan(report.accuracy.iloc[2])


def test_training_plan_reproduces_the_seed_table():
    import pandas as pd

    from fashion_assets.core.tables.vocabulary import SEED_IMAGE_COUNTS
    labels = pd.Series([c for c, (n, _) in SEED_IMAGE_COUNTS.items() for _ in range(n)])
    plan = training_plan(labels, target=2000).set_index("class_label")
    assert plan.augmented_samples.sum() == 61_582  # the seed's "4,070 → 61,582"
    assert plan.loc["grunge_W", "multiplier"] == 64 and plan.loc["normcore_M", "multiplier"] == 4
    assert plan.loc["sportivecasual_M", "augmented_samples"] == 2086 and plan.loc["normcore_M", "augmented_samples"] == 1820
    assert list(plan.index) == sorted(plan.index)  # LabelEncoder order


def test_transfer_from_a_local_weights_file(toy, tmp_path):
    from torchvision.models import resnet18, resnet34

    x, y, tr, ho, mean, std = toy
    cfg = TrainConfig(recipe="seed", epochs=1, batch_size=16, image_size=32, samples_per_epoch=32, patience=10)
    donor = resnet18(weights=None, num_classes=1000).state_dict()  # a head of another size is ignored
    result = fit((x[tr], y[tr]), (x[ho], y[ho]), NAMES, mean, std, cfg, torch.device("cpu"), tmp_path / "a",
                 log=lambda _: None, init_state=donor)
    assert result["best"]["epoch"] == 1
    with pytest.raises(ValueError, match="do not fit resnet18"):
        fit((x[tr], y[tr]), (x[ho], y[ho]), NAMES, mean, std, cfg, torch.device("cpu"), tmp_path / "b",
            log=lambda _: None, init_state={"conv1.weight": resnet34().conv1.weight})


def test_cpu_speed_options_train_the_same_toy_set(toy, tmp_path):
    """Channels-last layout and bfloat16 autocast on the CPU still learn, and the checkpoint they
    write is an ordinary float32 ResNet-18 (inference needs neither option)."""
    x, y, tr, ho, mean, std = toy
    cfg = TrainConfig(**{**CFG.__dict__, "cpu_channels_last": True, "cpu_bf16": True})
    result = fit((x[tr], y[tr]), (x[ho], y[ho]), NAMES, mean, std, cfg, torch.device("cpu"), tmp_path, log=lambda _: None)
    assert result["best"]["holdout_accuracy"] >= 0.75
    model, ckpt = load_classifier(result["best_path"])
    assert all(v.dtype == torch.float32 for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert ckpt["config"]["cpu_bf16"] and ckpt["config"]["cpu_channels_last"]


def test_mixup_blends_pairs_and_still_learns_the_toy_set(toy, tmp_path):
    gen = torch.Generator().manual_seed(0)
    assert mixup_pairs(8, 0.0, gen) == (1.0, None)  # off: the loop is unchanged
    lam, partner = mixup_pairs(8, 0.4, gen)
    assert 0.0 <= lam <= 1.0 and sorted(partner.tolist()) == list(range(8))
    x, y, tr, ho, mean, std = toy
    cfg = TrainConfig(**{**CFG.__dict__, "overrides": {"mixup": 0.2}})
    result = fit((x[tr], y[tr]), (x[ho], y[ho]), NAMES, mean, std, cfg, torch.device("cpu"), tmp_path, log=lambda _: None)
    assert result["best"]["holdout_accuracy"] >= 0.75
    assert load_classifier(result["best_path"])[1]["recipe"]["mixup"] == 0.2


def test_random_erasing_replaces_one_rectangle_per_chosen_image_and_still_learns(toy, tmp_path):
    from fashion_assets.core.classifier.batches import random_erase

    x0 = torch.full((64, 3, 32, 32), 0.5)
    erased = random_erase(x0, 0.5, torch.Generator().manual_seed(0))
    changed = (erased != x0).any(dim=1)  # (N, H, W): pixels replaced in any channel
    hit = changed.flatten(1).any(dim=1)
    assert 16 < int(hit.sum()) < 48  # about half the images
    for k in torch.nonzero(hit).flatten().tolist():  # one rectangle: its bounding box is all replaced
        rows, cols = torch.nonzero(changed[k], as_tuple=True)
        box = changed[k, rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert box.float().mean() > 0.99 and 0.01 < box.numel() / (32 * 32) < 0.4
    assert torch.equal(random_erase(x0, 0.0, torch.Generator().manual_seed(0)), x0)  # p = 0: nothing erased
    x, y, tr, ho, mean, std = toy
    cfg = TrainConfig(**{**CFG.__dict__, "overrides": {"erase": 0.5}})
    result = fit((x[tr], y[tr]), (x[ho], y[ho]), NAMES, mean, std, cfg, torch.device("cpu"), tmp_path, log=lambda _: None)
    assert result["best"]["holdout_accuracy"] >= 0.75
    assert load_classifier(result["best_path"])[1]["recipe"]["erase"] == 0.5


def test_colour_jitter_zero_keeps_the_photographed_colours():
    from fashion_assets.core.classifier.batches import augment

    red = torch.zeros(8, 3, 32, 32, dtype=torch.uint8)
    red[:, 0] = 200  # a uniform dark red: geometry moves it, only the jitter changes its colour
    centre = (slice(None), slice(None), slice(12, 20), slice(12, 20))
    kept = augment(red, torch.Generator().manual_seed(0), colour_jitter=0.0)[centre]
    jittered = augment(red, torch.Generator().manual_seed(0))[centre]
    expected = torch.tensor([200 / 255, 0.0, 0.0])[None, :, None, None]
    assert torch.allclose(kept, expected.expand_as(kept), atol=1e-5)
    assert (jittered - expected).abs().amax() > 0.02
