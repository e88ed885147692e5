"""Export (symbol graph, ONNX) and prediction: round trips through MXNet's SymbolBlock and
onnxruntime, the command lines, and their bad-input errors."""
import os

import cv2
import mxnet as mx
import numpy as np
import onnx
import onnxruntime
import pytest

import atac_gluon
from atac_gluon.data import load_digits32
from atac_gluon.export import main as export_main
from atac_gluon.predict import main as predict_main
from atac_gluon.data.pipelines import image_input
from atac_gluon.errors import run_main
from tests.helpers.scripts import run

pytestmark = pytest.mark.slow  # end to end: runs the scripts

MODEL = 'ResNet20_b_1_ChaATAC'
CIFAR8 = ['--model', 'cifar_resnet8_v2_atac', '--classes', '10', '--useReLU']


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A digits run of train_cifar.py with --export on two contexts (the export takes the
    trained network to one): (save dir, best checkpoint)."""
    tmp = tmp_path_factory.mktemp('trained')
    out = tmp / 'run'
    proc = run('train_cifar.py', ['--dataset', 'digits', '--blocks', '1', '--useReLU', '--mode',
                                  'hybrid', '-j', '0', '--lr', '0.1', '--num-epochs', '2',
                                  '--batch-size', '32', '--gpus', '0,1', '--export',
                                  '--save-dir', str(out),
                                  '--save-plot-dir', str(out)], tmp)
    assert proc.returncode == 0, proc.stderr
    (best,) = [n for n in os.listdir(str(out)) if n.endswith('-best.params')]
    return out, str(out / best)


def reference_net(params):
    net = atac_gluon.get_model('cifar_resnet8_v2_atac', classes=10, useReLU=True)
    net.load_parameters(params)
    return net


def run_onnx(path, x):
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    return session.run(None, {'data': x})[0]


def assert_close(got, want, rtol):
    assert np.abs(got - want).max() <= rtol * np.abs(want).max()


def test_training_export_round_trips(trained):
    out, best = trained
    prefix = str(out / MODEL)
    x = np.random.RandomState(0).randn(1, 3, 32, 32).astype(np.float32)
    want = reference_net(best)(mx.nd.array(x)).asnumpy()
    symbol = mx.gluon.SymbolBlock.imports(prefix + '-symbol.json', ['data'], prefix + '-0000.params')
    np.testing.assert_allclose(symbol(mx.nd.array(x)).asnumpy(), want, rtol=1e-5, atol=1e-6)
    graph = onnx.load(prefix + '.onnx')
    onnx.checker.check_model(graph)
    assert [value.name for value in graph.graph.input] == ['data']  # the weights: initializers
    assert_close(run_onnx(prefix + '.onnx', x), want, 1e-4)
    x = np.random.RandomState(4).randn(5, 3, 32, 32).astype(np.float32)  # any batch size
    assert_close(run_onnx(prefix + '.onnx', x), reference_net(best)(mx.nd.array(x)).asnumpy(), 1e-4)


def test_export_command_line(trained, tmp_path, capsys):
    _, best = trained
    prefix = str(tmp_path / 'digits8')
    assert run_main(export_main, CIFAR8 + ['--params', best, '--prefix', prefix, '--onnx',
                                           '--input-shape', '2,3,32,32']) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [prefix + '-symbol.json', prefix + '-0000.params', prefix + '.onnx']
    x = np.random.RandomState(1).randn(2, 3, 32, 32).astype(np.float32)
    want = reference_net(best)(mx.nd.array(x)).asnumpy()
    assert_close(run_onnx(prefix + '.onnx', x), want, 1e-4)


def official_file(layout, key, path):
    """A checkpoint written straight from the official names and shapes, with He-scaled weights
    and unit BatchNorm statistics (a well-conditioned network, as a trained one is)."""
    rng = np.random.RandomState(0)

    def value(name, shape):
        if name.endswith(('running_var', 'gamma')):
            return rng.uniform(0.8, 1.2, shape)
        if len(shape) > 1:  # conv / dense weights
            return rng.randn(*shape) * np.sqrt(2.0 / np.prod(shape[1:]))
        return rng.randn(*shape) * 0.1
    mx.nd.save(path, {name: mx.nd.array(value(name, shape))
                      for name, shape in layout[key]['parameters'].items()})
    return path


def test_official_layout_checkpoints_export(official_layout, tmp_path):
    cifar = official_file(official_layout, 'cifar_atac_b3_r2', str(tmp_path / 'cifar.params'))
    prefix = str(tmp_path / 'cifar')
    assert run_main(export_main, ['--model', 'cifar_resnet20_v2_atac', '--classes', '100',
                                  '--params', cifar, '--prefix', prefix, '--onnx']) == 0
    net = atac_gluon.get_model('cifar_resnet20_v2_atac', classes=100)
    net.load_parameters(cifar)
    x = np.random.RandomState(2).randn(1, 3, 32, 32).astype(np.float32)
    assert_close(run_onnx(prefix + '.onnx', x), net(mx.nd.array(x)).asnumpy(), 1e-4)

    r50 = official_file(official_layout, 'r50_atac_r2_al2', str(tmp_path / 'r50.params'))
    prefix = str(tmp_path / 'r50')
    assert run_main(export_main, ['--model', 'resnet50_v1b_atac', '--r', '2', '--act-layers',
                                  '2', '--params', r50, '--prefix', prefix, '--input-shape',
                                  '1,3,64,64']) == 0
    net = atac_gluon.get_model('resnet50_v1b_atac', r=2, act_layers=2)
    net.load_parameters(r50)
    x = mx.nd.array(np.random.RandomState(3).randn(1, 3, 64, 64))
    symbol = mx.gluon.SymbolBlock.imports(prefix + '-symbol.json', ['data'], prefix + '-0000.params')
    np.testing.assert_allclose(symbol(x).asnumpy(), net(x).asnumpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('args,message', [
    (['--no-useReLU'], '--params {best} does not fit the model'),
    (['--act-type', 'relu'], '--params {best} does not fit the model'),
    (['--input-shape', '1,3,32'], '--input-shape must be four positive integers'),
    (['--input-shape', '1,1,32,32'], 'the model takes 3 input channels'),
    (['--prefix', '/nonexistent/dir/x'], 'directory /nonexistent/dir does not exist'),
])
def test_export_mismatches_exit_2(trained, tmp_path, capsys, args, message):
    _, best = trained
    argv = CIFAR8 + ['--params', best, '--prefix', str(tmp_path / 'x')] + args
    assert run_main(export_main, argv) == 2
    assert message.format(best=best) in capsys.readouterr().err
    assert os.listdir(str(tmp_path)) == []


def test_export_missing_file_and_unknown_model_exit_2(tmp_path, capsys):
    assert run_main(export_main, CIFAR8 + ['--params', 'no.params', '--prefix', 'x']) == 2
    assert '--params no.params: no such file' in capsys.readouterr().err
    assert run_main(export_main, ['--model', 'vgg17', '--params', __file__, '--prefix', 'x']) == 2
    assert "--model: unknown model 'vgg17'" in capsys.readouterr().err


def write_digit_images(tmp_path, count):
    """The first validation digits as 32x32 grey PNGs, with their labels."""
    from atac_gluon.data import digits_normalization
    images, labels = load_digits32(train=False)
    mean, std = digits_normalization()
    paths = []
    for i in range(count):
        grey = np.clip((images[i, 0] * std + mean) * 255, 0, 255).round().astype(np.uint8)
        path = str(tmp_path / ('digit%d.png' % i))
        cv2.imwrite(path, grey)
        paths.append(path)
    return paths, images[:count], labels[:count]


def test_predict_prints_top5_with_the_validation_preprocessing(trained, tmp_path, capsys):
    _, best = trained
    count = 60  # enough images that the hit rate tracks the model's accuracy on any CPU
    paths, images, labels = write_digit_images(tmp_path, count)
    assert run_main(predict_main, CIFAR8 + ['--params', best, '--dataset', 'digits']
                    + paths) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == count * 6
    blocks = [lines[i:i + 6] for i in range(0, len(lines), 6)]
    want = mx.nd.softmax(reference_net(best)(mx.nd.array(images))).asnumpy()
    hits = 0
    for block, path, probs, label in zip(blocks, paths, want, labels):
        assert block[0] == path
        ranks = [line.split() for line in block[1:]]
        assert [int(r[0]) for r in ranks] == [1, 2, 3, 4, 5]
        assert [float(r[1]) for r in ranks] == sorted((float(r[1]) for r in ranks), reverse=True)
        top = int(ranks[0][2])
        # the PNG goes through the validation preprocessing: the reference's top class, or one
        # as likely to within the 8-bit PNG's rounding
        assert probs[top] == pytest.approx(probs.max(), abs=1e-2)
        assert float(ranks[0][1]) == pytest.approx(probs.max(), abs=1e-2)
        hits += top == label
    assert hits >= count // 2  # chance is a tenth


def test_predict_cifar_preprocessing_is_the_validation_one():
    from atac_gluon.data import CIFAR_MEAN, CIFAR_STD, BatchIterator
    image = np.random.RandomState(0).randint(0, 256, (1, 32, 32, 3)).astype(np.uint8)
    (data, _), = list(BatchIterator(image, np.zeros(1), 1, mean=CIFAR_MEAN, std=CIFAR_STD,
                                    last_batch='keep'))
    np.testing.assert_allclose(image_input(image[0], 'cifar10'), data.asnumpy(), rtol=1e-6)


def test_predict_bad_input_exits_2(trained, tmp_path, capsys):
    _, best = trained
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not an image')
    assert run_main(predict_main, CIFAR8 + ['--params', best, str(broken)]) == 2
    assert '%s: cannot decode image' % broken in capsys.readouterr().err
    assert run_main(predict_main, CIFAR8 + ['--params', best, 'missing.png']) == 2
    assert 'missing.png: no such image file' in capsys.readouterr().err
    names = tmp_path / 'names.txt'
    names.write_text('a\nb\n')
    paths, _, _ = write_digit_images(tmp_path, 1)
    assert run_main(predict_main, CIFAR8 + ['--params', best, '--classes-file', str(names)]
                    + paths) == 2
    assert '2 names for a model with 10 classes' in capsys.readouterr().err
