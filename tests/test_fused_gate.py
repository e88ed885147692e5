"""The fused float32 ATAC gate (atac_gluon.ops' atac_gate, ChaATAC.fused_gate,
set_fused_gates, --fused-gates): the operator against a NumPy reference and finite differences,
extreme and non-finite logits; a network with fused gates against the same network with MXNet's
operators (outputs, every gradient, a few training steps; hybridized, imperative, two
contexts); and the scripts' flag end to end."""
import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from atac_gluon import ops
from atac_gluon.activations import ChaATAC, set_fused_gates
from atac_gluon.benchmark.bound import op_counts
from atac_gluon.errors import BadInput
from atac_gluon.models import get_model
from atac_gluon.training.devices import fuse_gates

from .helpers.scripts import offline_env, records, run, script_path

SHAPE = (4, 6, 5, 5)


def reference(x, g, dy):
    """y = x * sigmoid(g), dx = dy * s, dg = dy * x * s * (1 - s), in float64, with 1 - s as
    sigmoid(-g) (1 - s itself loses the digits of a small 1 - s even in float64)."""
    x, g, dy = (a.astype(np.float64) for a in (x, g, dy))
    with np.errstate(over='ignore'):
        s, one_minus_s = 1.0 / (1.0 + np.exp(-g)), 1.0 / (1.0 + np.exp(g))
    return x * s, dy * s, dy * x * s * one_minus_s


def fused(x, g, dy):
    """The operator's output and gradients (x and g as NDArrays with gradients)."""
    ops.load()
    x, g = mx.nd.array(x), mx.nd.array(g)
    x.attach_grad()
    g.attach_grad()
    with autograd.record():
        y = mx.nd.atac_gate(x, g)
    y.backward(mx.nd.array(dy))
    return y.asnumpy(), x.grad.asnumpy(), g.grad.asnumpy()


def test_operator_matches_the_reference_over_the_logit_range():
    rng = np.random.RandomState(0)
    x = rng.normal(size=SHAPE).astype(np.float32)
    dy = rng.normal(size=SHAPE).astype(np.float32)
    # logits from -100 to 100: both branches of the sigmoid, its saturation, the exp's clamp
    g = np.linspace(-100, 100, x.size).astype(np.float32).reshape(SHAPE)
    g.flat[::7] = rng.normal(scale=3, size=g.flat[::7].shape)
    for got, want in zip(fused(x, g, dy), reference(x, g, dy)):
        # relative to each value, however small (down to exp(-87), where the exp is clamped):
        # no cancellation in 1 - s
        normal = np.abs(want) > 1e-36
        np.testing.assert_allclose(got[normal], want[normal], rtol=1e-6, atol=0)
        assert np.all(np.abs(got[~normal]) < 1e-36)


def test_non_finite_logits_behave_like_mxnets_sigmoid():
    x = np.full((1, 1, 1, 4), 2.0, np.float32)
    g = np.array([np.inf, -np.inf, np.nan, 0.0], np.float32).reshape(x.shape)
    y, dx, dg = fused(x, g, np.ones_like(x))
    assert y[0, 0, 0, 0] == 2.0 and abs(y[0, 0, 0, 1]) < 1e-30 and np.isnan(y[0, 0, 0, 2])
    assert y[0, 0, 0, 3] == 1.0
    assert np.isnan(dx[0, 0, 0, 2]) and np.isnan(dg[0, 0, 0, 2])  # a NaN is not hidden
    assert dg[0, 0, 0, 3] == pytest.approx(0.5)  # dy * x * 1/4


def test_gradient_by_finite_differences():
    ops.load()
    rng = np.random.RandomState(1)
    x = rng.normal(size=(2, 3, 4, 4))
    g = rng.normal(scale=2, size=(2, 3, 4, 4))
    sym = mx.sym.atac_gate(mx.sym.var('x'), mx.sym.var('g'))
    mx.test_utils.check_numeric_gradient(sym, {'x': x, 'g': g}, numeric_eps=1e-2, rtol=1e-2,
                                         atol=1e-3, dtype=np.float32)


def test_only_float32_is_accepted():
    ops.load()
    half = mx.nd.ones(SHAPE, dtype='float16')
    with pytest.raises(mx.base.MXNetError, match='float32'):
        mx.nd.atac_gate(half, half).wait_to_read()
    with pytest.raises(mx.base.MXNetError, match='same shape'):
        mx.nd.atac_gate(mx.nd.ones(SHAPE), mx.nd.ones((4, 6, 5, 4))).wait_to_read()


