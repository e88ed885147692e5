"""The MXNet measurements: fp32 hybridized and imperative training steps and inference, the
quantized networks of :mod:`atac_gluon.quantization`, and AMP bfloat16.

A training step is the training loop's own, :func:`atac_gluon.training.loop.train_step`
(forward and loss under ``autograd.record``, backward, the loss read back and checked, a
synchronisation point, ``trainer.step``), with train_cifar's NAG (lr 0.1, momentum 0.9,
wd 1e-4), without the data pipeline and the metric. Inference is ``net(x)`` and
``wait_to_read``. Inputs are random (seeded), the weights MSRAPrelu-initialised as train_cifar
does.

Import after the thread count is set (the worker is started with ``OMP_NUM_THREADS``).
"""
import time

import mxnet as mx
from mxnet import gluon

from ..activations import set_fused_gates
from ..models import get_model
from ..training.loop import train_step
from .bound import convolutions_only
from .plan import BOUND_CONFIGS, R50_MODEL
from .timing import compare_outputs, measure

__all__ = ['build_net', 'batch_of', 'step_function', 'time_net', 'run_fp32', 'run_quantized',
           'init_amp', 'mxnet_meta']

SEED = 0
OPTIMIZER = 'nag'
OPTIMIZER_PARAMS = {'learning_rate': 0.1, 'momentum': 0.9, 'wd': 1e-4}


def mxnet_meta():
    features = mx.runtime.Features()
    return {'mxnet': mx.__version__,
            'mxnet_features': {name: features.is_enabled(name)
                               for name in ('MKLDNN', 'OPENMP', 'BLAS_OPEN', 'BLAS_MKL',
                                            'CPU_AVX2')}}


def build_net(spec, ctx=None):
    """The spec's network, MSRAPrelu-initialised (train_cifar's initialisation), shapes
    inferred."""
    ctx = ctx or mx.cpu()
    kwargs = dict(classes=spec['classes'], act_type=spec['act_type'], r=2)
    if spec['model'] == R50_MODEL:
        kwargs['act_layers'] = 2
    else:
        kwargs['useReLU'] = True
    mx.random.seed(SEED)
    net = get_model(spec['model'], **kwargs)
    net.initialize(mx.init.MSRAPrelu(), ctx=ctx)
    net(mx.nd.zeros((1, 3, spec['image_size'], spec['image_size']), ctx=ctx))
    return net


def batch_of(spec, ctx=None, seed=SEED):
    ctx = ctx or mx.cpu()
    mx.random.seed(seed + 1)
    size = spec['image_size']
    x = mx.nd.random.normal(shape=(spec['batch'], 3, size, size), ctx=ctx)
    y = mx.nd.random.randint(0, spec['classes'], shape=(spec['batch'],), ctx=ctx)
    return x, y.astype('float32')


def step_function(net, spec, x, y, learning_rate=None):
    """(step, sync): ``step()`` runs ``net``'s training step or inference on the batch ``x``,
    ``y`` (``spec['mode']``), ``sync()`` waits for it. ``learning_rate`` replaces NAG's 0.1
    (the same kernels run whatever its value)."""
    if spec['mode'] == 'train':
        params = dict(OPTIMIZER_PARAMS)
        if learning_rate is not None:
            params['learning_rate'] = learning_rate
        trainer = gluon.Trainer(net.collect_params(), OPTIMIZER, params)
        loss = gluon.loss.SoftmaxCrossEntropyLoss()
        ctx = [x.context]

        def step():
            train_step(net, trainer, x, y, ctx, lambda output, target, data: loss(output, target))
        return step, mx.nd.waitall
    out = [None]

    def infer():
        out[0] = net(x)
    return infer, lambda: out[0].wait_to_read()


def time_net(net, spec, x, y, learning_rate=None):
    """Time ``net``'s training step or inference on the batch ``x``, ``y``."""
    step, sync = step_function(net, spec, x, y, learning_rate)
    return measure(step, sync, x.shape[0], spec['warmup'], spec['iterations'])


