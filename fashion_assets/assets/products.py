"""Product catalogue (seeds 002–004): products joined to their photos, refined classes, balance."""

import dagster as dg
import pandas as pd
from pydantic import Field

from ..core.catalogue.products import ClassRules, balance_table, load_styles, product_table as build_product_table, refine_classes
from ..resources import CatalogueResource
from .conventions import CATALOGUE, markdown, table_output

SEED_BALANCE = {"Class": 0.815}  # seed 004's figure on the whole catalogue


@dg.multi_asset(outs={
    "product_table": dg.AssetOut(group_name=CATALOGUE, kinds={"duckdb"}, code_version="2",
                                 description="styles.csv rows whose image exists, with the image path."),
    "products_without_images": dg.AssetOut(group_name=CATALOGUE, kinds={"duckdb"}, code_version="2",
                                           description="Label rows without an image and images without a label row."),
}, check_specs=[dg.AssetCheckSpec("products_without_images_reported", asset="products_without_images",
                                  description="Counts label rows without images and images without labels "
                                              "(WARN when any image lacks a label).")])
def catalogue_products(context: dg.AssetExecutionContext, catalogue: CatalogueResource):
    """Join the catalogue's labels to the photos that exist; report (never drop silently) the rest."""
    styles = load_styles(catalogue.styles_csv)
    table, missing = build_product_table(styles, catalogue.images)
    context.log.info(f"{len(table)} products with images; {len(missing)} rows reported in products_without_images")
    yield table_output(table, output_name="product_table", label_rows=len(styles),
                       per_masterCategory=dg.MetadataValue.json(table.masterCategory.value_counts().to_dict()))
    per_reason = missing.reason.value_counts().to_dict()
    yield table_output(missing, preview_rows=20, output_name="products_without_images",
                       per_reason=dg.MetadataValue.json(per_reason))
    yield dg.AssetCheckResult(asset_key="products_without_images", check_name="products_without_images_reported",
                              passed=per_reason.get("image without a label row", 0) == 0,
                              severity=dg.AssetCheckSeverity.WARN, metadata={"per_reason": per_reason})


class ProductClassConfig(dg.Config):
    subcategory_min: int = Field(default=105, ge=0, description="A subCategory with more items than this becomes a Class.")
    keep_article_types: list[str] = Field(default=["Tshirts", "Shirts"], description="articleTypes kept as their own Class.")
    min_class_count: int = Field(default=5, ge=1, description="Classes with fewer items are dropped (and reported).")


@dg.asset(group_name=CATALOGUE, kinds={"duckdb"}, code_version="2")
def product_classes(config: ProductClassConfig, product_table: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Seed 004's refined ``Class`` per product (rules as config); dropped rows are in the metadata."""
    rules = ClassRules(config.subcategory_min, tuple(config.keep_article_types), config.min_class_count)
    classes, dropped = refine_classes(product_table, rules)
    counts = classes.Class.value_counts().rename_axis("Class").reset_index(name="items")
    return table_output(classes, classes=int(classes.Class.nunique()), class_counts=dg.MetadataValue.md(markdown(counts)),
                        dropped=dg.MetadataValue.md(markdown(dropped)))


@dg.asset(group_name=CATALOGUE, kinds={"duckdb"}, code_version="2")
def label_balance(product_classes: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """H / log C per label level (seed 004's balance measure): 1 balanced, 0 one class."""
    table = balance_table(product_classes).assign(seed_catalogue_figure=lambda d: d.level.map(SEED_BALANCE))
    return table_output(table, table=dg.MetadataValue.md(markdown(table.round(3))))
