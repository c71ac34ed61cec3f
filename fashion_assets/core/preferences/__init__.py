"""Stage 3: the feature matrix and neighbours, the seed's item-based filtering, the honest methods, their comparison."""
