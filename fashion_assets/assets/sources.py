"""The raw folders as observable source assets: their data version is a fingerprint of the
listing, so any added, removed or edited file marks the tables built from them stale (and,
with automation on, re-materializes them). Which folders, and the listings raw_data_sensor
keeps for the runs it requests, are the data root's (resources.DataRootResource)."""

import dagster as dg

from ..core.common.fingerprint import fingerprint
from ..core.tables.scanning import RAW_SOURCES
from ..resources import DataRootResource
from .conventions import TABLES


def observe_raw(data_root: DataRootResource, source: str):
    """The fingerprint of one raw source's folders."""
    return fingerprint(data_root.raw_folders(source))


def _raw_source(name: str):
    folders = " and ".join(f"raw/{f}" for f in RAW_SOURCES[name].values())

    @dg.observable_source_asset(name=name, group_name=TABLES,
                                description=f"The folders {folders} (data version: a digest of their listing).")
    def _observe(data_root: DataRootResource) -> dg.ObserveResult:
        listing = observe_raw(data_root, name)
        return dg.ObserveResult(data_version=dg.DataVersion(listing.digest), metadata={"entries": listing.entries})

    return _observe


raw_images = _raw_source("raw_images")
raw_labels = _raw_source("raw_labels")
