"""python -m atac_gluon.visualize: the gates of every ATAC unit, captured by hooks, drawn per
image."""
import os

import cv2
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from atac_gluon.data.digits import digits_normalization, load_digits32
from atac_gluon.errors import BadInput, run_main
from atac_gluon.models import get_model
from atac_gluon.visualize import atac_units, color_range, draw_gates, gate_maps, main

MODEL = 'cifar_resnet8_v2_atac'


def _saved(tmp, name, steps=0, **kwargs):
    """A digits checkpoint of ``MODEL`` after ``steps`` SGD steps; (net, path)."""
    net = get_model(MODEL, classes=10, **kwargs)
    net.initialize(mx.init.Xavier())
    images, labels = load_digits32()
    trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1, 'momentum': 0.9})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    net(mx.nd.array(images[:2]))
    for step in range(steps):
        batch = slice(32 * step, 32 * step + 32)
        with autograd.record():
            value = loss(net(mx.nd.array(images[batch])), mx.nd.array(labels[batch]))
        value.backward()
        trainer.step(32)
    path = str(tmp / ('%s.params' % name))
    net.save_parameters(path)
    return net, path


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    """Checkpoints (local trained, global, relu) and two digits validation images as PNG."""
    tmp = tmp_path_factory.mktemp('visualize')
    net, local = _saved(tmp, 'local', steps=6)
    _, global_ = _saved(tmp, 'global', useGlobal=True)
    _, relu = _saved(tmp, 'relu', act_type='relu')
    images = load_digits32(train=False)[0]
    mean, std = digits_normalization()
    paths = []
    for i in range(2):
        paths.append(str(tmp / ('digit%d.png' % i)))
        cv2.imwrite(paths[-1], np.round((images[i, 0] * std + mean) * 255).astype(np.uint8))
    return dict(net=net, local=local, global_=global_, relu=relu, images=paths,
                batch=images[:2])


def _args(params, out, *extra, images):
    return ['--model', MODEL, '--params', params, '--dataset', 'digits'] + list(extra) + \
        list(images) + ['--out', str(out)]


def test_units_grouped_by_stage():
    net = get_model(MODEL)
    assert [(stage, name) for stage, name, _ in atac_units(net)] == [
        ('features.2', 'features.2.0 msAA1'), ('features.2', 'features.2.0 msAA2'),
        ('features.3', 'features.3.0 msAA1'), ('features.3', 'features.3.0 msAA2'),
        ('features.4', 'features.4.0 msAA1'), ('features.4', 'features.4.0 msAA2'),
        ('final', 'features.6')]
    units = atac_units(get_model('resnet18_v1b_atac'))
    assert [(stage, name) for stage, name, _ in units] == [
        ('layer3', 'layer3.0 relu1'), ('layer3', 'layer3.1 relu1'),
        ('layer4', 'layer4.0 relu1'), ('layer4', 'layer4.1 relu1')]


def test_gate_is_the_sigmoid_the_unit_multiplies_in(digits):
    """The captured gate is unit(x) / x and sigmoid of the layers before the sigmoid on x (the
    unit's output or its pre-sigmoid would fail), also for a hybridized network."""
    net = digits['net']
    net.hybridize()
    unit = net.features[3][0].msAA2
    seen = {}
    handle = unit.register_forward_hook(
        lambda block, inputs, output: seen.update(x=inputs[0].asnumpy(), y=output.asnumpy()))
    try:
        gates = gate_maps(net, digits['batch'])
    finally:
        handle.detach()
    gate = next(g for g in gates if g.name == 'features.3.0 msAA2')
    assert gate.gate.shape == (2, 32, 16, 16) and not gate.is_global
    z = mx.nd.array(seen['x'])
    for layer in list(unit.module._children.values())[:-1]:
        z = layer(z)
    np.testing.assert_allclose(gate.gate, 1 / (1 + np.exp(-z.asnumpy())), rtol=1e-4, atol=1e-6)
    nonzero = np.abs(seen['x']) > 1e-2
    np.testing.assert_allclose((seen['y'] / np.where(nonzero, seen['x'], 1))[nonzero],
                               gate.gate[nonzero], rtol=1e-3, atol=1e-5)
    assert gate.gate.std() > 1e-3  # not a constant map


