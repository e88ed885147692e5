"""The convolutions-only bound (atac_gluon.benchmark.bound): every convolution of the network
kept, with its shape and a gradient, nothing else of the ATAC units left; under AMP the
convolutions still run in bfloat16; a global unit is refused."""
import json
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from atac_gluon.benchmark.bound import PASSED_THROUGH, convolutions_only, op_counts
from atac_gluon.models import get_model

from .helpers.scripts import ROOT


def _net(name='cifar_resnet8_v2_atac', **kwargs):
    mx.random.seed(0)
    net = get_model(name, classes=10, r=2, useReLU=True, **kwargs)
    net.initialize(mx.init.MSRAPrelu())
    net(mx.nd.zeros((1, 3, 32, 32)))
    return net


def _conv_shapes(block):
    return sorted((name.split('_conv')[-1], tuple(p.shape))
                  for name, p in block.collect_params().items() if name.endswith('_weight')
                  and p.data().ndim == 4)


@pytest.mark.parametrize('name', ['cifar_resnet8_v2_atac', 'cifar_resnet20_v2_atac'])
def test_only_the_convolutions_remain(name):
    net = _net(name)
    data = mx.sym.var('data')
    full, reduced = op_counts(net(data)), op_counts(convolutions_only(net)(data))
    assert reduced['Convolution'] == full['Convolution']
    assert full['elemwise_mul'] and full['BatchNorm'] and full['Activation']
    assert not set(reduced) & (set(PASSED_THROUGH) | {'elemwise_mul'})
    assert reduced['elemwise_add'] == full['elemwise_add']  # the residual sums stay
    # the same convolution weights (names and shapes), nothing else but the classifier
    bound = convolutions_only(net)
    assert _conv_shapes(bound) == _conv_shapes(net)
    assert {n for n in bound.collect_params() if 'conv' not in n} == {
        n for n in net.collect_params() if 'dense' in n}


def test_every_convolution_gets_a_gradient_and_the_step_is_finite():
    bound = convolutions_only(_net())
    bound.hybridize(static_alloc=True, static_shape=True)
    x = mx.nd.array(np.random.RandomState(0).normal(size=(4, 3, 32, 32)))
    with autograd.record():
        out = bound(x)
        loss = mx.nd.softmax_cross_entropy(out, mx.nd.array([0, 1, 2, 3]))
    loss.backward()
    assert out.shape == (4, 10) and np.isfinite(out.asnumpy()).all()
    for name, param in bound.collect_params().items():
        assert np.abs(param.grad().asnumpy()).max() > 0, name


def test_fused_gates_are_reduced_alike():
    from atac_gluon.activations import set_fused_gates
    net = _net()
    convs = op_counts(net(mx.sym.var('data')))['Convolution']
    assert set_fused_gates(net) == 7
    reduced = op_counts(convolutions_only(net)(mx.sym.var('data')))
    assert reduced['Convolution'] == convs and 'atac_gate' not in reduced


def test_a_global_unit_is_refused():
    with pytest.raises(ValueError, match='broadcast_mul.*useGlobal'):
        convolutions_only(_net(useGlobal=True))


def test_under_amp_the_convolutions_stay_bfloat16():
    """amp.init changes MXNet for the whole process: a subprocess. Symbol.tojson drops AMP's
    casts unless told not to; then the bound would run in float32."""
    code = r'''
import json, atac_gluon.compat, mxnet as mx
from atac_gluon.benchmark.mxnet_runs import init_amp
init_amp()
from atac_gluon.models import get_model
from atac_gluon.benchmark.bound import convolutions_only, op_counts
net = get_model('cifar_resnet8_v2_atac', classes=10, r=2, useReLU=True)
net.initialize(mx.init.MSRAPrelu())
net(mx.nd.zeros((1, 3, 32, 32)))
sym = convolutions_only(net)(mx.sym.var('data'))
internals = sym.get_internals()
_, types, _ = internals.infer_type(data='float32')
conv = [str(t) for name, t in zip(internals.list_outputs(), types)
        if name.endswith('_fwd_output') and 'conv' in name]
print(json.dumps({'conv_dtypes': conv, 'ops': op_counts(sym),
                  'full_ops': op_counts(net(mx.sym.var('data')))}))
'''
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    convs = doc['full_ops']['Convolution']
    assert doc['ops']['Convolution'] == convs and len(doc['conv_dtypes']) == convs
    assert all('bfloat16' in t for t in doc['conv_dtypes']), doc['conv_dtypes']
    # the gates' float32 multicasts went with the products; the residual sums keep theirs
    assert doc['ops'].get('amp_multicast', 0) == doc['ops']['elemwise_add']
