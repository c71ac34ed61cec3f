"""The same definitions for a Kubernetes deployment (deploy/k8s/): every step runs in its own pod
through dagster-k8s's ``k8s_job_executor``, which merges each op's ``dagster-k8s/config`` tag
into its pod — the GPU-tagged steps (training, feature extraction) ask for one GPU. The data root
is a shared volume named by FASHION_ASSETS_DATA_ROOT, as locally.
"""

from dagster_k8s import k8s_job_executor

from .definitions import build_definitions
from .resources import catalogue_root_from_env, data_root_from_env

defs = build_definitions(data_root_from_env(), catalogue_root=catalogue_root_from_env(), executor=k8s_job_executor)
