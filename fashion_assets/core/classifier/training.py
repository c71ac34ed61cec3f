"""ResNet-18 sex&style classifier: model, recipes, training, evaluation (the catalogue's
classifier may also be EfficientNet-Lite0, ``efficientnet_lite.py``).

Batches are made on the training device (training_batches: augmentation, sampling). Two recipes:
- ``seed``: the seed's choices (Adam 1e-3, cross-entropy, no scheduler, flip / rotation+shear /
  colour / random resized crop with white fill, class-balancing sampler);
- ``improved``: AdamW with a one-cycle schedule, label smoothing and test-time flip;
- ``transfer``: ``improved`` at half the peak learning rate, for fine-tuning pretrained weights
  (fixed before any catalogue run, never tuned on its splits).
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..common.atomic import atomic_path
from .inference import predict_logits
from .batches import augment, balanced_indices, normalise, random_erase, resident

RECIPES = {
    "seed": dict(optimizer="adam", lr=1e-3, weight_decay=0.0, schedule="constant", label_smoothing=0.0, tta_flip=False,
                 mixup=0.0, erase=0.0, colour_jitter=0.2),
    "improved": dict(optimizer="adamw", lr=2e-3, weight_decay=0.05, schedule="onecycle", label_smoothing=0.1, tta_flip=True,
                     mixup=0.0, erase=0.0, colour_jitter=0.2),
}
RECIPES["transfer"] = {**RECIPES["improved"], "lr": 1e-3}
ARCHITECTURES = {"resnet18": "torchvision.models.resnet18", "efficientnet_lite0": "efficientnet_lite0"}


@dataclass
class TrainConfig:
    recipe: str = "improved"
    architecture: str = "resnet18"  # a key of ARCHITECTURES
    epochs: int = 30
    batch_size: int = 64
    image_size: int = 224
    samples_per_epoch: int = 0  # 0 = one pass over the training images
    patience: int = 8  # early stopping on the holdout carved from training
    seed: int = 42
    overrides: dict = field(default_factory=dict)  # recipe fields to change, e.g. {"lr": 5e-4}
    # Speed on a CPU (a GPU always uses channels-last and float16 autocast):
    cpu_channels_last: bool = False  # NHWC memory layout for the convolutions
    cpu_bf16: bool = False  # bfloat16 autocast (needs a CPU with bf16 instructions, e.g. avx512_bf16)

    def recipe_settings(self) -> dict:
        if self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe!r}; valid: {sorted(RECIPES)}")
        unknown = set(self.overrides) - set(RECIPES[self.recipe])
        if unknown:
            raise ValueError(f"unknown recipe fields {sorted(unknown)}; valid: {sorted(RECIPES[self.recipe])}")
        return {**RECIPES[self.recipe], **self.overrides}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def pick_device(preference: str = "auto") -> torch.device:
    if preference != "auto":
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def build_model(num_classes: int, architecture: str = "resnet18") -> nn.Module:
    """torchvision ResNet-18 without pretrained weights, a num_classes head, Kaiming-uniform init
    of every conv and linear layer (the seed's ``weights_init_he``); or EfficientNet-Lite0 with
    its own initialisation (``architecture``)."""
    from torchvision.models import resnet18  # here, not at import: torchvision's import costs ~2 s

    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; valid: {', '.join(ARCHITECTURES)}")
    if architecture == "efficientnet_lite0":
        from .efficientnet_lite import EfficientNetLite0

        return EfficientNetLite0(num_classes)
    model = resnet18(weights=None)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    train_accuracy: float
    holdout_accuracy: float
    validation_accuracy: float | None  # recorded for the seed protocol only, never used to choose
    seconds: float
    images_per_second: float


def accuracy(logits: torch.Tensor, labels: np.ndarray) -> float:
    if len(labels) == 0:
        return float("nan")
    return float((logits.argmax(1).numpy() == labels).mean())


def save_atomic(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


@dataclass
class Optimisation:
    """What one training step needs besides the model and the batch: the optimiser, its schedule,
    the loss, the gradient scaler and the device's speed settings."""
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    scaler: torch.amp.GradScaler
    loss_fn: nn.Module
    recipe: dict
    channels_last: bool
    amp: dict | None
    steps: int  # optimiser steps per epoch


def optimisation(model: nn.Module, recipe: dict, cfg: TrainConfig, samples: int, device: torch.device) -> Optimisation:
    """The recipe's optimiser (no weight decay on biases and norms), schedule and loss."""
    params = [{"params": [p for n, p in model.named_parameters() if p.ndim > 1], "weight_decay": recipe["weight_decay"]},
              {"params": [p for n, p in model.named_parameters() if p.ndim <= 1], "weight_decay": 0.0}]
    opt = (torch.optim.AdamW(params, lr=recipe["lr"]) if recipe["optimizer"] == "adamw"
           else torch.optim.Adam(params, lr=recipe["lr"]))
    steps = max(1, (cfg.samples_per_epoch or samples) // cfg.batch_size)
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe["lr"], total_steps=steps * cfg.epochs, pct_start=0.2)
             if recipe["schedule"] == "onecycle" else None)
    return Optimisation(opt, sched, torch.amp.GradScaler("cuda", enabled=device.type == "cuda"),
                        nn.CrossEntropyLoss(label_smoothing=recipe["label_smoothing"]), recipe,
                        channels_last=device.type == "cuda" or cfg.cpu_channels_last,
                        amp={"dtype": torch.float16} if device.type == "cuda" else
                        {"dtype": torch.bfloat16} if cfg.cpu_bf16 else None, steps=steps)


