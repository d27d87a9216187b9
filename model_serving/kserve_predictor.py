"""KServe predictors: `kserve.Model` subclasses hosting the registry's promoted anomaly and failure models.

Open Inference Protocol V2 (REST `/v2/models/<name>/infer`, and gRPC): one input tensor per
column, named as in model_serving.columns (`meter_ids`, `voltage_v`, ... and `history_meter_ids`,
... for the anomaly detector; `transformer_id`, `hour_end_unix_s` and the feature names for the
failure predictor), shape [n]. V1 (`/v1/models/<name>:predict`): `{"instances": [{column:
value, ...}, ...]}` (the anomaly detector also takes `"history": [...]`, rows of the same form),
answered with `{"predictions": [{output: value, ...}, ...]}`. A request that does not fit is
kserve's InvalidInput: HTTP 400 with `{"error": "<what is wrong>"}`.
"""

import uuid

import kserve
from kserve import InferOutput, InferRequest, InferResponse
from kserve.errors import InvalidInput

from meters.model_registry import ModelRegistry
from model_serving.columns import HISTORY_PREFIX, BadRequest, Tensor, as_json_rows, rows_to_columns
from model_serving.served import ServedAnomaly, ServedFailure


class RegistryPredictor(kserve.Model):
    """A model of ours: the promoted version in the registry is loaded at `load()`."""

    served_type: type[ServedAnomaly] | type[ServedFailure]
    v1_extra_rows: tuple[str, ...] = ()  # V1 top-level keys besides "instances" (rows with a column prefix)

    def __init__(self, registry: ModelRegistry):
        super().__init__(self.served_type.name)
        self.registry = registry
        self.served: ServedAnomaly | ServedFailure | None = None

    def load(self) -> bool:
        self.served = self.served_type.load(self.registry)
        self.ready = True
        return self.ready

    def get_input_types(self) -> list[dict]:
        return [_metadata(t) for t in self.served_type.inputs]

    def get_output_types(self) -> list[dict]:
        return [_metadata(t) for t in self.served_type.outputs]

    def predict(self, payload, headers=None, response_headers=None):
        try:
            if isinstance(payload, InferRequest):
                return self._v2(payload)
            if isinstance(payload, dict):
                return {"predictions": as_json_rows(self.served.infer(self._v1_columns(payload)))}
        except BadRequest as err:
            raise InvalidInput(str(err)) from None
        raise InvalidInput('expected a V2 inference request or a V1 {"instances": [...]} object')

    def _v2(self, request: InferRequest) -> InferResponse:
        columns = {}
        for tensor in request.inputs:
            if tensor.name in columns:
                raise BadRequest(f"input {tensor.name} is given twice")
            try:
                columns[tensor.name] = tensor.as_numpy()
            except (ValueError, TypeError) as err:  # data that does not fill its shape, unknown datatypes
                raise BadRequest(f"input {tensor.name}: {err}") from None
        outputs = self.served.infer(columns)
        datatypes = {t.name: t.datatype for t in self.served_type.outputs}
        return InferResponse(
            response_id=request.id or str(uuid.uuid4()), model_name=self.name, model_version=self.served.version,
            infer_outputs=[InferOutput(name, list(a.shape), datatypes[name], data=a) for name, a in outputs.items()])

    def _v1_columns(self, payload: dict) -> dict[str, list]:
        allowed = ("instances", *self.v1_extra_rows)
        extra = sorted(set(payload) - set(allowed))
        if extra or "instances" not in payload:
            raise BadRequest(f'a V1 request is {{"instances": [...]}}'
                             f'{"".join(f", optional {k!r}" for k in self.v1_extra_rows)}; got keys {sorted(payload)}')
        columns = rows_to_columns(payload["instances"])
        for key in self.v1_extra_rows:
            if key in payload:
                columns.update({f"{key}_{name}": v for name, v in rows_to_columns(payload[key], key).items()})
        return columns


class AnomalyPredictor(RegistryPredictor):
    served_type = ServedAnomaly
    v1_extra_rows = (HISTORY_PREFIX.rstrip("_"),)


class FailurePredictor(RegistryPredictor):
    served_type = ServedFailure


PREDICTORS = (AnomalyPredictor, FailurePredictor)


def _metadata(t: Tensor) -> dict:
    return {"name": t.name, "datatype": t.datatype, "shape": t.shape}