# --- ChaATAC and networks --------------------------------------------------------------------

def _pair(name='cifar_resnet8_v2_atac', ctx=None, **kwargs):
    """The same initialised network twice: MXNet's operators, fused gates."""
    ctx = ctx or [mx.cpu()]
    nets = []
    for _ in range(2):
        mx.random.seed(4)
        net = get_model(name, classes=10, r=2, useReLU=True, **kwargs)
        net.initialize(mx.init.MSRAPrelu(), ctx=ctx)
        net(mx.nd.zeros((1, 3, 32, 32), ctx=ctx[0]))  # initialised now, from this seed
        nets.append(net)
    return nets


def _train(net, x, y, steps, hybrid):
    if hybrid:
        net.hybridize(static_alloc=True, static_shape=True)
    trainer = gluon.Trainer(net.collect_params(), 'nag', {'learning_rate': 0.1, 'momentum': 0.9,
                                                          'wd': 1e-4})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    losses = []
    for _ in range(steps):
        with autograd.record():
            losses.append([loss_fn(net(xs), ys) for xs, ys in zip(x, y)])
        for loss in losses[-1]:
            loss.backward()
        trainer.step(sum(xs.shape[0] for xs in x))
    named = net._collect_params_with_prefix().items()  # structural names: both nets alike
    grads = {name: p.list_grad()[0].asnumpy() for name, p in named if p.grad_req != 'null'}
    params = {name: p.list_data()[0].asnumpy() for name, p in named}
    return [sum(l.sum().asscalar() for l in step) for step in losses], grads, params


@pytest.mark.parametrize('hybrid,contexts', [(True, 1), (False, 1), (True, 2)])
def test_a_network_with_fused_gates_trains_as_with_mxnets_operators(hybrid, contexts):
    ctx = [mx.cpu(i) for i in range(contexts)]
    stock, fused_net = _pair(ctx=ctx)
    assert set_fused_gates(fused_net) == 7  # the ResNet-8's local units
    rng = np.random.RandomState(5)
    x = rng.normal(size=(8, 3, 32, 32)).astype(np.float32)
    y = rng.randint(0, 10, 8).astype(np.float32)
    parts = [(mx.nd.array(xs, ctx=c), mx.nd.array(ys, ctx=c))
             for xs, ys, c in zip(np.split(x, contexts), np.split(y, contexts), ctx)]
    xs, ys = zip(*parts)
    want = _train(stock, xs, ys, 3, hybrid)
    got = _train(fused_net, xs, ys, 3, hybrid)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-4)
    assert got[1].keys() == want[1].keys()
    for name in want[1]:  # the last step's gradients, after two steps of training
        scale = np.abs(want[1][name]).max()
        np.testing.assert_allclose(got[1][name], want[1][name], rtol=0, atol=1e-3 * scale + 1e-7,
                                   err_msg=name)
    for name in want[2]:
        if contexts > 1 and 'running_' in name:
            # MXNet's own network gives other BatchNorm running statistics from one identical
            # run to the next on 2 contexts (hybridized: 8 of 11 repeats in one process, up to
            # 0.11 apart), so they cannot be held to the fused network's
            continue
        np.testing.assert_allclose(got[2][name], want[2][name], rtol=1e-4, atol=1e-5,
                                   err_msg=name)


def test_switching_changes_the_traced_operators_only():
    stock, net = _pair()
    data = mx.sym.var('data')
    before = op_counts(net(data))
    assert set_fused_gates(net) == 7
    fused_ops = op_counts(net(data))
    assert fused_ops['atac_gate'] == 7 and 'elemwise_mul' not in fused_ops
    assert fused_ops['Activation'] == before['Activation'] - 7  # the sigmoids went
    assert set_fused_gates(net, enabled=False) == 7
    assert op_counts(net(data)) == before
    assert sorted(net._collect_params_with_prefix()) == sorted(
        stock._collect_params_with_prefix())


def test_global_units_keep_mxnets_operators():
    _, net = _pair(useGlobal=True)
    assert set_fused_gates(net) == 0
    assert 'atac_gate' not in op_counts(net(mx.sym.var('data')))
    assert all(not u.fused_gate for u in _units(net))