def test_writes_one_png_per_image(digits, tmp_path, capsys):
    out = tmp_path / 'gates'
    main(_args(digits['local'], out, images=digits['images']))
    written = sorted(os.listdir(str(out)))
    assert written == ['digit0-gates.png', 'digit1-gates.png']
    assert capsys.readouterr().out.split() == [str(out / name) for name in written]
    import matplotlib.image
    image = matplotlib.image.imread(str(out / written[0]))
    assert image.shape[0] > 500 and image.shape[1] > 300 and image.std() > 0.05


def test_global_units_drawn_as_bars(digits, tmp_path):
    net = get_model(MODEL, classes=10, useGlobal=True)
    net.load_parameters(digits['global_'])
    gates = gate_maps(net, digits['batch'][:1])
    assert all(g.is_global and g.gate.shape[2:] == (1, 1) for g in gates)
    gates = [g._replace(gate=g.gate[0]) for g in gates]
    image = np.zeros((32, 32, 3), np.uint8)
    assert draw_gates(image, gates, str(tmp_path / 'g.png'), 'global', channel=3) == \
        ['bars'] * 7
    local = [g._replace(gate=g.gate[0]) for g in gate_maps(digits['net'], digits['batch'][:1])]
    assert draw_gates(image, local, str(tmp_path / 'l.png'), 'local') == ['map'] * 7
    main(_args(digits['global_'], tmp_path, '--useGlobal', images=digits['images'][:1]))
    assert os.path.getsize(str(tmp_path / 'digit0-gates.png')) > 10000


def test_channel(digits, tmp_path):
    main(_args(digits['local'], tmp_path / 'ok', '--channel', '15', images=digits['images'][:1]))
    assert os.path.isfile(str(tmp_path / 'ok' / 'digit0-gates.png'))
    with pytest.raises(BadInput, match='--channel 16: unit features.2.0 msAA1 has 16 channels'):
        main(_args(digits['local'], tmp_path / 'bad', '--channel', '16',
                   images=digits['images'][:1]))
    with pytest.raises(BadInput, match='--channel must be a non-negative integer'):
        main(_args(digits['local'], tmp_path / 'bad', '--channel', '-1',
                   images=digits['images'][:1]))
    assert not os.path.exists(str(tmp_path / 'bad'))


def test_bad_input(digits, tmp_path, capsys):
    with pytest.raises(BadInput, match='no ATAC unit in the model'):
        main(_args(digits['relu'], tmp_path / 'out', '--act-type', 'relu',
                   images=digits['images'][:1]))
    missing = str(tmp_path / 'missing.png')
    with pytest.raises(BadInput, match='missing.png: no such image file'):
        main(_args(digits['local'], tmp_path / 'out', images=[digits['images'][0], missing]))
    capsys.readouterr()
    assert run_main(main, _args(digits['local'], tmp_path / 'out', images=[missing])) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('error: ') and 'missing.png' in err
    assert not os.path.exists(str(tmp_path / 'out'))


def test_colour_scale_fitted_to_the_maps_or_full(digits):
    gates = [g._replace(gate=g.gate[0]) for g in gate_maps(digits['net'], digits['batch'][:1])]
    values = np.concatenate([g.gate.mean(axis=0).ravel() for g in gates])
    low, high = color_range(gates)
    assert (low, high) == pytest.approx(tuple(np.percentile(values, [1, 99])))
    assert 0 < low < values.mean() < high < 1 and high - low < 0.9
    assert color_range(gates, full_scale=True) == (0.0, 1.0)
    channel = [g.gate[2].ravel() for g in gates]
    assert color_range(gates, channel=2) == pytest.approx(
        tuple(np.percentile(np.concatenate(channel), [1, 99])))
    flat = [gates[0]._replace(gate=np.full((4, 3, 3), 0.5))]
    assert color_range(flat) == pytest.approx((0.49, 0.51))
