"""TF Serving request builders (REST JSON and gRPC PredictRequest) and a local stand-in server.

TF Serving's binary is not available here, so `run_rest` and `run_predict_request` run a
request through a SavedModel loaded with `tf.saved_model.load` the way the server would:
the REST body goes through JSON and is converted to the signature's dtypes; the
PredictRequest goes through its wire format and `tf.make_ndarray`.
"""

import json

import numpy as np
import tensorflow as tf


def _as_array(value):
    array = np.asarray(value)
    # The signatures take float32 and int32; NumPy's defaults are 64-bit.
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    elif array.dtype == np.int64:
        array = array.astype(np.int32)
    return array


def rest_body(signature_name, inputs):
    """Returns the columnar REST predict body `{"signature_name": ..., "inputs": {...}}`.

    POST it as JSON to `http://HOST:8501/v1/models/<name>:predict`.

    Args:
        signature_name: str, e.g. "decode".
        inputs: dict of input name -> array-like (a batch, or a scalar for `seed`/`count`).

    Example:
    >>> rest_body("sample", {"seed": 1, "count": 2})
    {'signature_name': 'sample', 'inputs': {'seed': 1, 'count': 2}}
    """
    return {
        "signature_name": signature_name,
        "inputs": {name: _as_array(value).tolist() for name, value in inputs.items()},
    }


def predict_request(model_name, signature_name, inputs, version=None):
    """Returns a `tensorflow_serving.apis.predict_pb2.PredictRequest` for the gRPC Predict API.

    Args:
        model_name: str, the served model's name (e.g. "vae").
        signature_name: str, e.g. "decode".
        inputs: dict of input name -> array-like; float64/int64 are sent as float32/int32.
        version: int or None, default None (the server's latest version).

    Example:
    >>> request = predict_request("vae", "sample", {"seed": 1, "count": 2})
    >>> request.model_spec.signature_name, sorted(request.inputs)
    ('sample', ['count', 'seed'])
    """
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(_as_array(value)))
    return request


def _signature(loaded, signature_name):
    try:
        return loaded.signatures[signature_name]
    except KeyError:
        raise ValueError(
            f"Unknown signature {signature_name!r}; the model has {sorted(loaded.signatures)}."
        ) from None


def run_rest(loaded, body):
    """Runs a REST predict body through a loaded SavedModel; returns `{"outputs": {name: list}}`.

    Like TF Serving, the body goes through JSON and each input becomes a tensor of the
    signature's dtype.

    Args:
        loaded: result of `tf.saved_model.load(path)`.
        body: dict from `rest_body` (or its JSON text).

    Example:
    >>> import tempfile
    >>> from keras_vae.export.saved_model import export_saved_model
    >>> from keras_vae.models.builder import build_model
    >>> loaded = tf.saved_model.load(export_saved_model(build_model("vae", (3,), latent_dim=2), tempfile.mkdtemp()))
    >>> outputs = run_rest(loaded, rest_body("sample", {"seed": 1, "count": 2}))["outputs"]
    >>> np.shape(outputs["images"])
    (2, 3)
    """
    body = json.loads(body if isinstance(body, str) else json.dumps(body))
    function = _signature(loaded, body.get("signature_name", "serving_default"))
    specs = function.structured_input_signature[1]
    unknown = sorted(set(body["inputs"]) - set(specs))
    if unknown:
        raise ValueError(f"Unknown inputs {unknown}; the signature takes {sorted(specs)}.")
    tensors = {name: tf.constant(value, dtype=specs[name].dtype) for name, value in body["inputs"].items()}
    outputs = function(**tensors)
    return {"outputs": {name: value.numpy().tolist() for name, value in outputs.items()}}


def run_predict_request(loaded, request):
    """Runs a PredictRequest through a loaded SavedModel; returns a `PredictResponse`.

    Args:
        loaded: result of `tf.saved_model.load(path)`.
        request: `PredictRequest` (or its serialized bytes).

    Example:
    >>> import tempfile
    >>> from keras_vae.export.saved_model import export_saved_model
    >>> from keras_vae.models.builder import build_model
    >>> loaded = tf.saved_model.load(export_saved_model(build_model("vae", (3,), latent_dim=2), tempfile.mkdtemp()))
    >>> response = run_predict_request(loaded, predict_request("vae", "decode", {"z": np.zeros((4, 2))}))
    >>> sorted((name, value.shape) for name, value in response_arrays(response).items())
    [('logits', (4, 3)), ('probabilities', (4, 3))]
    """
    from tensorflow_serving.apis import predict_pb2

    # A wire round trip, as between a client and the server.
    wire = request if isinstance(request, bytes) else request.SerializeToString()
    request = predict_pb2.PredictRequest.FromString(wire)
    function = _signature(loaded, request.model_spec.signature_name or "serving_default")
    inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    outputs = function(**inputs)
    response = predict_pb2.PredictResponse()
    response.model_spec.CopyFrom(request.model_spec)
    for name, value in outputs.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
    return response


def response_arrays(response):
    """Returns `{name: np.ndarray}` from a PredictResponse's output tensors."""
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}
