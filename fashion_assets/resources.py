"""Resources: where the data lives (the data root), the segmentation models, the torch device, the catalogue."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

DATA_ROOT_ENV = "FASHION_ASSETS_DATA_ROOT"
DEFAULT_DATA_ROOT = "data"
CATALOGUE_ENV = "FASHION_ASSETS_CATALOGUE"
KEEP_LISTINGS = 4  # per raw source; a run starts seconds after the tick that kept its listing


class DataRootResource(dg.ConfigurableResource):
    """The data root: raw inputs under ``raw/`` (SPEC §1 layout), derived files beside them."""

    root: str = Field(default=DEFAULT_DATA_ROOT, description="Data root folder; raw inputs are under <root>/raw.")

    @property
    def path(self) -> Path:
        return Path(self.root).expanduser().resolve()

    @property
    def raw(self) -> Path:
        return self.path / "raw"

    @property
    def incoming(self) -> Path:
        """New photos to predict for: one sub-folder per arrival batch (loose files are filed into one)."""
        return self.path / "incoming"

    @property
    def reports(self) -> Path:
        return self.path / "reports"

    @property
    def artifacts(self) -> Path:
        """The artifact store (image sets, checkpoints, feature matrices), owned by io_managers."""
        return self.path / "artifacts"

    @property
    def listings(self) -> Path:
        """Raw folder listings raw_data_sensor took, handed to the run it requests (not listed twice)."""
        return self.path / "listings"

    @property
    def mlflow(self) -> Path:
        """MLflow's local store: tracked training runs and the model registry."""
        return self.path / "mlflow"

    def raw_folders(self, source: str) -> list[Path]:
        """The folders of one raw source (``raw_images`` or ``raw_labels``)."""
        from .core.tables.scanning import RAW_SOURCES

        return [self.raw / f for f in RAW_SOURCES[source].values()]

    def keep_listing(self, source: str, listing) -> None:
        """Keep ``listing`` for the run about to be requested (and only the newest few)."""
        from .core.common.fingerprint import save_listing

        save_listing(listing, self.listings / f"{source}-{listing.digest}.npz")
        old = sorted(self.listings.glob(f"{source}-*.npz"), key=lambda p: p.stat().st_mtime_ns)[:-KEEP_LISTINGS]
        for path in old:
            path.unlink(missing_ok=True)

    def kept_listing(self, source: str, digest: str | None):
        """The listing the sensor kept for a run (its tag names the data version ``digest``), if still there."""
        from .core.common.fingerprint import load_listing

        path = self.listings / f"{source}-{digest}.npz"
        return load_listing(path) if digest and path.exists() else None


def catalogue_root_from_env() -> str | None:
    """The product catalogue folder, when set (default: <data root>/catalogue)."""
    return os.environ.get(CATALOGUE_ENV)


def data_root_from_env() -> str:
    """The one place the environment chooses the data root (default: ./data)."""
    return os.environ.get(DATA_ROOT_ENV, DEFAULT_DATA_ROOT)


class SegmentationResource(dg.ConfigurableResource):
    """Which background-removal models to use and where their files are (never downloaded)."""

    model_home: str | None = Field(
        default=None, description="rembg home folder holding models/<name>/<name>.onnx or <name>.onnx; "
                                  "unset = rembg's default (U2NET_HOME, REMBG_HOME or ~/.rembg).")
    primary_model: str = Field(default="u2net_human_seg", description="First-pass rembg model.")
    fallback_model: str | None = Field(default="u2netp", description="First-pass rembg model when the primary's file "
                                                                     "is absent (then GrabCut); empty = none.")
    secondary_model: str | None = Field(default="birefnet-portrait",
                                        description="Stronger rembg model for white-ratio outliers; empty = none.")
    max_side: int = Field(default=1024, description="Segmented images are written at most this large (0 = original); "
                                                    "the crop needs no more.")

    def settings(self):
        """The segmenter's settings as core/images/segmentation takes them."""
        from .core.images.segmentation import SegmentationSettings

        return SegmentationSettings(primary=self.primary_model, secondary=self.secondary_model or None,
                                    fallback=self.fallback_model or None, model_home=self.model_home,
                                    max_side=self.max_side)


class TorchDeviceResource(dg.ConfigurableResource):
    """Which device trains and extracts features: ``auto`` picks CUDA, then MPS, then CPU."""

    device: str = Field(default="auto", description="auto, cpu, cuda, cuda:1, mps ...")

    def torch_device(self):
        from .core.classifier.training import pick_device

        return pick_device(self.device)


class CatalogueResource(dg.ConfigurableResource):
    """Where the product catalogue is: ``images/{id}.jpg`` and ``styles.csv`` (read only)."""

    root: str = Field(default="data/catalogue", description="Folder holding images/ and styles.csv "
                                                            "(e.g. ../shared/datasets/fashion-products).")

    @property
    def styles_csv(self) -> Path:
        return Path(self.root).expanduser().resolve() / "styles.csv"

    @property
    def images(self) -> Path:
        return Path(self.root).expanduser().resolve() / "images"


class ModelRegistryResource(dg.ConfigurableResource):
    """MLflow experiment tracking and model registry: artifacts under the data root; the store
    there too (SQLite, no server) or on the cluster mode's database server."""

    root: str = Field(description="MLflow's folder, <data root>/mlflow (artifacts; the SQLite store when no tracking_uri).")
    tracking_uri: str | None = Field(default=None, description="MLflow's database store (postgresql://…); "
                                                               "unset = SQLite under root.")

    def registry(self):
        from .core.registry import Registry

        return Registry(Path(self.root), self.tracking_uri or None)
