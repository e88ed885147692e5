"""The ONNX files of :mod:`atac_gluon.deployment`: ``data`` the only graph input, the weights
initializers, a symbolic batch dimension, the BatchNorms after convolutions folded into them;
onnxruntime and OpenCV's dnn agree with MXNet at several batch sizes. Random networks, no
training: fast."""
import collections

import cv2
import mxnet as mx
import numpy as np
import onnx
import onnxruntime
import pytest

import atac_gluon
from atac_gluon import deployment
from atac_gluon.deployment import ONNX_BATCH, ONNX_OPSET, export_all

RTOL = 1e-4  # of the largest output; measured: below 1e-6 with onnxruntime and OpenCV


def random_network(name, shape, **kwargs):
    """Registered model ``name`` with random weights and random BatchNorm statistics, so no
    BatchNorm is the identity; the ``fix_gamma`` gammas too (MXNet ignores them, the export sets
    them to 1)."""
    net = atac_gluon.get_model(name, **kwargs)
    net.initialize(mx.init.Xavier(magnitude=2))
    net(mx.nd.zeros(shape))
    rng = np.random.RandomState(0)
    for param_name, param in sorted(net.collect_params().items()):
        if param_name.endswith(('running_var', 'gamma')):
            param.set_data(mx.nd.array(rng.uniform(0.5, 1.5, param.shape)))
        elif param_name.endswith(('running_mean', 'beta')):
            param.set_data(mx.nd.array(rng.randn(*param.shape) * 0.1))
    return net


def exported(tmp_path_factory, name, shape, **kwargs):
    """(network, its ONNX file) after export_all with the batch size of ``shape``."""
    net = random_network(name, shape, **kwargs)
    prefix = str(tmp_path_factory.mktemp(name) / name)
    files = export_all(net, prefix, shape)
    assert files[-1] == prefix + '.onnx'
    return net, files[-1]


@pytest.fixture(scope='module')
def cifar(tmp_path_factory):
    """ResNet-20 ATAC (b=3, r=2, useReLU), traced at batch 1."""
    return exported(tmp_path_factory, 'cifar_resnet20_v2_atac', (1, 3, 32, 32), classes=10,
                    useReLU=True)


@pytest.fixture(scope='module')
def imagenet(tmp_path_factory):
    """ResNet-18 v1b ATAC (act_layers 2, a projection shortcut per stage) at 64x64."""
    return exported(tmp_path_factory, 'resnet18_v1b_atac', (1, 3, 64, 64), act_layers=2)


def relative_error(got, want):
    return np.abs(got - want).max() / np.abs(want).max()


def dims(value):
    return [dim.dim_param or dim.dim_value for dim in value.type.tensor_type.shape.dim]


def batches_agree(net, run, batches, size):
    """Runs ``run`` (an array -> outputs) at each batch size in turn, against MXNet."""
    rng = np.random.RandomState(1)
    for batch in batches:
        x = rng.randn(batch, 3, size, size).astype(np.float32)
        got = run(x)
        want = net(mx.nd.array(x)).asnumpy()
        assert got.shape == want.shape
        assert relative_error(got, want) <= RTOL, (batch, relative_error(got, want))


def test_data_is_the_only_input_and_the_batch_is_symbolic(cifar):
    _, path = cifar
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert [(op.domain, op.version) for op in model.opset_import] == [('', ONNX_OPSET)]
    assert model.ir_version == onnx.helper.find_min_ir_version_for(model.opset_import)
    graph = model.graph
    assert [value.name for value in graph.input] == ['data']
    assert dims(graph.input[0]) == [ONNX_BATCH, 3, 32, 32]
    assert [dims(value) for value in graph.output] == [[ONNX_BATCH, 10]]
    weights = {tensor.name for tensor in graph.initializer}
    read = {name for node in graph.node for name in node.input}
    assert read - weights <= {'data'} | {node.output[0] for node in graph.node}
    assert weights <= read  # the BatchNorms folded away left no weight behind
    ops = collections.Counter(node.op_type for node in graph.node)
    assert 'Reshape' not in ops and ops['Flatten'] == 2  # the batch is never spelt out
    # folded: every BatchNorm that alone reads a convolution's output; left: the pre-activation
    # ones, after data, an Add, or the stem convolution (whose output the shortcut reads too)
    readers = collections.Counter(name for node in graph.node for name in node.input)
    convs = {node.output[0] for node in graph.node if node.op_type == 'Conv'}
    assert not any(node.op_type == 'BatchNormalization' and node.input[0] in convs
                   and readers[node.input[0]] == 1 for node in graph.node)
    assert ops['BatchNormalization'] == 11


def test_onnxruntime_matches_mxnet_at_any_batch_without_warnings(cifar, capfd):
    net, path = cifar
    capfd.readouterr()
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    batches_agree(net, lambda x: session.run(None, {'data': x})[0], [1, 7, 2], 32)
    assert 'nitializer' not in capfd.readouterr().err  # no "appears in graph inputs" warnings


def test_opencv_matches_mxnet_at_any_batch(cifar):
    net, path = cifar
    cv_net = cv2.dnn.readNetFromONNX(path)

    def run(x):
        cv_net.setInput(x)
        return cv_net.forward()
    batches_agree(net, run, [1, 7, 1], 32)


def test_imagenet_resnet_at_any_batch_in_onnxruntime_and_opencv(imagenet):
    net, path = imagenet
    graph = onnx.load(path).graph
    assert [value.name for value in graph.input] == ['data']
    assert [dims(value) for value in graph.output] == [[ONNX_BATCH, 1000]]
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    batches_agree(net, lambda x: session.run(None, {'data': x})[0], [2, 3], 64)
    cv_net = cv2.dnn.readNetFromONNX(path)

    def run(x):
        cv_net.setInput(x)
        return cv_net.forward()
    batches_agree(net, run, [2, 3], 64)  # one Net, two batch sizes
    # every BatchNorm follows a convolution: all folded. Unfolded, OpenCV 4.10's own fusion
    # computes garbage from the second batch size on (Conv+BN on both inputs of a shortcut Add)
    assert 'BatchNormalization' not in {node.op_type for node in graph.node}


def test_a_failed_onnx_conversion_leaves_nothing(tmp_path, monkeypatch):
    net = random_network('cifar_resnet8_v2_atac', (1, 3, 32, 32))

    def fail(*args):
        raise RuntimeError('conversion failed')
    monkeypatch.setattr(deployment, 'export_onnx', fail)
    with pytest.raises(RuntimeError, match='conversion failed'):
        export_all(net, str(tmp_path / 'r8'), (1, 3, 32, 32))
    assert list(tmp_path.iterdir()) == []
