"""atac_gluon.ops: the atac_int8_gate operator against a NumPy reference of the float32 island it
replaces (dequantize, sigmoid, multiply, quantize), and its build."""
import os

import mxnet as mx
import numpy as np
import pytest

from atac_gluon import ops
from atac_gluon.errors import BadInput


def steps(dtype):
    return 255.0 if dtype == np.uint8 else 127.0


def reference(g, g_range, x, x_range, lo, hi):
    """MXNet's float32 island: dequantize g and x (range / 127 or / 255 per step), sigmoid,
    multiply, quantize to the calibrated [lo, hi] (uint8 when lo >= 0, else int8)."""
    real = (x.astype(np.float64) * x_range / steps(x.dtype)
            / (1 + np.exp(-g.astype(np.float64) * g_range / steps(g.dtype))))
    out_range = max(abs(lo), abs(hi))
    unsigned = lo >= 0
    scaled = real * (255.0 if unsigned else 127.0) / out_range
    scaled = np.clip(scaled, 0 if unsigned else -127, 255 if unsigned else 127)
    return np.sign(scaled) * np.floor(np.abs(scaled) + 0.5), (0.0 if unsigned else -out_range,
                                                             out_range)


@pytest.mark.parametrize('g_dtype,x_dtype,lo,hi', [
    (np.int8, np.int8, -2.5, 3.0),    # the usual case: signed x, a signed product
    (np.int8, np.uint8, 0.0, 4.0),    # x after a ReLU: a non-negative product, uint8
    (np.uint8, np.int8, -1.0, 0.5),   # gate logits calibrated non-negative
])
def test_gate_matches_the_float_island(g_dtype, x_dtype, lo, hi):
    ops.load()
    rng = np.random.RandomState(0)
    shape = (3, 5, 7, 9)
    low = 0 if g_dtype == np.uint8 else -127
    g = rng.randint(low, 128 if g_dtype == np.int8 else 256, shape).astype(g_dtype)
    x = rng.randint(0 if x_dtype == np.uint8 else -127, 128 if x_dtype == np.int8 else 256,
                    shape).astype(x_dtype)
    g_range, x_range = 6.0, 2.0
    one = lambda v: mx.nd.array([v])  # noqa: E731
    y, y_min, y_max = mx.nd.atac_int8_gate(
        mx.nd.array(g, dtype=g_dtype), one(-g_range), one(g_range),
        mx.nd.array(x, dtype=x_dtype), one(-x_range / 2), one(x_range),
        min_calib_range=lo, max_calib_range=hi)
    want, (want_min, want_max) = reference(g, g_range, x, x_range, lo, hi)
    assert y.dtype == (np.uint8 if lo >= 0 else np.int8) and y.shape == shape
    got = y.asnumpy().astype(np.float64)
    assert np.abs(got - want).max() <= 1  # float32 against float64: a step at most
    assert np.mean(got == want) > 0.99
    assert (y_min.asscalar(), y_max.asscalar()) == pytest.approx((want_min, want_max))
    # clipping reaches the calibrated bounds
    assert got.max() == want.max() and got.min() == want.min()


def test_gate_refuses_mismatched_shapes():
    ops.load()
    one = mx.nd.array([1.0])
    g = mx.nd.zeros((2, 3), dtype='int8')
    with pytest.raises(mx.base.MXNetError, match='same shape'):
        mx.nd.atac_int8_gate(g, one, one, mx.nd.zeros((2, 4), dtype='int8'), one, one,
                             min_calib_range=-1, max_calib_range=1).wait_to_read()


def test_build_is_cached_and_keyed(tmp_path, monkeypatch):
    monkeypatch.setenv('ATAC_GLUON_OPS_CACHE', str(tmp_path))
    path = ops.build()
    assert path.startswith(str(tmp_path)) and os.path.getsize(path) > 0
    stamp = os.stat(path).st_mtime_ns
    assert ops.build() == path and os.stat(path).st_mtime_ns == stamp  # not rebuilt
    monkeypatch.setenv('CXX', 'g++ -DATAC_OTHER_FLAGS')
    assert ops.library_path() != path  # another compiler command, another build


def test_build_failure_is_bad_input_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv('ATAC_GLUON_OPS_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('CXX', str(tmp_path / 'no-such-compiler'))
    with pytest.raises(BadInput, match='cannot build the atac_gluon operator library: .*'
                                       'no-such-compiler.*install a C\\+\\+ compiler'):
        ops.build()
    monkeypatch.setenv('CXX', 'g++ -include no-such-header.h')
    with pytest.raises(BadInput, match='cannot build the atac_gluon operator library: g\\+\\+ failed'):
        ops.build()
    assert os.listdir(str(tmp_path / 'cache')) == []
