"""fashion_assets: fashion photos and style-preference surveys as Dagster software-defined assets."""

import os

# No network use at run time: onnxruntime (rembg's engine) otherwise records telemetry events in
# ~/.cache/Microsoft/DeveloperTools/.onnxruntime and tries to upload them. Set before anything
# imports onnxruntime; a user who wants telemetry can set ORT_DISABLE_TELEMETRY=0.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
