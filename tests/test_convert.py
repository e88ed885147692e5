"""atac_gluon.convert (atac_gluon/conversion.py): ReLUs of GluonCV and user networks replaced by
ATAC units."""
import json
import logging

import numpy as np
import pytest

import atac_gluon
from atac_gluon.activations import ACT_TYPES, ChaATAC
from atac_gluon.conversion import CALL_PREFIX
from atac_gluon.errors import BadInput
from atac_gluon.onednn import settle_weights
import mxnet as mx
from mxnet import autograd, gluon
from mxnet.gluon import nn
from gluoncv.model_zoo import get_model

# family -> smallest input the network takes; the heavy ones train and compare under `slow`
SHAPES = {'resnet18_v1': (2, 3, 32, 32), 'resnet18_v2': (2, 3, 32, 32),
          'resnet50_v1b': (2, 3, 64, 64), 'mobilenet1.0': (2, 3, 32, 32),
          'mobilenetv2_1.0': (2, 3, 32, 32), 'vgg11_bn': (2, 3, 32, 32),
          'densenet121': (1, 3, 224, 224), 'cifar_resnet20_v1': (2, 3, 32, 32),
          'cifar_wideresnet16_10': (2, 3, 32, 32), 'user': (2, 3, 16, 16)}
HEAVY = {'resnet50_v1b', 'mobilenet1.0', 'densenet121', 'cifar_wideresnet16_10'}
FAMILIES = [pytest.param(name, marks=pytest.mark.slow) if name in HEAVY else name
            for name in SHAPES]


class UserBlock(nn.HybridBlock):
    """A user's block: functional ReLU calls (both spellings) around a child conv."""

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.conv = nn.Conv2D(channels, 3, padding=1)

    def hybrid_forward(self, F, x):
        y = F.relu(self.conv(x))
        return F.Activation(x + y, act_type='relu')


def user_net():
    net = nn.HybridSequential()
    with net.name_scope():
        net.add(nn.Conv2D(8, 3, padding=1, activation='relu'), nn.BatchNorm(),
                nn.Activation('relu'), UserBlock(8), nn.Activation('sigmoid'),
                nn.GlobalAvgPool2D(), nn.Dense(16, activation='relu'), nn.Dense(10))
    return net


def build(name):
    net = user_net() if name == 'user' else get_model(name, pretrained=False)
    # VGG's dropout would draw other masks in each run that is compared
    net.apply(lambda b: setattr(b, '_rate', 0) if isinstance(b, nn.Dropout) else None)
    return net


def relu_count(net, shape):
    """ReLU (and ReLU6 clip) operators in the traced graph."""
    nodes = json.loads(net(mx.sym.var('data')).tojson())['nodes']
    relus = sum(1 for n in nodes if n['op'] == 'relu' or (
        n['op'] == 'Activation' and n.get('attrs', {}).get('act_type') == 'relu'))
    clips = sum(1 for n in nodes if n['op'] == 'clip' and float(n['attrs']['a_max']) == 6)
    return relus + clips


def structural(net):
    return {k: v.data().asnumpy().copy() for k, v in net._collect_params_with_prefix().items()}


def unit_at(net, name):
    block = net
    for key in name.split('.'):
        block = block._children[key]
    return block


@pytest.mark.parametrize('name', [n if n != 'densenet121' else pytest.param(
    n, marks=pytest.mark.slow) for n in SHAPES])
def test_every_relu_replaced_with_right_channels(name):
    net = build(name)
    shape = SHAPES[name]
    before = relu_count(net, shape)
    atac_gluon.convert(net, shape, useReLU=False)  # no ReLU inside the units: count them all
    report = net.atac_conversion
    replaced = [r for r in report if r.replaced]
    assert len(report) == before
    # what is left is what the report keeps (VGG's classifier vectors, the user's Dense)
    assert relu_count(net, shape) == before - len(replaced)
    assert all(len(r.shape) != 4 for r in report if not r.replaced)
    for rec in replaced:
        unit = unit_at(net, rec.name)
        assert isinstance(unit, ChaATAC) and unit.channels == rec.channels == rec.shape[1]


