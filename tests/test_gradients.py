"""Every act_type: hybridized == imperative (outputs and gradients) == finite differences."""
import mxnet as mx
import numpy as np
import pytest

from atac_gluon import ACT_TYPES, ResNet20V2ATAC
from tests.helpers.gradcheck import finite_difference, forward_backward, random_indices

# (step, relative tolerance) of the central differences. MXNet evaluates gelu's erf to ~1e-7
# even in float64, so gelu's differences need a larger step and agree to ~1e-3 only.
FD = {'gelu': (1e-3, 2e-3)}


def tiny_host(act_type, useGlobal=False):
    return ResNet20V2ATAC(layers=[1, 1], channels=[4, 4, 8], classes=3, act_type=act_type, r=2,
                          skernel=3, dilation=1, useReLU=True, useGlobal=useGlobal,
                          act_layers=4, replace_act='relu', act_order='bac', asBackbone=False)


def initialized(act_type, dtype='float32', useGlobal=False):
    net = tiny_host(act_type, useGlobal)
    net.initialize(mx.init.Xavier(magnitude=2.0))
    net(mx.nd.zeros((2, 3, 8, 8)))
    rng = np.random.RandomState(1)
    for p in net.collect_params().values():  # alphas, gammas and betas away from their init
        if p.name.endswith(('alpha', 'gamma', 'beta')):
            p.set_data(mx.nd.array(rng.uniform(0.3, 1.2, p.shape)))
    net.cast(dtype)
    return net


def inputs(dtype='float32'):
    rng = np.random.RandomState(2)
    x = mx.nd.array(rng.randn(4, 3, 8, 8), dtype=dtype)
    head = mx.nd.array(rng.randn(4, 3), dtype=dtype)
    return x, head


@pytest.mark.parametrize('act_type', ACT_TYPES)
def test_hybrid_equals_imperative(act_type):
    net = initialized(act_type)
    x, head = inputs()
    out_imp, grads_imp = forward_backward(net, x, head)
    net.hybridize(static_alloc=True, static_shape=True)
    out_hyb, grads_hyb = forward_backward(net, x, head)
    np.testing.assert_allclose(out_hyb, out_imp, rtol=1e-5, atol=1e-6)
    assert grads_hyb.keys() == grads_imp.keys()
    for name in grads_imp:
        np.testing.assert_allclose(grads_hyb[name], grads_imp[name], rtol=1e-4, atol=1e-6,
                                   err_msg=name)


@pytest.mark.parametrize('hybrid', [False, True])
@pytest.mark.parametrize('act_type,useGlobal', [(a, False) for a in ACT_TYPES]
                         + [('ChaATAC', True)])
def test_gradients_match_finite_differences(act_type, useGlobal, hybrid):
    net = initialized(act_type, 'float64', useGlobal)
    if hybrid:
        net.hybridize()
    x, head = inputs('float64')
    _, grads = forward_backward(net, x, head)
    rng = np.random.RandomState(3)
    params = net.collect_params()
    step, rtol = FD.get(act_type, (1e-6, 1e-4))
    checked = 0
    for name, grad in grads.items():
        if name != 'input' and not name.endswith(('alpha', 'weight', 'gamma')):
            continue
        data = x if name == 'input' else params[name].data()
        for index in random_indices(grad.shape, 2, rng):
            numeric = finite_difference(net, x, head, data, index, step)
            assert abs(numeric - grad[index]) <= 1e-5 + rtol * abs(numeric), \
                (name, index, numeric, grad[index])
            checked += 1
    assert checked >= 10
