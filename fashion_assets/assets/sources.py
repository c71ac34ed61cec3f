"""The raw folders as observable source assets: their data version is a fingerprint of the
listing, so any added, removed or edited file marks the tables built from them stale (and,
with automation on, re-materializes them)."""

import dagster as dg

from ..core.common.fingerprint import Listing, fingerprint, load_listing, save_listing
from ..core.tables.scanning import IMAGE_FOLDERS, LABEL_FOLDERS
from ..resources import DataRootResource

GROUP = "tables"
RAW_FOLDERS = {"raw_images": IMAGE_FOLDERS, "raw_labels": LABEL_FOLDERS}
LISTING_TAG = "fashion_assets/listing"  # a run's tag: the data version whose listing the sensor kept
KEEP_LISTINGS = 4  # per source; a run starts seconds after the tick that kept its listing


def raw_folders(data_root: DataRootResource, source: str) -> list:
    """The folders of one raw source."""
    return [data_root.raw / f for f in RAW_FOLDERS[source].values()]


def observe_raw(data_root: DataRootResource, source: str):
    """The fingerprint of one raw source's folders."""
    return fingerprint(raw_folders(data_root, source))


def keep_listing(data_root: DataRootResource, source: str, listing: Listing) -> None:
    """Keep ``listing`` for the run about to be requested (and only the newest few)."""
    save_listing(listing, data_root.listings / f"{source}-{listing.digest}.npz")
    old = sorted(data_root.listings.glob(f"{source}-*.npz"), key=lambda p: p.stat().st_mtime_ns)[:-KEEP_LISTINGS]
    for path in old:
        path.unlink(missing_ok=True)


def kept_listing(data_root: DataRootResource, source: str, tags: dict) -> Listing | None:
    """The listing the sensor kept for this run (its tag names the data version), if still there."""
    digest = tags.get(LISTING_TAG)
    path = data_root.listings / f"{source}-{digest}.npz"
    return load_listing(path) if digest and path.exists() else None


def _raw_source(name: str):
    folders = " and ".join(f"raw/{f}" for f in RAW_FOLDERS[name].values())

    @dg.observable_source_asset(name=name, group_name=GROUP,
                                description=f"The folders {folders} (data version: a digest of their listing).")
    def _observe(data_root: DataRootResource) -> dg.ObserveResult:
        listing = observe_raw(data_root, name)
        return dg.ObserveResult(data_version=dg.DataVersion(listing.digest), metadata={"entries": listing.entries})

    return _observe


raw_images = _raw_source("raw_images")
raw_labels = _raw_source("raw_labels")
