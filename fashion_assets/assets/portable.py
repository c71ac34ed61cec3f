"""The classifier as a portable ONNX model (uint8 images in; logits and 512-d features out), an
artifact built from the classifier's handle and checked against torch before anyone uses it.
"""

import dagster as dg
import pandas as pd

from ..core.common.artifacts import Artifact
from ..io_managers import ArtifactStore
from .conventions import ARTIFACT, CLASSIFIER, EAGER

MATCHES = "classifier_onnx_matches_torch"
TOLERANCE = 1e-4  # largest absolute difference allowed, per output, on the check's batch
CHECK_IMAGES = 64


@dg.asset(group_name=CLASSIFIER, kinds={"onnx"}, io_manager_key=ARTIFACT, code_version="2", automation_condition=EAGER,
          check_specs=[dg.AssetCheckSpec(MATCHES, asset="classifier_onnx", blocking=True,
                                         description=f"onnxruntime gives torch's logits and features to within "
                                                     f"{TOLERANCE:g} on {CHECK_IMAGES} crops (gates downstream use).")])
def classifier_onnx(context: dg.AssetExecutionContext, artifact_store: ArtifactStore, champion_classifier: Artifact,
                    image_set: pd.DataFrame):
    """The classifier exported to ONNX with its normalisation and test-time flip in the graph,
    compared with torch on a batch of crops, and timed on the CPU against torch; the colour
    expert its logits are pooled with goes beside it (``colour_expert.json``)."""
    from ..core.classifier.export import OPSET, OUTPUTS, export_and_check

    s = champion_classifier.settings
    sample = image_set.sort_values(["split", "file_name"], ascending=[False, True]).drop_duplicates("crop_sha1")
    e = export_and_check(champion_classifier.path, list(sample.crop.head(CHECK_IMAGES)),
                         artifact_store.version_folder(context))
    path, colour, difference, speed = e["path"], e["colour_expert"], e["difference"], e["speed"]
    context.log.info(f"ONNX export of {champion_classifier.version}: max |difference| {difference}, "
                     f"CPU images/s {speed}")
    artifact = Artifact(path=str(path), kind="onnx_classifier", inputs_version=champion_classifier.version,
                        version=path.parent.name,
                        settings={"image_size": s["image_size"], "class_names": s["class_names"], "opset": OPSET,
                                  "input": "images: uint8 (N, 3, S, S), RGB 0-255; normalisation is in the graph",
                                  "outputs": list(OUTPUTS), "classifier_version": champion_classifier.version,
                                  "colour_expert": None if colour is None else colour.name,  # in the artifact's folder
                                  "network_weight": s.get("network_weight", 1.0)})
    yield dg.Output(artifact, data_version=dg.DataVersion(f"{champion_classifier.version}-opset{OPSET}"), metadata={
        "max_abs_difference": dg.MetadataValue.json(difference),
        "cpu_images_per_second": dg.MetadataValue.json({k: round(v, 1) for k, v in speed.items()}),
        "checked_images": e["checked"], "classifier_version": champion_classifier.version})
    worst = max(difference.values())
    yield dg.AssetCheckResult(check_name=MATCHES, passed=worst <= TOLERANCE,
                              description=f"largest difference {worst:.2e} (tolerance {TOLERANCE:g}) on {e['checked']} crops",
                              metadata={k: float(v) for k, v in difference.items()})