@pytest.mark.parametrize('dtype,ctx,message', [
    ('float16', [mx.cpu()], 'is float32 only, not --dtype float16'),
    ('float32', [mx.gpu(0), mx.gpu(1)], r'runs on the CPU only, not on \[gpu\(0\), gpu\(1\)\]'),
])
def test_the_flag_refuses_what_the_operator_cannot_run(dtype, ctx, message):
    # float16 and GPUs: the scripts' runs on GPUs (none here); the check comes first
    _, net = _pair()
    with pytest.raises(BadInput, match='--fused-gates: the fused gate ' + message):
        fuse_gates(net, dtype, ctx)
    assert not any(u.fused_gate for u in _units(net))


def _units(net):
    found = []
    net.apply(lambda b: found.append(b) if isinstance(b, ChaATAC) else None)
    return found


# --- the scripts ---------------------------------------------------------------------------

DIGITS = ['--dataset', 'digits', '--blocks', '1', '--useReLU', '--mode', 'hybrid', '-j', '0',
          '--num-epochs', '1', '--batch-size', '64', '--cpu-threads', '1', '--seed', '3']


@pytest.mark.slow
def test_fused_gates_flag_trains_and_exports_without_the_operator(tmp_path):
    out = tmp_path / 'fused'
    proc = run('train_cifar.py', DIGITS + ['--fused-gates', '--export', '--save-dir', str(out),
                                           '--save-plot-dir', str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'fused ATAC gates: 7 units' in proc.stderr + proc.stdout
    stock = tmp_path / 'stock'
    proc = run('train_cifar.py', DIGITS + ['--save-dir', str(stock), '--save-plot-dir',
                                           str(stock)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # one epoch (22 steps at lr 0.1): the same run but for rounding, which grows with each
    # step (the fused gradient is the more exact one: MXNet's takes 1 - s from a rounded s);
    # the three-step test above holds the tight bound
    fused_record, stock_record = records(out)[-1], records(stock)[-1]
    assert fused_record['train_loss'] == pytest.approx(stock_record['train_loss'], rel=2e-2)
    # the export is MXNet's operators: it loads where the library is not
    with open(str(out / 'ResNet20_b_1_ChaATAC-symbol.json')) as f:
        graph = json.load(f)
    kinds = {node['op'] for node in graph['nodes']}
    assert 'atac_gate' not in kinds and 'elemwise_mul' in kinds
    assert os.path.exists(str(out / 'ResNet20_b_1_ChaATAC.onnx'))


def test_without_a_compiler_the_flag_fails_first_and_writes_nothing(tmp_path):
    env = dict(offline_env(tmp_path), CXX=str(tmp_path / 'no-such-compiler'),
               ATAC_GLUON_OPS_CACHE=str(tmp_path / 'cache'))
    proc = subprocess.run([sys.executable, script_path('train_cifar.py')] + DIGITS + [
        '--fused-gates', '--save-dir', 'run', '--save-plot-dir', 'run'], cwd=str(tmp_path),
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.splitlines()[-1].startswith(
        'error: --fused-gates: cannot build the atac_gluon operator library: ')
    assert 'install a C++ compiler' in proc.stderr
    assert not (tmp_path / 'run').exists()


def test_an_older_library_loaded_first_is_named(tmp_path):
    """A process that loaded an export's copy of a library without atac_gate (the int8 gate
    alone, as before atac_gate existed) cannot fuse: BadInput names the library."""
    code = '''
import atac_gluon.compat
import mxnet as mx
from atac_gluon import ops
from atac_gluon.activations import set_fused_gates
from atac_gluon.errors import BadInput
from atac_gluon.models import get_model
ops.SOURCES = ops.SOURCES[:1]
path = ops.load()
net = get_model('cifar_resnet8_v2_atac', classes=10)
try:
    set_fused_gates(net)
except BadInput as err:
    print('refused:', err)
'''
    env = dict(offline_env(tmp_path), ATAC_GLUON_OPS_CACHE=str(tmp_path / 'cache'))
    proc = subprocess.run([sys.executable, '-c', code], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'refused: the operator library %s' % str(tmp_path / 'cache') in proc.stdout
    assert 'has no atac_gate' in proc.stdout
