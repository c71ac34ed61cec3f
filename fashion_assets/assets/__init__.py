"""The asset modules, one per stage; definitions.py loads every asset and check from them."""

import warnings

import dagster as dg

# Two beta APIs are used on purpose and tested with the pinned Dagster (1.13): observable source
# assets (the raw folders) and Output(data_version=...). Their warnings are noise to a user.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from . import (classifier, images, new_photos, portable, preference_models, preferences, product_models,
               products, registry, sources, tables)

ASSET_MODULES = [sources, tables, images, classifier, registry, portable, preferences, preference_models, products,
                 product_models, new_photos]