def run_fp32(spec):
    """fp32-hybrid (static_alloc, static_shape, as train_cifar --mode hybrid), fp32-imperative,
    fp32-hybrid-fused (:func:`atac_gluon.activations.set_fused_gates`); amp-bf16-hybrid in a
    process where :func:`init_amp` ran first; and the convolutions-only bounds (:mod:`atac_gluon.benchmark.bound`), hybridized, trained with learning rate 0 (a
    network without BatchNorm diverges in a few NAG steps at 0.1; the kernels are the same)."""
    net = build_net(spec)
    if spec['config'].endswith('-fused'):
        set_fused_gates(net)  # before hybridizing
    bound = spec['config'] in BOUND_CONFIGS
    if bound:
        net = convolutions_only(net)
    if spec['config'] != 'fp32-imperative':
        net.hybridize(static_alloc=True, static_shape=True)
    x, y = batch_of(spec)
    if bound:
        result = time_net(net, spec, x, y, learning_rate=0.0)
        result['note'] = ('upper bound: only the convolutions (and residual sums, pooling, '
                          'classifier) of the network%s; learning rate 0' % (
                              ', under AMP bfloat16' if 'amp' in spec['config'] else ''))
        return result
    result = time_net(net, spec, x, y)
    if spec['config'].startswith('amp-'):
        result['note'] = ('AMP bfloat16 (mx.contrib.amp.init(target_dtype="bfloat16") before '
                          'the network is built): outputs not compared (no fp32 op in that '
                          'process)')
    else:
        result['note'] = ('fp32, fused gates (atac_gluon.ops atac_gate)'
                          if spec['config'].endswith('-fused') else 'fp32')
    return result


def init_amp():
    """``mx.contrib.amp.init(target_dtype='bfloat16')`` with the ATAC gate's product kept in
    float32 (as :mod:`atac_gluon.quantization` does: AMP would multiply in bfloat16, on the
    default CPU kernels, 100 times slower). Must run before any network is built; it changes
    MXNet's operators for the whole process."""
    from mxnet.contrib import amp
    from mxnet.contrib.amp.lists import symbol_bf16
    from ..quantization import FLOAT_OPS
    amp.init(target_dtype='bfloat16', fp32_ops=symbol_bf16.FP32_FUNCS + list(FLOAT_OPS))


def run_quantized(specs, emit_each):
    """quantized-fp32/-int8/-bf16: ``quantize_model(net, mode, calib_batches)`` of one fp32
    network (which it leaves unchanged); outputs compared with that network's on the benchmark
    batch. ``emit_each(spec, fn)`` runs ``fn(spec)`` and records its result or its failure."""
    from ..quantization import quantize_model  # ImportError: every config unavailable
    net = build_net(specs[0])
    x, y = batch_of(specs[0])
    reference = net(x).asnumpy()

    def one(spec):
        mode = spec['config'].split('-')[1]  # quantized-MODE[-fused]
        fuse = spec['config'].endswith('-fused')
        calib = [batch_of(spec, seed=SEED + 10 + i) for i in range(spec['calib_batches'])]
        tic = time.perf_counter()
        qnet = quantize_model(net, mode, calib_batches=calib, ctx=mx.cpu(),
                              calib_mode=spec['calib_mode'], num_calib_batches=len(calib),
                              fuse_gates=fuse)
        seconds = time.perf_counter() - tic
        result = time_net(qnet, spec, x, y)
        result['check'] = compare_outputs(qnet(x).astype('float32').asnumpy(), reference)
        result['quantize_seconds'] = seconds
        result['note'] = 'quantize_model(net, %r%s)%s' % (
            mode, ', fuse_gates=True' if fuse else '',
            ', %s calibration on %d random batches' % (spec['calib_mode'], len(calib))
            if mode == 'int8' else '')
        return result
    for spec in specs:
        emit_each(spec, one)
