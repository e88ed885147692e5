"""Bad input to every command (train_cifar.py, train_imagenet.py, python -m atac_gluon,
.export, .predict): exit code 2, one ``error:`` line naming the flag or file, no traceback,
nothing created. Also the model API's bad arguments, case-insensitive model names, the hints of
a checkpoint that does not fit, and a batch larger than the training set."""
import os
import re
import struct
import subprocess
import sys
import warnings
import zlib

import cv2
import mxnet as mx
import numpy as np
import pytest
from gluoncv.model_zoo import get_model as gluoncv_model

import atac_gluon
from atac_gluon.__main__ import main as summary_main
from atac_gluon.errors import BadInput, run_main
from atac_gluon.onednn import settle_weights
from atac_gluon.cli import default_input_shape
from atac_gluon.export import main as export_main
from atac_gluon.predict import main as predict_main
from tests.helpers.cifar_fakes import write_release
from tests.helpers.imagenet_fakes import write_rec_pair
from tests.helpers.scripts import load, offline_env, script_path

B1 = ['--model', 'cifar_resnet8_v2_atac', '--classes', '10', '--useReLU', '--params', '{b1}']
LOG_RECORD = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING) ')


def png(width, height):
    """A well-formed PNG whose header claims ``width`` x ``height`` (its data is empty)."""
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data)))
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b'IDAT', zlib.compress(b'')) + chunk(b'IEND', b''))


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    """{placeholder: path} of the input files the tables refer to, outside the tested dirs."""
    root = tmp_path_factory.mktemp('inputs')
    paths = {name: str(root / name) for name in (
        'b1.params', 'text.params', 'trunc.params', 'unnamed.params', 'empty.params',
        'huge.png', 'mid.png', 'trunc.png', 'ok.png', 'dense.params')}
    net = atac_gluon.get_model('cifar_resnet8_v2_atac', classes=10, useReLU=True)
    net.initialize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    net.save_parameters(paths['b1.params'])
    with open(paths['b1.params'], 'rb') as f:
        whole = f.read()
    files = {'text.params': b'not parameters\n', 'trunc.params': whole[:len(whole) // 2],
             'empty.params': b'', 'huge.png': png(100000, 100000), 'mid.png': png(9000, 8000),
             'trunc.png': png(64, 64)[:40]}
    for name, data in files.items():
        with open(paths[name], 'wb') as f:
            f.write(data)
    mx.nd.save(paths['unnamed.params'], [mx.nd.zeros(3)])
    mx.nd.save(paths['dense.params'], {'weight': mx.nd.zeros(3)})
    cv2.imwrite(paths['ok.png'], np.full((32, 32, 3), 128, np.uint8))
    train = write_rec_pair(str(root / 'train'), 20, 3, size=36)
    val = write_rec_pair(str(root / 'val'), 6, 3, size=36, seed=1)
    one = write_rec_pair(str(root / 'one'), 6, 1, size=36, seed=2)
    write_release(str(root / 'cifar'), 'cifar10', 'binary',
                  counts={('cifar10', True): 8, ('cifar10', False): 4})  # 40 training images
    found = {name.split('.')[0] + ('_png' if name.endswith('.png') else ''): path
             for name, path in paths.items()}
    found.update(train_rec=train[0], train_idx=train[1], val_rec=val[0], val_idx=val[1],
                 one_rec=one[0], one_idx=one[1],
                 cifar=str(root / 'cifar'))
    return found


@pytest.fixture(scope='module')
def readonly(tmp_path_factory):
    """A directory no file can be created in, even by root: a read-only tmpfs, else /proc/1."""
    path = str(tmp_path_factory.mktemp('ro'))
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', path],
                             capture_output=True).returncode == 0
    yield path if mounted else '/proc/1'
    if mounted:
        subprocess.run(['umount', path], check=True)


