"""Safe serialization of cases and outcomes between the judge and a student's process.

Only JSON plus base64-encoded numeric arrays travel; decoding never runs code (no pickle).
Codec-safe values: ndarrays and NumPy scalars of bool/int/uint/float dtype, Python
bool/int/float/str/None, lists, tuples, dicts with str keys, and two tokens:

* ``RngToken(seed)``: the callee receives ``numpy.random.default_rng(seed)``;
* ``FnToken(name, kwargs)``: the callee receives ``fixtures.FIXTURES[name](**kwargs)``, a
  trusted function built on its side (e.g. a cost function on fixed data).

Anything else a student returns (a torch tensor, a set, an object array) is encoded as an
``Opaque(type_name, text)`` so the judge can say what it was without ever unpickling it.
"""
from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field

import numpy as np

from .fixtures import FIXTURES

__all__ = ["RngToken", "FnToken", "Opaque", "encode", "decode", "dumps", "loads", "materialize"]

_ALLOWED_KINDS = "biuf"
_MAX_ARRAY_BYTES = 64 * 2**20  # a single array larger than this is reported, not shipped


@dataclass(frozen=True)
class RngToken:
    """Stands for ``numpy.random.default_rng(seed)`` on the callee's side."""

    seed: int


@dataclass(frozen=True)
class FnToken:
    """Stands for the trusted fixture function ``fixtures.FIXTURES[name](**kwargs)``."""

    name: str
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Opaque:
    """A value that cannot be shipped: only its type name and a short text survive."""

    type_name: str
    text: str = ""


def _type_name(value) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}" if cls.__module__ != "builtins" else cls.__qualname__


def _encode_float(x: float):
    if math.isfinite(x):
        return x
    return {"__float__": repr(x)}  # 'nan', 'inf', '-inf'


def encode(value):
    """Value -> a JSON-able structure (see the module docstring for what is supported)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, np.generic) and value.dtype.kind in _ALLOWED_KINDS:
        return {"__scalar__": encode(np.asarray(value)[()].item()), "dtype": value.dtype.str}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _ALLOWED_KINDS:
            return {"__opaque__": _type_name(value), "text": f"ndarray of dtype {value.dtype}"}
        if value.nbytes > _MAX_ARRAY_BYTES:
            return {"__opaque__": _type_name(value), "text": f"ndarray of shape {value.shape} (too large)"}
        # ascontiguousarray turns a 0-d array into shape (1,); keep the real shape.
        data = np.ascontiguousarray(value)
        return {"__nd__": base64.b64encode(data.tobytes()).decode("ascii"),
                "dtype": data.dtype.str, "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"__dict__": {k: encode(v) for k, v in value.items()}}
        return {"__opaque__": "dict", "text": "dict with non-string keys"}
    if isinstance(value, RngToken):
        return {"__rng__": int(value.seed)}
    if isinstance(value, FnToken):
        return {"__fn__": value.name, "kwargs": encode(value.kwargs)}
    if isinstance(value, Opaque):
        return {"__opaque__": value.type_name, "text": value.text}
    try:
        text = repr(value)[:200]
    except BaseException:  # a hostile __repr__ must not break the channel
        text = ""
    return {"__opaque__": _type_name(value), "text": text}


def decode(data):
    """Inverse of ``encode``; only builds arrays, numbers, containers and tokens."""
    if data is None or isinstance(data, (bool, str, int, float)):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        raise ValueError(f"cannot decode {type(data).__name__}")
    if "__nd__" in data:
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in _ALLOWED_KINDS:
            raise ValueError(f"refusing to decode dtype {dtype}")
        shape = tuple(int(n) for n in data["shape"])
        raw = base64.b64decode(data["__nd__"])
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if "__scalar__" in data:
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in _ALLOWED_KINDS:
            raise ValueError(f"refusing to decode dtype {dtype}")
        return dtype.type(decode(data["__scalar__"]))
    if "__float__" in data:
        return float(data["__float__"])
    if "__tuple__" in data:
        return tuple(decode(v) for v in data["__tuple__"])
    if "__dict__" in data:
        return {str(k): decode(v) for k, v in data["__dict__"].items()}
    if "__rng__" in data:
        return RngToken(int(data["__rng__"]))
    if "__fn__" in data:
        return FnToken(str(data["__fn__"]), decode(data["kwargs"]))
    if "__opaque__" in data:
        return Opaque(str(data["__opaque__"]), str(data.get("text", "")))
    raise ValueError(f"cannot decode a dict with keys {sorted(data)}")


def dumps(value) -> str:
    """encode + json.dumps (strict JSON: no NaN literals)."""
    return json.dumps(encode(value), allow_nan=False)


def loads(text: str):
    """json.loads + decode."""
    return decode(json.loads(text))


def materialize(value):
    """Replace tokens by what they stand for (on the callee's side, just before a call)."""
    if isinstance(value, RngToken):
        return np.random.default_rng(value.seed)
    if isinstance(value, FnToken):
        return FIXTURES[value.name](**materialize(value.kwargs))
    if isinstance(value, tuple):
        return tuple(materialize(v) for v in value)
    if isinstance(value, list):
        return [materialize(v) for v in value]
    if isinstance(value, dict):
        return {k: materialize(v) for k, v in value.items()}
    return value
