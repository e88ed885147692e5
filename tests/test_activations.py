import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd
from mxnet.gluon import nn

from atac_gluon import ACT_TYPES, SELU, ChaATAC, PReLU, create_act

EPS = 1e-5  # BatchNorm epsilon of Gluon's default


def np_batchnorm(x, gamma, beta, mean, var, train):
    if train:
        mean = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))
    shape = (1, -1, 1, 1)
    return (gamma.reshape(shape) * (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + EPS)
            + beta.reshape(shape))


def np_chaatac(x, p, useReLU, useGlobal, train):
    """NumPy reference of the unit; p maps 'conv1', 'bn1', 'conv2', 'bn2' to arrays."""
    h = x.mean(axis=(2, 3), keepdims=True) if useGlobal else x
    h = np.einsum('oc,nchw->nohw', p['conv1'][:, :, 0, 0], h)
    h = np_batchnorm(h, *p['bn1'], train=train)
    if useReLU:
        h = np.maximum(h, 0)
    h = np.einsum('oc,nchw->nohw', p['conv2'][:, :, 0, 0], h)
    h = np_batchnorm(h, *p['bn2'], train=train)
    return x / (1 + np.exp(-h))


def randomize(unit, rng):
    """Give every parameter (running statistics included) random values; return them by layer."""
    convs = [b for b in unit.module if isinstance(b, nn.Conv2D)]
    bns = [b for b in unit.module if isinstance(b, nn.BatchNorm)]
    out = {}
    for i, (conv, bn) in enumerate(zip(convs, bns), 1):
        conv.weight.set_data(mx.nd.array(rng.randn(*conv.weight.shape)))
        stats = []
        for name in ('gamma', 'beta', 'running_mean', 'running_var'):
            p = getattr(bn, name)
            value = rng.rand(*p.shape) + 0.5 if name in ('gamma', 'running_var') \
                else rng.randn(*p.shape)
            p.set_data(mx.nd.array(value))
            stats.append(value)
        out['conv%d' % i] = conv.weight.data().asnumpy()
        out['bn%d' % i] = stats
    return out


@pytest.mark.parametrize('useGlobal', [False, True])
@pytest.mark.parametrize('useReLU', [False, True])
@pytest.mark.parametrize('train', [False, True])
@pytest.mark.parametrize('hybrid', [False, True])
def test_chaatac_matches_numpy_reference(useGlobal, useReLU, train, hybrid):
    rng = np.random.RandomState(0)
    unit = ChaATAC(channels=6, r=2, useReLU=useReLU, useGlobal=useGlobal)
    unit.initialize()
    params = randomize(unit, rng)
    if hybrid:
        unit.hybridize()
    x = rng.randn(4, 6, 5, 5)
    with autograd.train_mode() if train else autograd.predict_mode():
        got = unit(mx.nd.array(x)).asnumpy()
    want = np_chaatac(x, params, useReLU, useGlobal, train)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('useReLU,useGlobal,layers', [
    (True, False, ['Conv2D', 'BatchNorm', 'Activation', 'Conv2D', 'BatchNorm', 'Activation']),
    (False, False, ['Conv2D', 'BatchNorm', 'Conv2D', 'BatchNorm', 'Activation']),
    (True, True, ['GlobalAvgPool2D', 'Conv2D', 'BatchNorm', 'Activation', 'Conv2D', 'BatchNorm',
                  'Activation']),
])
def test_chaatac_structure_and_parameter_names(useReLU, useGlobal, layers):
    unit = ChaATAC(16, 4, useReLU=useReLU, useGlobal=useGlobal)
    assert [type(b).__name__ for b in unit.module] == layers
    unit.initialize()
    unit(mx.nd.zeros((1, 16, 3, 3)))
    names = {k: v.shape for k, v in unit._collect_params_with_prefix().items()}
    first = 1 if useGlobal else 0
    second = first + (3 if useReLU else 2)
    assert names['module.%d.weight' % first] == (4, 16, 1, 1)
    assert names['module.%d.weight' % second] == (16, 4, 1, 1)
    assert names['module.%d.gamma' % (second + 1)] == (16,)
    assert len(names) == 2 + 2 * 4


