"""The model versions that downstream assets use: the ones under the registry's ``champion``
alias (the sex&style classifier's, and the catalogue classifier's of the trained level).
Training registers every version; the alias moves only when the version passed its gate
(``style_classifier_beats_chance``, ``product_classifier_beats_majority``), and ``python -m fashion_assets.cli.models champion N`` moves it
back to an older version (a rollback); materializing ``champion_classifier`` then rebuilds
everything downstream from that version.
"""

import dagster as dg

from ..core.common.artifacts import Artifact
from ..core.images.batch import sha1_of
from ..core.registry import CHAMPION
from ..resources import ModelRegistryResource
from .conventions import ARTIFACT, CATALOGUE, CLASSIFIER, EAGER, STYLE_MODEL


def champion_output(context: dg.AssetExecutionContext, registry, name: str, trained_by: str,
                    **settings) -> dg.Output:
    """The handle of registered model ``name``'s version under the champion alias (its checkpoint
    in the registry's artifact store; settings read from the checkpoint, plus ``settings``)."""
    from ..core.classifier.training import classifier_settings

    import torch

    champion = registry.champion(name)
    if champion is None:
        raise dg.Failure(f"no {name} version has the alias '{CHAMPION}' yet: train one that passes its gate "
                         f"({trained_by}), or set it by hand (python -m fashion_assets.cli.models champion N)")
    if not champion.checkpoint.exists():
        raise dg.Failure(f"{name} version {champion.version}'s checkpoint {champion.checkpoint} is missing "
                         f"from the registry's artifact store")
    ckpt = torch.load(champion.checkpoint, map_location="cpu", weights_only=False)
    digest = sha1_of(champion.checkpoint)[:12]
    context.log.info(f"{name} version {champion.version} is the champion (MLflow run {champion.run_id})")
    artifact = Artifact(path=str(champion.checkpoint), kind="classifier", version=f"v{champion.version}-{digest}",
                        inputs_version=champion.tags.get("inputs_version", ""),
                        settings={**classifier_settings(ckpt), **settings})
    return dg.Output(artifact, data_version=dg.DataVersion(f"v{champion.version}-{digest}"), metadata={
        "registered_model": name, "registered_version": dg.MetadataValue.int(champion.version),
        "mlflow_run": dg.MetadataValue.url(champion.run_url()),
        "trained_in_dagster_run": champion.tags.get("dagster_run_id", ""),
        "checkpoint": dg.MetadataValue.path(str(champion.checkpoint))})


@dg.asset(group_name=CLASSIFIER, kinds={"mlflow", "pytorch"}, io_manager_key=ARTIFACT, code_version="1",
          automation_condition=EAGER, deps=["style_classifier"])
def champion_classifier(context: dg.AssetExecutionContext, model_registry: ModelRegistryResource):
    """The registered classifier version under the 'champion' alias, as a handle (its checkpoint
    in the registry's artifact store, with the settings read from the checkpoint)."""
    return champion_output(context, model_registry.registry(), STYLE_MODEL, "style_classifier_beats_chance")


@dg.asset(group_name=CATALOGUE, kinds={"mlflow", "pytorch"}, io_manager_key=ARTIFACT, code_version="1")
def product_champion(context: dg.AssetExecutionContext, model_registry: ModelRegistryResource,
                     product_classifier: Artifact, product_transfer_classifier: Artifact):
    """The registered product classifier version under the 'champion' alias, for the label level
    that both classifiers were trained on (read from their handles): what the product features use."""
    level = product_classifier.settings["level"]
    if product_transfer_classifier.settings["level"] != level:
        raise dg.Failure(f"product_classifier was trained on {level}, product_transfer_classifier on "
                         f"{product_transfer_classifier.settings['level']}: materialize both at one level "
                         f"(config 'level') before choosing the champion")
    return champion_output(context, model_registry.registry(), f"product_classifier_{level}",
                           "product_classifier_beats_majority", level=level)
