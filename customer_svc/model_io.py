"""The segmentation model in the model registry: save (train), load (service, evaluation)."""

import pickle

from customer_svc.features import FEATURE_NAMES
from customer_svc.model import SegmentationModel
from meters.errors import failed_precondition
from meters.model_registry import Manifest, ModelNotFound, ModelRegistry

MODEL_NAME = "segmentation"
ARTIFACT = "model.pkl"


def save(registry: ModelRegistry, model: SegmentationModel, metrics: dict, params: dict, window: dict) -> str:
    with registry.staged(MODEL_NAME) as (version, staging):
        (staging / ARTIFACT).write_bytes(pickle.dumps(model))
        registry.commit(staging, Manifest(MODEL_NAME, version, "scikit-learn KMeans + LinearDiscriminantAnalysis (PV homes)", list(FEATURE_NAMES),
                                          window, metrics, params))
    return version


def load_promoted(registry: ModelRegistry) -> tuple[SegmentationModel, str]:
    try:
        mv = registry.promoted(MODEL_NAME)
    except ModelNotFound as e:
        raise failed_precondition(str(e), "MODEL_NOT_TRAINED") from None
    return pickle.loads(mv.file(ARTIFACT).read_bytes()), mv.manifest.version
