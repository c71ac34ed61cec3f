"""Jobs: one per stage (the stages are asset groups)."""

import dagster as dg

tables_job = dg.define_asset_job(
    "tables_job", selection=dg.AssetSelection.groups("tables"),
    description="Parse the raw folders and build every table of SPEC §2 with its checks.")

all_jobs = [tables_job]
