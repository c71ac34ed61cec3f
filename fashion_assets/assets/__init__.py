"""The asset modules, one per stage; definitions.py loads every asset and check from them."""

from . import (classifier, crops, images, new_photos, portable, preference_models, preferences, product_models,
               products, registry, sources, tables)

ASSET_MODULES = [sources, tables, images, crops, classifier, registry, portable, preferences, preference_models, products,
                 product_models, new_photos]
