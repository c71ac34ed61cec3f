"""Stage 3-1: image features from the classifier and their neighbours (the like/dislike models
are in preference_models.py).

The feature matrix is an artifact built from the classifier's handle: the image size and the
normalisation come from the checkpoint, never from a setting of its own. It has one row per
distinct image (by content); an index maps every (split, file name) to its row.
"""

import dagster as dg
import numpy as np
import pandas as pd

from ..core.common.artifacts import Artifact, content_version
from ..core.preferences.features import load_feature_matrix, save_feature_matrix, top_k_neighbours
from ..io_managers import ArtifactStore
from ..resources import TorchDeviceResource
from .conventions import ARTIFACT, EAGER, GPU_POOL, GPU_TAGS, PREFERENCES, table_output


@dg.asset(group_name=PREFERENCES, kinds={"pytorch", "numpy"}, pool=GPU_POOL, op_tags=GPU_TAGS, io_manager_key=ARTIFACT,
          code_version="2", automation_condition=EAGER)
def feature_matrix(context: dg.AssetExecutionContext, torch_device: TorchDeviceResource, artifact_store: ArtifactStore,
                   champion_classifier: Artifact, image_set: pd.DataFrame):
    """512-d features (the classifier's penultimate layer) of every distinct image of both splits,
    with an index from (split, file name) to the feature row."""
    from ..core.classifier.inference import features_of_files

    distinct = image_set.drop_duplicates("sha1").sort_values("sha1", ignore_index=True)
    device = torch_device.torch_device()
    x, ckpt = features_of_files(champion_classifier.path, list(distinct.crop), device)
    size = ckpt["config"]["image_size"]
    row = dict(zip(distinct.sha1, range(len(distinct))))
    index = image_set[["split", "file_name", "sha1"]].assign(row=image_set.sha1.map(row))
    path = save_feature_matrix(artifact_store.version_folder(context) / "feature_matrix.npz", x, distinct.sha1, index)
    version = content_version(champion_classifier.version, image_set[["split", "file_name", "sha1", "crop_sha1"]])
    artifact = Artifact(path=str(path), kind="feature_matrix", inputs_version=version, version=path.parent.name,
                        settings={"image_size": size, "classifier_version": champion_classifier.version,
                                  "dimensions": int(x.shape[1]), "images": int(x.shape[0])})
    return dg.Output(artifact, data_version=dg.DataVersion(version), metadata={
        "shape": list(x.shape), "device": str(device), "image_size": size,
        "classifier_version": champion_classifier.version, "files_indexed": len(index)})


class NeighbourConfig(dg.Config):
    k: int = 10


@dg.asset(group_name=PREFERENCES, kinds={"duckdb"}, code_version="2", automation_condition=EAGER)
def image_neighbours(config: NeighbourConfig, feature_matrix: Artifact) -> dg.Output[pd.DataFrame]:
    """Top-k cosine neighbours of every distinct image (blocked; no dense similarity matrix is kept)."""
    fm = load_feature_matrix(feature_matrix.path)
    idx, sim = top_k_neighbours(fm.features, config.k)
    name = fm.index.drop_duplicates("row").set_index("row").file_name
    k = idx.shape[1]
    df = pd.DataFrame({"sha1": np.repeat(fm.sha1, k), "file_name": np.repeat(name.reindex(range(len(fm.sha1))).to_numpy(), k),
                       "rank": np.tile(np.arange(1, k + 1), len(fm.sha1)), "neighbour_sha1": fm.sha1[idx.ravel()],
                       "neighbour": name.reindex(idx.ravel()).to_numpy(), "cosine": sim.ravel()})
    return table_output(df)