@pytest.fixture
def scene(tmp_path, monkeypatch):
    """The working directory: a regular file, a directory, a directory named like an output."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('MXNET_HOME', str(tmp_path / 'mxnet-home'))
    monkeypatch.setenv('MXNET_GLUON_REPO', 'http://127.0.0.1:9/')
    (tmp_path / 'afile').write_text('x')
    (tmp_path / 'adir').mkdir()
    (tmp_path / 'taken-symbol.json').mkdir()
    return tmp_path


def listing(root):
    return sorted(os.path.relpath(os.path.join(folder, name), str(root))
                  for folder, dirs, files in os.walk(str(root)) for name in dirs + files)


def the_error(err):
    """The one ``error:`` line of ``err``; any other line must be a log record of the run."""
    assert 'Traceback' not in err
    lines = [line for line in err.splitlines() if line.strip() and not LOG_RECORD.match(line)]
    assert len(lines) == 1 and lines[0].startswith('error: '), err
    return lines[0]


@pytest.fixture(scope='module')
def mains():
    return {'train_cifar': load('train_cifar.py').main,
            'train_imagenet': load('train_imagenet.py').main,
            'summary': summary_main, 'export': export_main, 'predict': predict_main}


REC = ['--use-rec', '--rec-train', '{train_rec}', '--rec-train-idx', '{train_idx}',
       '--rec-val', '{val_rec}', '--rec-val-idx', '{val_idx}', '--input-size', '32']
TABLE = [
    # train_cifar.py: numeric flags
    ('train_cifar', ['--lr', 'nan'], '--lr must be a positive finite number, got nan'),
    ('train_cifar', ['--lr', 'inf'], '--lr must be a positive finite number, got inf'),
    ('train_cifar', ['--lr', '-0.1'], '--lr must be a positive finite number, got -0.1'),
    ('train_cifar', ['--momentum', '1.5'], '--momentum must be a number in [0, 1), got 1.5'),
    ('train_cifar', ['--momentum', '-0.1'], '--momentum must be a number in [0, 1)'),
    ('train_cifar', ['--wd', 'nan'], '--wd must be a non-negative finite number, got nan'),
    ('train_cifar', ['--wd=-1e-4'], '--wd must be a non-negative finite number'),
    ('train_cifar', ['--blocks', '0'], '--blocks must be a positive integer, got 0'),
    ('train_cifar', ['--blocks', '-1'], '--blocks must be a positive integer, got -1'),
    ('train_cifar', ['--act-layers', '5'], '--act-layers must be an integer from 0 to 4, got 5'),
    ('train_cifar', ['--act-layers', '-1'], '--act-layers must be an integer from 0 to 4'),
    ('train_cifar', ['--r', '0'], '--r must be a positive integer, got 0'),
    ('train_cifar', ['--lr-decay', '0'], '--lr-decay must be a positive finite number, got 0.0'),
    ('train_cifar', ['--lr-decay-epoch', '40,-60'], '--lr-decay-epoch must be comma-separated '
                                                    'non-negative epochs'),
    ('train_cifar', ['--lr-decay-period', '-2'], '--lr-decay-period must be a non-negative'),
    ('train_cifar', ['--drop-rate', '1'], '--drop-rate must be a number in [0, 1), got 1.0'),
    ('train_cifar', ['--save-period', '-1'], '--save-period must be a non-negative integer'),
    ('train_cifar', ['--seed', '-1'], '--seed must be a non-negative integer, got -1'),
    ('train_cifar', ['--cpu-threads', '-2'], '--cpu-threads must be a positive integer'),
    ('train_cifar', ['--num-epochs', '0'], '--num-epochs must be a positive integer, got 0'),
    ('train_cifar', ['--batch-size', '-8'], '--batch-size must be a positive integer, got -8'),
    # train_cifar.py: output paths and files
    ('train_cifar', ['--save-dir', ''], '--save-dir must not be empty'),
    ('train_cifar', ['--save-dir', 'afile'], '--save-dir afile exists and is not a directory'),
    ('train_cifar', ['--save-dir', 'afile/run'], '--save-dir afile/run: {tmp}/afile is not a '
                                                 'directory'),
    ('train_cifar', ['--save-dir', '{ro}/run'], '--save-dir {ro}/run: directory {ro} is not '
                                                'writable'),
    ('train_cifar', ['--save-plot-dir', 'afile/plots'], '--save-plot-dir afile/plots: '
                                                        '{tmp}/afile is not a directory'),
    ('train_cifar', ['--save-plot-dir', '{ro}'], '--save-plot-dir {ro}: directory {ro} is not '
                                                 'writable'),
    ('train_cifar', ['--resume-from', '{text}'], '--resume-from {text}: not an MXNet '
                                                 'parameters file, or truncated'),
    ('train_cifar', ['--resume-from', '{trunc}'], '--resume-from {trunc}: not an MXNet '
                                                  'parameters file, or truncated'),
    ('train_cifar', ['--resume-from', '{unnamed}'], '--resume-from {unnamed}: holds 1 unnamed '
                                                    'arrays'),
    ('train_cifar', ['--dataset', 'digits', '--blocks', '2', '--useReLU', '--resume-from',
                     '{b1}'], '--resume-from {b1} does not fit the model: features.2.1.bn1.'
                              'gamma is not in the file (and 89 more differences); the file '
                              'fits --blocks 1'),
    ('train_cifar', ['--dataset', 'digits', '--blocks', '1', '--resume-from', '{b1}'],
     'the file fits --useReLU'),
    ('train_cifar', ['--model', 'se'], "--model must be 'atac' or a GluonCV CIFAR model name"),
    # train_imagenet.py
    ('train_imagenet', ['--lr', 'nan'], '--lr must be a positive finite number, got nan'),
    ('train_imagenet', ['--warmup-lr', '-1'], '--warmup-lr must be a non-negative finite'),
    ('train_imagenet', ['--mixup-alpha', '0'], '--mixup-alpha must be a positive finite number'),
    ('train_imagenet', ['--temperature', 'inf'], '--temperature must be a positive finite '
                                                 'number, got inf'),
    ('train_imagenet', ['--hard-weight', '1.5'], '--hard-weight must be a number in [0, 1]'),
    ('train_imagenet', ['--crop-ratio', '0'], '--crop-ratio must be a number in (0, 1], got 0'),
    ('train_imagenet', ['--crop-ratio', '1.2'], '--crop-ratio must be a number in (0, 1]'),
    ('train_imagenet', ['--input-size', '0'], '--input-size must be a positive integer, got 0'),
    ('train_imagenet', ['--classes', '1'], '--classes must be an integer of at least 2, got 1'),
    ('train_imagenet', ['--num-gpus', '-1'], '--num-gpus must be a non-negative integer'),
    ('train_imagenet', ['--save-frequency', '-1'], '--save-frequency must be a non-negative'),
    ('train_imagenet', ['--log-interval', '-5'], '--log-interval must be a non-negative'),
    ('train_imagenet', ['--resume-epoch', '3'], '--resume-epoch (3) must be smaller than '
                                                '--num-epochs (3)'),
    ('train_imagenet', ['--resume-epoch', '-1'], '--resume-epoch must be a non-negative'),
    ('train_imagenet', ['--act-layers', '5'], '--act-layers must be an integer from 0 to 4'),
    ('train_imagenet', ['--r', '-4'], '--r must be a positive integer, got -4'),
    ('train_imagenet', ['--mixup-off-epoch', '-1'], '--mixup-off-epoch must be a non-negative'),
    ('train_imagenet', ['--seed', '-3'], '--seed must be a non-negative integer'),
    ('train_imagenet', ['--save-dir', 'afile'], '--save-dir afile exists and is not a directory'),
    ('train_imagenet', ['--save-dir', '{ro}/run'], 'directory {ro} is not writable'),
    ('train_imagenet', ['--logging-file', 'nodir/x.log'], '--logging-file nodir/x.log: '
                                                          'directory {tmp}/run/nodir does not '
                                                          'exist'),
    ('train_imagenet', ['--save-dir', '.', '--logging-file', 'adir'], '--logging-file ./adir is '
                                                                      'a directory'),
    ('train_imagenet', ['--logging-file', 'logs/'], "--logging-file 'logs/' must name a file"),
    ('train_imagenet', ['--logging-file', '{tmp}/afile/x.log'], '{tmp}/afile is not a '
                                                                'directory'),
    ('train_imagenet', ['--logging-file', '{ro}/x.log'], 'directory {ro} is not writable'),
    ('train_imagenet', ['--pretrained-params', '{text}'], '--pretrained-params {text}: not an '
                                                          'MXNet parameters file'),
    ('train_imagenet', REC + ['--batch-size', '4', '--pretrained-params', '{dense}'],
     '--pretrained-params {dense}: no parameter matches the network'),
    ('train_imagenet', ['--teacher', 'resnet18_v1b', '--teacher-params', '{trunc}'],
     '--teacher-params {trunc}: not an MXNet parameters file, or truncated'),
    ('train_imagenet', ['--resume-params', '{empty}'], '--resume-params {empty}: not an MXNet '
                                                       'parameters file'),
    ('train_imagenet', ['--resume-states', 'missing.states'], '--resume-states missing.states: '
                                                              'no such file'),
    # python -m atac_gluon (summary)
    ('summary', ['--model', 'cifar_resnet8_v2_atac', '--input-shape', '1,3,32'],
     '--input-shape must be four positive integers'),
    ('summary', ['--model', 'cifar_resnet8_v2_atac', '--input-shape', '0,3,32,32'],
     '--input-shape must be four positive integers'),
    ('summary', ['--model', 'cifar_resnet8_v2_atac', '--classes', '-3'],
     '--classes must be an integer of at least 2, got -3'),
    ('summary', ['--model', 'resnet18_v1b_atac', '--act-layers', '5'],
     '--act-layers must be an integer from 0 to 4, got 5'),
    ('summary', ['--model', 'resnet18_v1b_atac', '--r', '0'], '--r must be a positive integer'),
    ('summary', ['--model', 'vgg17'], "--model: unknown model 'vgg17'"),
    # python -m atac_gluon.export
    ('export', B1 + ['--prefix', 'out', '--classes', '1'], '--classes must be an integer of at '
                                                           'least 2, got 1'),
    ('export', B1 + ['--prefix', 'out', '--r', '0'], '--r must be a positive integer, got 0'),
    ('export', B1 + ['--prefix', 'out', '--act-layers', '-1'], '--act-layers must be an integer '
                                                               'from 0 to 4, got -1'),
    ('export', B1 + ['--prefix', 'out', '--input-shape', '1,3,0,32'], '--input-shape must be '
                                                                      'four positive integers'),
    ('export', B1 + ['--prefix', 'adir/'], "--prefix 'adir/' must end in a file name"),
    ('export', B1 + ['--prefix', ''], "--prefix '' must end in a file name"),
    ('export', B1 + ['--prefix', 'afile/x'], '--prefix afile/x: {tmp}/afile is not a directory'),
    ('export', B1 + ['--prefix', 'nodir/x'], '--prefix nodir/x: directory {tmp}/nodir does not '
                                             'exist'),
    ('export', B1 + ['--prefix', '{ro}/x'], '--prefix {ro}/x: directory {ro} is not writable'),
    ('export', B1 + ['--prefix', 'taken'], '--prefix taken: taken-symbol.json is a directory'),
    ('export', B1 + ['--prefix', 'out', '--params', '{text}'], '--params {text}: not an MXNet '
                                                               'parameters file, or truncated'),
    ('export', B1 + ['--prefix', 'out', '--params', '{trunc}'], '--params {trunc}: not an '
                                                                'MXNet parameters file'),
    ('export', B1 + ['--prefix', 'out', '--params', '{empty}'], '--params {empty}: not an '
                                                                'MXNet parameters file'),
    ('export', B1 + ['--prefix', 'out', '--params', '{unnamed}'], '--params {unnamed}: holds 1 '
                                                                  'unnamed arrays'),
    ('export', B1 + ['--prefix', 'out', '--params', 'no.params'], '--params no.params: no such '
                                                                  'file'),
    ('export', B1 + ['--prefix', 'out', '--model', 'cifar_resnet14_v2_atac'],
     '--params {b1} does not fit the model: features.2.1.bn1.gamma is not in the file (and 89 '
     'more differences); the file fits --model cifar_resnet8_v2_atac'),
    ('export', B1 + ['--prefix', 'out', '--no-useReLU'], 'the file fits --useReLU'),
    ('export', B1 + ['--prefix', 'out', '--useGlobal'], 'the file fits --no-useGlobal'),
    ('export', B1 + ['--prefix', 'out', '--r', '4'], 'features.2.0.msAA1.module.0.weight is '
                                                     '8x16x1x1 in the file, 4x16x1x1 in the '
                                                     'model (and 41 more differences); the file '
                                                     'fits --r 2'),
    ('export', B1 + ['--prefix', 'out', '--classes', '100'], 'output.weight is 10x64 in the '
                                                             'file, 100x64 in the model (and 1 '
                                                             'more difference); the file fits '
                                                             '--classes 10'),
    ('export', B1 + ['--prefix', 'out', '--act-type', 'relu'], 'the file fits --act-type '
                                                               'ChaATAC'),
    ('export', B1 + ['--prefix', 'out', '--act-layers', '2'], 'the file fits --act-layers 4'),
    ('export', B1 + ['--prefix', 'out', '--model', 'resnet18_v1b_atac'], 'no name in common: a '
                                                                         'file of another '
                                                                         'architecture'),
    # python -m atac_gluon.predict
    ('predict', B1 + ['--input-size', '0', '{ok_png}'], '--input-size must be a positive '
                                                        'integer, got 0'),
    ('predict', B1 + ['--crop-ratio', 'nan', '{ok_png}'], '--crop-ratio must be a number in '
                                                          '(0, 1], got nan'),
    ('predict', B1 + ['--crop-ratio', '1.5', '{ok_png}'], '--crop-ratio must be a number in '
                                                          '(0, 1], got 1.5'),
    ('predict', B1 + ['--classes', '0', '{ok_png}'], '--classes must be an integer of at least'),
    ('predict', B1 + ['{huge_png}'], '{huge_png}: image too large to decode (Image size '
                                     '(10000000000 pixels) exceeds limit'),
    ('predict', B1 + ['{mid_png}'], '{mid_png}: image of 9000x8000 pixels, more than the '
                                    '67108864 this command decodes'),
    ('predict', B1 + ['{trunc_png}'], '{trunc_png}: cannot decode image'),
    ('predict', B1 + ['{text}'], '{text}: cannot decode image'),
    ('predict', B1 + ['missing.png'], 'missing.png: no such image file'),
    ('predict', B1 + ['--params', '{trunc}', '{ok_png}'], '--params {trunc}: not an MXNet '
                                                          'parameters file'),
    ('predict', B1 + ['--no-useReLU', '{ok_png}'], '--params {b1} does not fit the model: '
                                                   'features.2.0.msAA1.module.2.weight is not '
                                                   'in the file (and 69 more differences); the '
                                                   'file fits --useReLU'),
    ('predict', B1 + ['--model', 'NOPE', '{ok_png}'], "--model: unknown model 'NOPE'"),
]


@pytest.mark.parametrize('command,args,message', TABLE,
                         ids=['%s %s' % (c, ' '.join(a[len(B1):] if a[:1] == B1[:1] else a))
                              for c, a, _ in TABLE])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(mains, inputs, readonly, scene,
                                                            capsys, command, args, message):
    names = dict(inputs, ro=readonly, tmp=str(scene))
    argv = [a.format(**names) for a in args]
    if command.startswith('train'):
        argv = ['--save-dir', 'run', '-j', '0'] + argv  # later flags win
    before = listing(scene)
    code = run_main(mains[command], argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert message.format(**names) in the_error(err)
    assert listing(scene) == before


@pytest.mark.parametrize('command,args,message', [
    ('train_cifar.py', ['--lr', 'nan'], 'error: --lr must be a positive finite number, got nan'),
    ('train_imagenet.py', ['--logging-file', 'nodir/x.log'], 'error: --logging-file nodir/x.log: '
                                                             'directory {tmp}/run/nodir does not '
                                                             'exist'),
    ('-m atac_gluon.export', B1 + ['--params', '{trunc}', '--prefix', 'out'],
     'error: --params {trunc}: not an MXNet parameters file, or truncated'),
    ('-m atac_gluon.predict', B1 + ['{huge_png}'], 'error: {huge_png}: image too large to '
                                                   'decode'),
])
def test_processes_print_exactly_one_line(inputs, tmp_path, command, args, message):
    names = dict(inputs, tmp=str(tmp_path))
    program = command.split() if command.startswith('-m') else [script_path(command)]
    argv = [a.format(**names) for a in args]
    if command.startswith('train'):
        argv += ['--save-dir', 'run']
    proc = subprocess.run([sys.executable] + program + argv, cwd=str(tmp_path),
                          env=dict(offline_env(tmp_path), OMP_NUM_THREADS='1'),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(message.format(**names)), proc.stderr
    assert listing(tmp_path) == []


@pytest.mark.parametrize('command,args,message', [
    ('train_cifar', ['--data-dir', '{cifar}', '--batch-size', '32', '--gpus', '0,1'],
     'the batch of 64 (--batch-size per device x devices) is larger than the 40 training '
     'samples of cifar10'),
    ('train_imagenet', REC, 'the batch of 32 (--batch-size per device x devices) is larger '
                            'than the 20 training samples of {train_rec}'),
    ('train_imagenet', REC + ['--classes', '2', '--batch-size', '4'],
     '--classes 2 is smaller than the 3 classes (labels 0..2) of {train_rec}'),
    ('train_imagenet', REC[:1] + ['--rec-train', '{one_rec}', '--rec-train-idx', '{one_idx}',
                                  '--rec-val', '{one_rec}', '--rec-val-idx', '{one_idx}',
                                  '--input-size', '32', '--batch-size', '4'],
     '{one_rec}: 1 class found; classification needs at least 2'),
    # --fused-gates needs local ATAC units in float32
    ('train_cifar', ['--dataset', 'digits', '--blocks', '1', '--act-type', 'relu',
                     '--fused-gates'], '--fused-gates: the network has no local ChaATAC unit'),
    ('train_cifar', ['--dataset', 'digits', '--blocks', '1', '--useGlobal', '--fused-gates'],
     '--fused-gates: the network has no local ChaATAC unit'),
])
def test_data_that_does_not_fit_the_run(mains, inputs, scene, capsys, command, args,
                                            message):
    code = run_main(mains[command], ['--save-dir', 'run', '-j', '0']
                    + [a.format(**inputs) for a in args])
    assert code == 2
    assert message.format(**inputs) in the_error(capsys.readouterr().err)
    assert not (scene / 'run').exists()


# --------------------------------------------------------------------------- model names

def test_model_names_are_case_insensitive_everywhere(mains, capsys):
    assert run_main(summary_main, ['--model', 'CIFAR_RESNET20_V2_ATAC']) == 0
    out = capsys.readouterr().out.splitlines()
    assert 'Total FLOPs: 45794506' in out  # CIFAR input, not 224x224 (2.2 GFLOPs)
    assert default_input_shape('CIFAR_ResNet20_v2_ATAC') == (1, 3, 32, 32)
    assert default_input_shape('ResNet50_V1B_ATAC') == (1, 3, 224, 224)
    net = atac_gluon.get_model('Cifar_ResNet8_V2_Atac', classes=10)
    assert [len(net.features[i]) for i in (2, 3, 4)] == [1, 1, 1]
    opt = load('train_cifar.py').parse_args(['--model', 'ATAC', '--save-dir', 'x'])
    assert opt.model == 'atac'


def test_predict_default_preprocessing_follows_the_model_family_in_any_case(inputs, capsys):
    # a 32x32 CIFAR model given an ImageNet-preprocessed (224x224) input would still run, so
    # compare with the CIFAR-preprocessed prediction
    argv = ['--classes', '10', '--useReLU', '--params', inputs['b1'], inputs['ok_png']]
    assert run_main(predict_main, ['--model', 'CIFAR_RESNET8_V2_ATAC'] + argv) == 0
    upper = capsys.readouterr().out
    assert run_main(predict_main, ['--model', 'cifar_resnet8_v2_atac', '--dataset', 'cifar10']
                    + argv) == 0
    assert upper == capsys.readouterr().out


# --------------------------------------------------------------------------- Python API

@pytest.mark.parametrize('name', ['cifar_resnet20_v2_atac', 'resnet50_v1b_atac'])
def test_pretrained_weights_are_refused(name):
    with pytest.raises(BadInput, match='no pretrained ATAC weights'):
        atac_gluon.get_model(name, pretrained=True)
    assert atac_gluon.get_model(name, pretrained=False) is not None


def test_v1b_factory_refuses_unknown_arguments():
    with pytest.raises(TypeError, match='useRelu'):  # GluonCV would drop it silently
        atac_gluon.get_model('resnet18_v1b_atac', useRelu=False)


@pytest.mark.parametrize('kwargs,message', [
    ({'act_layers': -1}, 'act_layers must be at least 0, got -1'),  # past the stages: all
    ({'classes': 0}, 'classes must be positive'),
])
def test_hosts_check_their_arguments(kwargs, message):
    for name in ('cifar_resnet8_v2_atac', 'resnet18_v1b_atac'):
        with pytest.raises(BadInput, match=message):
            atac_gluon.get_model(name, **kwargs)
    with pytest.raises(BadInput, match='blocks per stage must be positive, got 0'):
        atac_gluon.get_cifar_resnet_atac(0)


def test_from_gluoncv_refuses_deferred_parameters():
    ref = gluoncv_model('cifar_resnet20_v2', classes=10)
    ref.initialize()  # never run: the shapes are still unknown
    with pytest.raises(BadInput, match='never run.*run the network once'):
        atac_gluon.from_gluoncv(ref)
    assert atac_gluon.from_gluoncv(ref, copy_params=False) is not None


def test_from_gluoncv_then_initialize_warns_nothing():
    ref = gluoncv_model('cifar_resnet20_v2', classes=10)
    ref.initialize(mx.init.Xavier())
    x = mx.nd.ones((1, 3, 32, 32))
    ref(x)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        net = atac_gluon.from_gluoncv(ref)
        net.initialize()
        net(x)
    assert [str(w.message) for w in caught] == []
    settle_weights()
    np.testing.assert_array_equal(net.features[1].weight.data().asnumpy(),
                                  ref.features[1].weight.data().asnumpy())
    # force_reinit still re-initializes everything, as in MXNet
    net.initialize(mx.init.Zero(), force_reinit=True)
    assert net.features[1].weight.data().abs().sum().asscalar() == 0
