"""Pure logic, grouped by stage: no Dagster import here (a test enforces it), so every function can
be called and tested without an instance. A module may import the standard library, the
scientific stack (numpy, pandas, torch, scikit-learn, OpenCV, Pillow, DuckDB, MLflow) and other
``core`` modules: its own stage's, and ``common``; a stage imports another stage only for what it
consumes from it (the classifier's inference in preferences, say), never the reverse.

  common/      files, warehouse opening, settling, progress, artifacts handles, plots, intervals
  tables/      names, survey JSON, folder scanning, the tables built from them
  images/      decoding, segmentation, cropping, accounting
  classifier/  training data, augmentation, ResNet-18 training, inference, baselines, export
  preferences/ the feature matrix, the seed's and the honest preference methods
  catalogue/   the product catalogue
  new_photos/  arrival batches and what is predicted for them
  registry.py  MLflow tracking and the model registry
"""