def test_functional_calls_get_named_children():
    net = get_model('resnet18_v2', pretrained=False)
    atac_gluon.convert(net, (1, 3, 32, 32))
    names = [r.name for r in net.atac_conversion]
    assert 'features.5.0.relu_call0' in names and 'features.5.0.relu_call1' in names
    block = net.features[5][0]
    assert type(block).__name__ == 'BasicBlockV2' and block.relu_call1.channels == 64
    params = net._collect_params_with_prefix()
    assert 'features.5.0.relu_call0.module.0.weight' in params


@pytest.mark.parametrize('name', FAMILIES)
def test_hybridized_matches_imperative(name):
    mx.random.seed(1)
    net = build(name)
    # 4 images: training-mode BatchNorm over 2 images of a 1x1 last stage amplifies rounding
    shape = (4,) + SHAPES[name][1:]
    atac_gluon.convert(net, shape)
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(shape=shape)
    head = mx.nd.random.normal(shape=net(x).shape)

    def run():
        with autograd.record():
            y = net(x)
            loss = (y * head).sum()
        loss.backward()
        return y.asnumpy(), {k: p.grad().asnumpy().copy()
                             for k, p in net._collect_params_with_prefix().items()
                             if p.grad_req != 'null'}
    y1, g1 = run()
    net.hybridize()
    y2, g2 = run()
    np.testing.assert_allclose(y1, y2, rtol=1e-4, atol=1e-4 * np.abs(y1).max())
    # a BatchNorm beta followed by a convolution and a training-mode BatchNorm has a gradient
    # that is zero but for rounding: the floor is relative to the network's gradients
    floor = 1e-5 * np.median([np.linalg.norm(g) for g in g1.values()])
    for key in g1:
        error = np.linalg.norm(g1[key] - g2[key])
        assert error < 1e-3 * np.linalg.norm(g1[key]) + floor, (key, error)


@pytest.mark.parametrize('name', FAMILIES)
def test_export_reproduces_outputs(name, tmp_path):
    from atac_gluon.deployment import export_symbol
    net = build(name)
    shape = SHAPES[name]
    atac_gluon.convert(net, shape)
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(shape=shape)
    net(x)  # BN statistics and deferred shapes
    symbol, params = export_symbol(net, str(tmp_path / 'net'), shape)
    loaded = gluon.SymbolBlock.imports(symbol, ['data'], params)
    np.testing.assert_allclose(net(x).asnumpy(), loaded(x).asnumpy(), rtol=1e-4, atol=1e-5)


def test_onnx_export_of_functional_units(tmp_path):
    from atac_gluon.deployment import export_all
    net = get_model('cifar_resnet20_v1', pretrained=False)
    atac_gluon.convert(net, (1, 3, 32, 32))
    net.initialize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    files = export_all(net, str(tmp_path / 'net'), (1, 3, 32, 32), onnx=True)
    assert any(f.endswith('.onnx') for f in files)


@pytest.mark.parametrize('name', ['resnet18_v2', 'mobilenetv2_1.0', 'user'])
def test_original_parameters_bit_identical_and_kept(name, caplog):
    net = build(name)
    shape = SHAPES[name]
    net.initialize(mx.init.Xavier())
    net(mx.nd.random.uniform(shape=shape))
    settle_weights()  # before the reference copy is taken (CI once saw part of one differ)
    before = structural(net)
    objects = dict(net._collect_params_with_prefix())
    atac_gluon.convert(net, shape)
    after = net._collect_params_with_prefix()
    new = set(after) - set(before)
    units = [r.name + '.' for r in net.atac_conversion if r.replaced]
    assert new and all(any(k.startswith(u) for u in units) for k in new)
    for key, value in before.items():
        assert after[key] is objects[key]
        assert np.array_equal(after[key].data().asnumpy(), value), key
    with caplog.at_level(logging.ERROR):
        net.initialize()  # only the new units; the others stay
    for key, value in before.items():
        assert np.array_equal(after[key].data().asnumpy(), value), key
    assert all(after[k]._data is not None for k in new)


def test_save_load_under_structural_names(tmp_path):
    shape = SHAPES['resnet18_v2']
    net = atac_gluon.convert(get_model('resnet18_v2', pretrained=False), shape)
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(shape=shape)
    net(x)
    net.save_parameters(str(tmp_path / 'a.params'))
    other = atac_gluon.convert(get_model('resnet18_v2', pretrained=False), shape)
    other.load_parameters(str(tmp_path / 'a.params'))
    np.testing.assert_array_equal(net(x).asnumpy(), other(x).asnumpy())