def initial_model(class_names: list[str], init_state: dict | None, device: torch.device, channels_last: bool,
                  architecture: str = "resnet18") -> nn.Module:
    """A fresh network on ``device``; with ``init_state`` (transfer learning from a local
    weights file) everything but the classification head is loaded from it."""
    model = build_model(len(class_names), architecture)
    if init_state is not None:
        body = {k: v for k, v in init_state.items() if not k.startswith("fc.")}
        missing = model.load_state_dict(body, strict=False).missing_keys
        if set(missing) - {"fc.weight", "fc.bias"}:
            raise ValueError(f"weights do not fit {architecture}: missing {sorted(missing)[:5]}")
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def train_one_epoch(model: nn.Module, train_x: torch.Tensor, train_y: np.ndarray, o: Optimisation, batch_size: int,
                    mean: torch.Tensor, std: torch.Tensor, gen: torch.Generator,
                    device: torch.device) -> tuple[float, float, int]:
    """One epoch of class-balanced, augmented batches: (mean loss, training accuracy, samples)."""
    model.train()
    order = balanced_indices(train_y, o.steps * batch_size, gen)
    # Loss and hits accumulate on the device: reading them every step would stall the GPU.
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    labels_d = torch.as_tensor(train_y, device=device)
    for step in range(o.steps):
        idx = order[step * batch_size:(step + 1) * batch_size]
        idx_d = idx.to(train_x.device, non_blocking=True)
        xb = train_x[idx_d].to(device, non_blocking=True)
        yb = labels_d[idx_d.to(device)]
        x = augment(xb, gen, o.recipe["colour_jitter"])
        if o.recipe["erase"]:
            x = random_erase(x, o.recipe["erase"], gen)
        x = normalise(x, mean, std)
        lam, partner = mixup_pairs(len(idx), o.recipe["mixup"], gen)
        if partner is not None:  # mixup: a blend of two images, its loss the same blend of theirs
            partner = partner.to(device)
            x = lam * x + (1 - lam) * x[partner]
        if o.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, enabled=o.amp is not None, **(o.amp or {})):
            logits = model(x)
            loss = o.loss_fn(logits.float(), yb)
            if partner is not None:
                loss = lam * loss + (1 - lam) * o.loss_fn(logits.float(), yb[partner])
        o.optimizer.zero_grad(set_to_none=True)
        o.scaler.scale(loss).backward()
        o.scaler.step(o.optimizer)
        o.scaler.update()
        if o.scheduler:
            o.scheduler.step()
        total_loss += loss.detach() * len(idx)
        correct += (logits.argmax(1) == yb).sum()
        seen += len(idx)
    return float(total_loss) / seen, int(correct) / seen, seen  # one synchronisation per epoch


