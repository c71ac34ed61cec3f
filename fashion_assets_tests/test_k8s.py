"""The Kubernetes deployment (deploy/k8s/) is valid: the code location it names loads with the
k8s executor, and dagster-k8s itself builds every step's pod from the Helm values and the op
tags — GPU steps with a GPU limit, the others without, all with the shared data root."""

import importlib
from pathlib import Path

import dagster as dg
import pytest
import yaml

dagster_k8s = pytest.importorskip("dagster_k8s", reason="dagster-k8s is a dev dependency (pip install -e '.[dev]')")
from dagster_k8s.container_context import K8sContainerContext  # noqa: E402
from dagster_k8s.job import (DagsterK8sJobConfig, UserDefinedDagsterK8sConfig, construct_dagster_k8s_job,  # noqa: E402
                             get_user_defined_k8s_config)

VALUES = Path(__file__).resolve().parents[1] / "deploy" / "k8s" / "values.yaml"
GPU = "nvidia.com/gpu"


@pytest.fixture(scope="module")
def values():
    return yaml.safe_load(VALUES.read_text())


@pytest.fixture(scope="module")
def deployment(values):
    (dep,) = values["dagster-user-deployments"]["deployments"]
    return dep


@pytest.fixture(scope="module")
def k8s_defs(deployment, tmp_path_factory, monkeypatch_module):
    """The definitions module the Helm values name, imported as the code server would."""
    args = deployment["dagsterApiGrpcArgs"]
    module = args[args.index("--module-name") + 1]
    monkeypatch_module.setenv("FASHION_ASSETS_DATA_ROOT", str(tmp_path_factory.mktemp("k8s_root")))
    return importlib.reload(importlib.import_module(module)).defs


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _step_container(values, deployment, op_tags):
    """The container of the Kubernetes Job the k8s executor would create for a step: the run
    launcher's settings from the Helm values, then the op's own tag on top (the executor's order)."""
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    image = deployment["image"]
    run_level = K8sContainerContext(
        env_vars=launcher["envVars"], volumes=launcher["volumes"], volume_mounts=launcher["volumeMounts"],
        # The chart writes runK8sConfig's keys into dagster.yaml in snake case.
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict({"container_config": launcher["runK8sConfig"]["containerConfig"]}))
    context = run_level.merge(K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(op_tags)))
    job_config = DagsterK8sJobConfig(job_image=f"{image['repository']}:{image['tag']}",
                                     dagster_home="/opt/dagster/dagster_home", image_pull_policy=image["pullPolicy"])
    job = construct_dagster_k8s_job(job_config, args=["dagster", "api", "execute_step"], job_name="step-job",
                                    user_defined_k8s_config=context.run_k8s_config)
    (container,) = job.spec.template.spec.containers
    return container, job


def test_code_location_runs_every_job_on_the_k8s_executor(k8s_defs):
    dg.Definitions.validate_loadable(k8s_defs)
    jobs = [j for j in k8s_defs.resolve_all_job_defs() if not j.name.startswith("__")]
    assert {j.name for j in jobs} >= {"full_pipeline_job", "images_job", "classifier_job", "tables_job"}
    assert {j.executor_def.name for j in jobs} == {"k8s"}


def test_gpu_steps_request_a_gpu_and_the_others_do_not(values, deployment, k8s_defs):
    ops = {a.op.name: a.op for a in k8s_defs.assets if isinstance(a, dg.AssetsDefinition)}
    gpu_pool = {name for name, op in ops.items() if op.pool == "gpu"}
    assert {"style_classifier", "feature_matrix", "product_classifier"} <= gpu_pool
    for name, op in ops.items():
        container, job = _step_container(values, deployment, op.tags)
        limits = container.resources.limits or {}
        # The launcher's CPU/memory requests survive the merge with a step's own tag.
        assert container.resources.requests == {"cpu": "2", "memory": "8Gi"}, name
        if name in gpu_pool:
            assert limits.get(GPU) == "1", f"{name} is in the gpu pool but its pod asks for no GPU"
        else:
            assert GPU not in limits, f"{name} asks for a GPU outside the gpu pool"
        # Every step pod sees the shared data root where the code expects it.
        env = {e.name: e.value for e in container.env or []}
        assert env.get("FASHION_ASSETS_DATA_ROOT") == "/data"
        assert [m.mount_path for m in container.volume_mounts] == ["/data"]
        assert job.spec.template.spec.volumes[0].persistent_volume_claim.claim_name == "fashion-assets-data"


def test_a_misspelt_k8s_tag_is_caught():
    # The failure the validity test exists for: Kubernetes keys are checked when the tag is parsed.
    with pytest.raises(Exception):
        get_user_defined_k8s_config({"dagster-k8s/config": '{"container_confg": {}}'})


def test_values_agree_with_the_code_server_and_the_volume_claim(values, deployment):
    env = {e["name"]: e["value"] for e in deployment["env"]}
    mounts = {m["mountPath"] for m in deployment["volumeMounts"]}
    assert env["FASHION_ASSETS_DATA_ROOT"] in mounts
    claim = yaml.safe_load((VALUES.parent / "data-volume.yaml").read_text())
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # step pods on several nodes share it
    names = {v["persistentVolumeClaim"]["claimName"] for v in deployment["volumes"]}
    assert names == {claim["metadata"]["name"]}