@pytest.mark.parametrize('name', ['user', 'cifar_resnet20_v1'] + [
    pytest.param(n, marks=pytest.mark.slow) for n in SHAPES
    if n not in ('user', 'cifar_resnet20_v1', 'densenet121')])
def test_nag_steps_lower_the_loss_on_digits(name):
    """A few NAG steps on one batch of real digits (one per class), scaled to the network's
    input size, lower the training loss of the converted network, and every new unit takes
    part (its weights have gradients)."""
    from atac_gluon.data.digits import load_digits32
    mx.random.seed(0)
    np.random.seed(0)
    images, labels = load_digits32(train=True)
    first = [int(np.flatnonzero(labels == c)[0]) for c in range(10)]
    shape = (10,) + SHAPES[name][1:]
    x = mx.nd.contrib.BilinearResize2D(mx.nd.array(images[first]), height=shape[2],
                                       width=shape[3])
    y = mx.nd.array(labels[first])
    net = build(name)
    atac_gluon.convert(net, shape)
    net.initialize(mx.init.Xavier())
    net.hybridize()
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), 'nag', {'learning_rate': 0.01,
                                                          'momentum': 0.9})
    losses = []
    for _ in range(8):
        with autograd.record():
            loss = loss_fn(net(x), y).mean()
        loss.backward()
        trainer.step(1)
        losses.append(loss.asscalar())
    assert np.isfinite(losses).all() and losses[-1] < losses[0], losses
    # the loss falls through the new units too: each one's weights receive gradient
    for record in net.atac_conversion:
        if record.replaced:
            grads = [p.grad().abs().sum().asscalar() for p in
                     unit_at(net, record.name).collect_params().values() if p.grad_req != 'null']
            assert grads and min(grads) > 0, record.name


def test_where_like_act_layers_equals_the_builtin_host():
    from atac_gluon.flops import count
    from atac_gluon.models.imagenet import ResNet50_v1bATAC
    shape = (1, 3, 64, 64)
    net = atac_gluon.convert(get_model('resnet50_v1b', pretrained=False), shape, r=2,
                             where='layer[34].*.relu[12]')
    assert len(net.atac_conversion) == 2 * (6 + 3)
    host = ResNet50_v1bATAC('ChaATAC', 2, 2, [3, 4, 6, 3])
    for block in (net, host):
        block.initialize()
        block(mx.nd.zeros(shape))
    ours = {k: v.shape for k, v in net._collect_params_with_prefix().items()}
    theirs = {k: v.shape for k, v in host._collect_params_with_prefix().items()}
    assert ours == theirs
    (_, a), (_, b) = count(net, mx.nd.zeros(shape)), count(host, mx.nd.zeros(shape))
    assert a['params'] == b['params'] and a['flops'] == b['flops']


def test_summary_counts_the_units():
    shape = (1, 3, 32, 32)
    plain = get_model('cifar_resnet20_v1', pretrained=False)
    net = atac_gluon.convert(get_model('cifar_resnet20_v1', pretrained=False), shape)
    totals = []
    for block in (plain, net):
        block.initialize()
        totals.append(atac_gluon.summary(block, mx.nd.zeros(shape), print_fn=lambda *a: None))
    assert totals[1]['params'] > totals[0]['params']
    assert totals[1]['flops'] > totals[0]['flops']


@pytest.mark.parametrize('act_type', ACT_TYPES)
def test_every_act_type_replaces(act_type):
    shape = SHAPES['user']
    net = atac_gluon.convert(user_net(), shape, act_type=act_type)
    report = net.atac_conversion
    # the elementwise ones also replace the Dense's vector ReLU; ChaATAC keeps it
    assert [r.replaced for r in report].count(False) == (1 if act_type == 'ChaATAC' else 0)
    net.initialize()
    x = mx.nd.random.uniform(shape=shape)
    y1 = net(x).asnumpy()
    net.hybridize()
    np.testing.assert_allclose(y1, net(x).asnumpy(), rtol=1e-4, atol=1e-5)