def evaluate(model: nn.Module, data: tuple[torch.Tensor, np.ndarray] | None, mean: torch.Tensor, std: torch.Tensor,
             device: torch.device, tta_flip: bool) -> float | None:
    """Top-1 accuracy on ``data`` (None when there is none to score)."""
    if data is None:
        return None
    return accuracy(predict_logits(model, data[0], mean, std, device, tta_flip=tta_flip), data[1])


def resumable(last_path: Path, fingerprint: str, resume: bool, log: Callable[[str], None]) -> dict | None:
    """The state of an interrupted run to continue, or None (the log says why training starts afresh)."""
    state = torch.load(last_path, map_location="cpu", weights_only=False) if last_path.exists() else None
    if state is None:
        log("training afresh: no interrupted run to resume")
    elif not resume:
        log(f"training afresh: resume is off (ignoring the interrupted run in {last_path})")
    elif state.get("fingerprint") != fingerprint:
        log(f"training afresh: the interrupted run in {last_path} had other inputs or settings")
    else:
        log(f"resuming from epoch {state['epoch']} ({last_path}): same inputs and settings")
        return state
    return None


def fit(train: tuple[torch.Tensor, np.ndarray], holdout: tuple[torch.Tensor, np.ndarray], class_names: list[str],
        mean: torch.Tensor, std: torch.Tensor, cfg: TrainConfig, device: torch.device, checkpoint_dir: Path,
        validation: tuple[torch.Tensor, np.ndarray] | None = None,
        log: Callable[[str], None] = print, resume: bool = True, init_state: dict | None = None,
        inputs_version: str = "") -> dict:
    """Train, choose the epoch on the holdout, keep ``best.pt``; ``last.pt`` holds the state of
    an unfinished run and is removed when training completes.

    Resume continues only an *interrupted* run on the same inputs and configuration:
    ``inputs_version`` (a content hash of the training images, labels and settings) and ``cfg``
    must match ``last.pt``; otherwise training starts afresh and the log says why.
    ``validation`` is scored every epoch only to report the seed's protocol (best epoch picked on
    validation); it never influences training or the chosen checkpoint.
    """
    recipe = cfg.recipe_settings()
    seed_everything(cfg.seed)
    train_x, train_y = train
    channels_last = device.type == "cuda" or cfg.cpu_channels_last
    model = initial_model(class_names, init_state, device, channels_last, cfg.architecture)
    o = optimisation(model, recipe, cfg, len(train_y), device)
    gen = torch.Generator().manual_seed(cfg.seed)
    history: list[dict] = []
    best = {"holdout_accuracy": -1.0, "epoch": 0}
    start_epoch = 1
    last_path, best_path = checkpoint_dir / "last.pt", checkpoint_dir / "best.pt"
    fingerprint = repr(sorted(asdict(cfg).items())) + f"|{inputs_version}|{len(train_y)}|{len(holdout[1])}"
    state = resumable(last_path, fingerprint, resume, log)
    if state is None:
        best_path.unlink(missing_ok=True)
    else:
        model.load_state_dict(state["state_dict"])
        o.optimizer.load_state_dict(state["optimizer"])
        if o.scheduler and state.get("scheduler"):
            o.scheduler.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        history, best, start_epoch = state["history"], state["best"], state["epoch"] + 1
    mean_d, std_d = mean.to(device), std.to(device)
    train_x = resident(train_x, device, log)
    stale = 0 if not history else history[-1]["epoch"] - best["epoch"]
    for epoch in range(start_epoch, cfg.epochs + 1):
        if stale >= cfg.patience:
            log(f"early stop: holdout accuracy has not improved for {cfg.patience} epochs")
            break
        t0 = time.perf_counter()
        loss, train_acc, seen = train_one_epoch(model, train_x, train_y, o, cfg.batch_size, mean_d, std_d, gen, device)
        secs = time.perf_counter() - t0
        hold_acc = evaluate(model, holdout, mean, std, device, recipe["tta_flip"])
        val_acc = evaluate(model, validation, mean, std, device, recipe["tta_flip"])
        rec = EpochRecord(epoch, loss, train_acc, hold_acc, val_acc, round(secs, 2), round(seen / secs, 1))
        history.append(asdict(rec))
        improved = hold_acc > best["holdout_accuracy"]
        if improved:
            best = {"holdout_accuracy": hold_acc, "epoch": epoch}
            save_atomic(checkpoint(model, class_names, mean, std, cfg, recipe, history, best), best_path)
        stale = epoch - best["epoch"]
        save_atomic({"state_dict": model.state_dict(), "optimizer": o.optimizer.state_dict(),
                     "scheduler": o.scheduler.state_dict() if o.scheduler else None, "generator": gen.get_state(),
                     "epoch": epoch, "history": history, "best": best, "fingerprint": fingerprint}, last_path)
        log(f"epoch {epoch}/{cfg.epochs}: loss {rec.train_loss:.3f}, train {rec.train_accuracy:.1%}, "
            f"holdout {hold_acc:.1%}{' *' if improved else ''}, {rec.images_per_second:.0f} img/s")
    last_path.unlink(missing_ok=True)  # finished: nothing to resume
    if not best_path.exists() or best["epoch"] == 0:
        raise RuntimeError("training produced no checkpoint (no epoch was run)")
    return {"history": history, "best": best, "best_path": best_path}