def test_chaatac_global_weight_is_per_channel():
    unit = ChaATAC(8, 2, useReLU=True, useGlobal=True)
    unit.initialize()
    x = mx.nd.random.uniform(0.5, 1.5, shape=(2, 8, 4, 4))
    ratio = (unit(x) / x).asnumpy()
    # one weight per (sample, channel), the same at every pixel, strictly between 0 and 1
    np.testing.assert_allclose(ratio, ratio[:, :, :1, :1].repeat(4, 2).repeat(4, 3), rtol=1e-5)
    assert ((ratio > 0) & (ratio < 1)).all()


@pytest.mark.parametrize('kwargs,message', [
    (dict(channels=16, r=0), 'r must be positive'),
    (dict(channels=16, r=-1), 'r must be positive'),
    (dict(channels=4, r=8), 'channels // r'),
    (dict(channels=16, r=2.5), 'r must be an integer'),
    (dict(channels=16.0, r=2), 'channels must be an integer'),
    (dict(channels=0, r=2), 'channels must be positive'),
    (dict(channels=16, r=True), 'r must be an integer'),
])
def test_chaatac_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ChaATAC(useReLU=True, useGlobal=False, **kwargs)


def test_create_act_names_and_errors():
    assert ACT_TYPES == ('relu', 'prelu', 'elu', 'selu', 'gelu', 'swish', 'ChaATAC')
    kinds = {name: type(create_act(name, channels=8, r=2)).__name__ for name in ACT_TYPES}
    assert kinds == {'relu': 'Activation', 'prelu': 'PReLU', 'elu': 'ELU', 'selu': 'SELU',
                     'gelu': 'GELU', 'swish': 'Swish', 'ChaATAC': 'ChaATAC'}
    with pytest.raises(ValueError, match='unknown act_type .xUnit.*relu, prelu, elu'):
        create_act('xUnit')


@pytest.mark.parametrize('in_channels', [1, 3])
def test_prelu_matches_gluon_and_keeps_its_parameter(in_channels):
    ours, theirs = PReLU(in_channels=in_channels), nn.PReLU(in_channels=in_channels)
    for block in (ours, theirs):
        block.initialize(mx.init.Uniform(1.0))
    theirs.alpha.set_data(ours.alpha.data())
    assert list(ours._collect_params_with_prefix()) == ['alpha']
    x = mx.nd.random.normal(shape=(2, 3, 4, 4))
    np.testing.assert_allclose(ours(x).asnumpy(), theirs(x).asnumpy(), rtol=1e-6)
    grads = []
    for block in (ours, theirs):
        with autograd.record():
            y = (block(x) * x).sum()
        y.backward()
        grads.append(block.alpha.grad().asnumpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5)


def test_selu_value_and_gradient_are_exact():
    x = mx.nd.array(np.linspace(-3, 3, 13), dtype='float64')
    x.attach_grad()
    with autograd.record():
        y = SELU()(x)
    y.backward()
    xn = x.asnumpy()
    scale, alpha = SELU.SCALE, SELU.ALPHA
    np.testing.assert_allclose(y.asnumpy(), scale * np.where(xn > 0, xn, alpha * np.expm1(xn)),
                               rtol=1e-12)
    want = np.where(xn > 0, scale, scale * alpha * np.exp(xn))
    np.testing.assert_allclose(x.grad.asnumpy()[xn != 0], want[xn != 0], rtol=1e-12)
    # same forward as Gluon's SELU
    np.testing.assert_allclose(y.asnumpy(), nn.SELU()(x).asnumpy(), rtol=1e-6)