def test_relu6_counts_unless_told():
    shape = SHAPES['mobilenetv2_1.0']
    net = atac_gluon.convert(get_model('mobilenetv2_1.0', pretrained=False), shape)
    assert net.atac_conversion and all(r.note == 'relu6' for r in net.atac_conversion)
    assert relu_count(net, shape) == len(net.atac_conversion)  # each unit's inner ReLU
    with pytest.raises(BadInput, match='no ReLU'):
        atac_gluon.convert(get_model('mobilenetv2_1.0', pretrained=False), shape, relu6=False)


def test_where_patterns_and_partial_blocks():
    shape = (1, 3, 32, 32)
    net = atac_gluon.convert(get_model('resnet18_v1', pretrained=False), shape,
                             where=['*.relu_call0'])
    names = [r.name for r in net.atac_conversion]
    assert names and all(n.endswith(CALL_PREFIX + '0') for n in names)
    net.initialize()
    net.hybridize()
    assert net(mx.nd.zeros(shape)).shape == (1, 1000)


def test_shared_relu_block_is_kept():
    class Shared(nn.HybridBlock):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            with self.name_scope():
                self.conv1 = nn.Conv2D(4, 1)
                self.conv2 = nn.Conv2D(6, 1)
                self.act = nn.Activation('relu')

        def hybrid_forward(self, F, x):
            return self.act(self.conv2(self.act(self.conv1(x))))

    net = atac_gluon.convert(Shared(), (1, 3, 8, 8))
    assert [r.replaced for r in net.atac_conversion] == [False, False]
    net.initialize()
    assert net(mx.nd.zeros((1, 3, 8, 8))).shape == (1, 6, 8, 8)


def test_bad_input():
    with pytest.raises(BadInput, match='HybridBlock'):
        atac_gluon.convert(nn.Sequential(), (1, 3, 32, 32))
    with pytest.raises(BadInput, match='input_shape'):
        atac_gluon.convert(get_model('cifar_resnet20_v1', pretrained=False), (1, 3, 32))
    with pytest.raises(BadInput, match='input_shape'):
        atac_gluon.convert(get_model('cifar_resnet20_v1', pretrained=False), (1, 0, 32, 32))
    with pytest.raises(BadInput, match='matches none'):
        atac_gluon.convert(get_model('cifar_resnet20_v1', pretrained=False), (1, 3, 32, 32),
                           where='layer9.*')
    with pytest.raises(BadInput, match='act_type'):
        atac_gluon.convert(user_net(), SHAPES['user'], act_type='tanh')
    net = atac_gluon.convert(user_net(), SHAPES['user'])
    with pytest.raises(BadInput, match='converted already'):
        atac_gluon.convert(net, SHAPES['user'])


@pytest.mark.parametrize('fuse_gates', [False, True])
def test_quantizes_to_int8(fuse_gates):
    from atac_gluon.quantization.modes import quantize_model
    shape = (8, 3, 32, 32)
    net = atac_gluon.convert(get_model('cifar_resnet20_v1', pretrained=False), shape)
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(shape=shape)
    y = net(x).asnumpy()
    quantized = quantize_model(net, 'int8', calib_batches=[x], fuse_gates=fuse_gates)
    np.testing.assert_allclose(quantized(x).asnumpy(), y, atol=0.1 * np.abs(y).max())


def test_act_layers_where_counts_stages_from_the_last():
    from atac_gluon.conversion import act_layers_where, stage_paths, zoo_model
    net = get_model('cifar_resnet20_v2', pretrained=False)
    assert stage_paths(net) == ['features.2', 'features.3', 'features.4']
    assert act_layers_where(net, 2) == ['features.3.*', 'features.4.*']
    assert act_layers_where(net, 4) is None  # past the stages: every ReLU
    assert act_layers_where(get_model('mobilenet1.0', pretrained=False), 1) is None
    assert stage_paths(get_model('resnet18_v1b', pretrained=False))[0] == 'layer1'
    net = zoo_model('cifar_resnet20_v2', 10, (1, 3, 32, 32), act_layers=2)
    assert {r.name.split('.')[1] for r in net.atac_conversion} == {'3', '4'}
    assert not hasattr(zoo_model('cifar_resnet20_v2', 10, (1, 3, 32, 32), act_layers=0),
                       'atac_conversion')
    with pytest.raises(BadInput, match='unknown GluonCV model'):
        zoo_model('cifar_nonet', 10, (1, 3, 32, 32))