def mixup_pairs(n: int, alpha: float, gen: torch.Generator) -> tuple[float, torch.Tensor | None]:
    """Mixup's blend weight (Beta(alpha, alpha)) and each sample's partner; (1.0, None) when off."""
    if alpha <= 0:
        return 1.0, None
    a, b = (torch._standard_gamma(torch.full((1,), float(alpha)), generator=gen).item() for _ in range(2))
    return a / (a + b), torch.randperm(n, generator=gen)


def checkpoint(model, class_names, mean, std, cfg, recipe, history, best) -> dict:
    """Everything needed to use the model later; no pickled module."""
    return {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "class_names": list(class_names), "mean": mean.tolist(), "std": std.tolist(),
            "config": asdict(cfg), "recipe": recipe, "history": history, "best": best,
            "architecture": ARCHITECTURES[cfg.architecture]}


def classifier_settings(ckpt: dict) -> dict:
    """What a consumer of a checkpoint needs to use it: input size, classes, normalisation, recipe."""
    return {"image_size": ckpt["config"]["image_size"], "class_names": list(ckpt["class_names"]),
            "mean": list(ckpt["mean"]), "std": list(ckpt["std"]), "recipe": ckpt["config"]["recipe"],
            "tta_flip": bool(ckpt["recipe"]["tta_flip"]),
            # the network's share of the pooled classifier (1.0: a checkpoint without the colour expert)
            "network_weight": float(ckpt.get("colour_expert", {}).get("weight", 1.0))}


def load_classifier(path: Path, device: torch.device | None = None) -> tuple[nn.Module, dict]:
    """A fresh network of the checkpoint's architecture (ResNet-18 when it names none) with its
    weights, and the checkpoint dict."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    names = {v: k for k, v in ARCHITECTURES.items()}
    model = build_model(len(ckpt["class_names"]), names.get(ckpt.get("architecture"), "resnet18"))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device or torch.device("cpu")).eval(), ckpt