def test_scripts_refuse_unknown_model_names(capsys):
    from tests.helpers.scripts import load
    for script, message in (('train_cifar.py', "--model must be 'atac' or a GluonCV CIFAR"),
                            ('train_imagenet.py', 'GluonCV ImageNet classification model')):
        module = load(script)
        assert module.run_main(module.main, ['--model', 'ssd_300_vgg16_atrous_voc',
                                             '--summary']) == 2
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_train_cifar_trains_a_converted_zoo_model_and_resumes(tmp_path):
    from tests.helpers.scripts import records, run
    out = tmp_path / 'run'
    args = ['--model', 'cifar_resnet20_v1', '--dataset', 'digits', '--useReLU', '--mode',
            'hybrid', '-j', '0', '--lr', '0.1', '--batch-size', '64', '--train-subset', '256',
            '--val-subset', '64', '--save-dir', str(out), '--save-plot-dir', str(out)]
    proc = run('train_cifar.py', args + ['--num-epochs', '1'], tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = run('train_cifar.py', args + ['--num-epochs', '2', '--resume', '--export'], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'resumed from' in proc.stderr
    assert [r['epoch'] for r in records(out)] == [0, 1]
    names = set(p.name for p in out.iterdir())
    assert {'digits-cifar_resnet20_v1_ChaATAC-1.params', 'cifar_resnet20_v1_ChaATAC.onnx',
            'cifar_resnet20_v1_ChaATAC-symbol.json'} <= names
    net = atac_gluon.convert(get_model('cifar_resnet20_v1', pretrained=False), (1, 3, 32, 32))
    params = out / 'digits-cifar_resnet20_v1_ChaATAC-1.params'
    net.load_parameters(str(params))
    check_command_lines_take_the_checkpoint(net, params, tmp_path)


def check_command_lines_take_the_checkpoint(net, params, tmp_path):
    """summary, export (float32 + ONNX; int8 with fused gates), predict and visualize take
    ``--model cifar_resnet20_v1`` with the act flags it was trained with, as they take a
    registered model; without them the checkpoint is refused naming the flag."""
    from PIL import Image
    from tests.helpers.scripts import run_module
    model = ['--model', 'cifar_resnet20_v1', '--useReLU']
    proc = run_module('atac_gluon', model, tmp_path)
    assert proc.returncode == 0 and 'Total params' in proc.stdout, proc.stderr
    prefix = tmp_path / 'export' / 'r20'
    prefix.parent.mkdir()
    proc = run_module('atac_gluon.export', model + ['--params', str(params), '--prefix',
                                                    str(prefix), '--onnx'], tmp_path)
    assert proc.returncode == 0, proc.stderr
    x = mx.nd.random.uniform(shape=(2, 3, 32, 32))
    exported = gluon.SymbolBlock.imports(str(prefix) + '-symbol.json', ['data'],
                                         str(prefix) + '-0000.params')
    np.testing.assert_allclose(exported(x).asnumpy(), net(x).asnumpy(), rtol=1e-4, atol=1e-5)
    assert (tmp_path / 'export' / 'r20.onnx').stat().st_size > 0
    proc = run_module('atac_gluon.export', ['--model', 'cifar_resnet20_v1', '--params',
                                            str(params), '--prefix', str(prefix) + 'x'],
                      tmp_path)
    assert proc.returncode == 2 and 'the file fits --useReLU' in proc.stderr, proc.stderr
    assert sorted(p.name for p in prefix.parent.iterdir()) == [
        'r20-0000.params', 'r20-symbol.json', 'r20.onnx']
    proc = run_module('atac_gluon.export', model + [
        '--params', str(params), '--prefix', str(prefix) + '-int8', '--quantize', 'int8',
        '--calib-dataset', 'digits', '--num-calib-batches', '2', '--fuse-gates'], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'int8: validation accuracy' in proc.stdout
    report = json.loads((tmp_path / 'export' / 'r20-int8-quantization.json').read_text())
    assert report['model'] == 'cifar_resnet20_v1' and report['operator_library']
    image = tmp_path / 'digit.png'
    Image.fromarray(np.kron(np.arange(64).reshape(8, 8) * 4, np.ones((4, 4))).astype(
        np.uint8)).save(str(image))
    proc = run_module('atac_gluon.predict', model + ['--params', str(params), '--dataset',
                                                     'digits', str(image)], tmp_path)
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 6, proc.stderr
    proc = run_module('atac_gluon.visualize', model + [
        '--params', str(params), '--dataset', 'digits', '--out', str(tmp_path / 'gates'),
        str(image)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / 'gates' / 'digit-gates.png').stat().st_size > 0


@pytest.mark.slow
def test_train_imagenet_trains_a_converted_zoo_model(tmp_path):
    from tests.helpers.imagenet_fakes import write_image_folder
    from tests.helpers.scripts import records, run, run_module
    data, out = tmp_path / 'data', tmp_path / 'run'
    write_image_folder(str(data), classes=3, per_class_train=6, per_class_val=2, size=36)
    original = get_model('resnet18_v2', pretrained=False, classes=3)
    original.initialize(mx.init.Xavier())
    original(mx.nd.zeros((1, 3, 32, 32)))
    original.save_parameters(str(tmp_path / 'gluoncv.params'))
    args = ['--model', 'resnet18_v2', '--data-dir', str(data), '--mode', 'hybrid', '--r', '2',
            '--classes', '3', '--input-size', '32', '--batch-size', '8', '-j', '0',
            '--save-dir', str(out), '--save-frequency', '1']
    proc = run('train_imagenet.py', args + [
        '--num-epochs', '1', '--use-pretrained', '--pretrained-params',
        str(tmp_path / 'gluoncv.params')], tmp_path)
    assert proc.returncode == 0, proc.stderr
    # every parameter of the GluonCV network, under its own name; only the units are new
    count = len(list(original.collect_params().keys()))
    assert 'initialised %d parameters from' % count in proc.stderr, proc.stderr
    proc = run('train_imagenet.py', args + ['--num-epochs', '2', '--resume'], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'resumed from' in proc.stderr
    assert [r['epoch'] for r in records(out)] == [0, 1]
    assert 'imagenet-resnet18_v2_ChaATAC-1.params' in set(p.name for p in out.iterdir())
    proc = run('train_imagenet.py', args + ['--num-epochs', '3', '--resume', '--r', '4'],
               tmp_path)
    assert proc.returncode == 2 and '--r' in proc.stderr, proc.stderr
    proc = run_module('atac_gluon.export', [
        '--model', 'resnet18_v2', '--r', '2', '--classes', '3', '--input-shape', '1,3,32,32',
        '--params', str(out / 'imagenet-resnet18_v2_ChaATAC-1.params'),
        '--prefix', str(tmp_path / 'r18')], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / 'r18-symbol.json').is_file()


def test_command_line_model_names_take_converted_zoo_networks(capsys):
    """``--model`` of summary/export/predict/visualize: a GluonCV name builds the network the
    training script of its data set builds (its defaults), a name of neither list is refused
    with the registered names."""
    from atac_gluon.__main__ import main as summary_main
    from atac_gluon.cli import model_choice
    from atac_gluon.errors import run_main
    from atac_gluon.training.spec import cifar_spec
    from tests.helpers.scripts import load
    choice = model_choice('CIFAR_ResNet20_v1')
    assert (choice.name, choice.converted, choice.input_shape) == (
        'cifar_resnet20_v1', True, (1, 3, 32, 32))
    assert model_choice('mobilenet1.0').input_shape == (1, 3, 224, 224)
    assert not model_choice('cifar_resnet20_v2_atac').converted
    # the same network as train_cifar.py --model cifar_resnet20_v1 with its defaults
    opt = load('train_cifar.py').parse_args(['--model', 'cifar_resnet20_v1'])
    trained = cifar_spec(opt).model
    trained = trained.factory(classes=trained.classes, **trained.kwargs)
    assert run_main(summary_main, ['--model', 'cifar_resnet20_v1']) == 0
    total = int(capsys.readouterr().out.split('Total params:')[1].split()[0])
    trained.initialize()
    trained(mx.nd.zeros((1, 3, 32, 32)))
    assert total == sum(p.data().size for p in trained.collect_params().values())
    assert run_main(summary_main, ['--model', 'cifar_resnet21_v1']) == 2
    assert "unknown model 'cifar_resnet21_v1'" in capsys.readouterr().err
