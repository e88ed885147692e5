"""train_imagenet.py end to end at a tiny input size: RecordIO and image-folder input with the
README recipe's flags together, checkpoints, resume, distillation from a local teacher, the LR
schedule following the data, --summary without data, and bad input."""
import math
import os
import re

import mxnet as mx
import pytest
from gluoncv.model_zoo import get_model as gluoncv_model

from tests.helpers.imagenet_fakes import write_image_folder
from tests.helpers.scripts import load, records, run

pytestmark = pytest.mark.slow  # end to end: runs the scripts

SCRIPT = 'train_imagenet.py'
MODEL = 'ResNet50_v1b_ChaATAC'
# the README recipe's switches, at a size a CPU trains in seconds
RECIPE = ['--mode', 'hybrid', '--lr', '0.075', '--lr-mode', 'cosine', '--warmup-epochs', '1',
          '--last-gamma', '--no-wd', '--label-smoothing', '--mixup', '--r', '2',
          '--act-layers', '2', '--input-size', '32', '--batch-size', '8', '-j', '1',
          '--save-frequency', '1', '--log-interval', '1']


def cosine_warmup_lr(base, epoch, iters, warmup, epochs):
    """The expected rate at the first batch of ``epoch`` (update count epoch * iters + 1)."""
    t = epoch * iters + 1
    if t < warmup * iters:
        return base * t / (warmup * iters - 1)
    t = min(t - warmup * iters, (epochs - warmup) * iters - 1)
    return base * (1 + math.cos(math.pi * t / ((epochs - warmup) * iters - 1))) / 2


def test_rec_recipe_trains_checkpoints_and_resumes(tmp_path, rec_data):
    out = tmp_path / 'run'
    args = RECIPE + rec_data + ['--save-dir', str(out), '--logging-file', 'r50.log']
    proc = run(SCRIPT, args + ['--num-epochs', '2'], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '20 training samples, 3 classes, 3 batches of 8 per epoch' in proc.stderr
    lines = records(out)
    assert [r['epoch'] for r in lines] == [0, 1]
    assert {'val_top1_err', 'val_top5_err', 'train_acc', 'train_loss', 'lr',
            'samples_per_sec'} <= set(lines[0])
    assert lines[0]['classes'] == 3 and lines[0]['val_top5_err'] == 0.0  # 3 classes: top-5 = all
    # the schedule follows the data's epoch length (3 batches), not ImageNet's
    for r in lines:
        assert r['lr'] == pytest.approx(cosine_warmup_lr(0.075, r['epoch'], 3, 1, 2))
    names = os.listdir(str(out))
    best = [n for n in names if n.endswith('-best.params')]
    assert len(best) == 1 and best[0].endswith('-imagenet-%s-%d-best.params' % (
        MODEL, min(lines, key=lambda r: r['val_top1_err'])['epoch']))
    assert best[0].replace('.params', '.states') in names
    assert {'imagenet-%s-0.params' % MODEL, 'imagenet-%s-1.states' % MODEL, 'r50.log'} <= \
        set(names)
    with open(str(out / 'r50.log')) as f:
        assert 'val_top1_err=' in f.read()

    proc = run(SCRIPT, args + ['--num-epochs', '3', '--resume'], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'resumed from imagenet-%s-1 (epoch 1 done' % MODEL in proc.stderr
    assert [r['epoch'] for r in records(out)] == [0, 1, 2]


def test_folder_input_with_distillation_and_pretrained_files(tmp_path):
    data = tmp_path / 'imagenet'
    write_image_folder(str(data), classes=3, per_class_train=6, per_class_val=2, size=36)
    teacher = gluoncv_model('resnet18_v1b', classes=3)
    teacher.initialize(mx.init.Xavier())
    teacher(mx.nd.zeros((1, 3, 32, 32)))
    teacher_file = str(tmp_path / 'teacher.params')
    teacher.save_parameters(teacher_file)
    pretrained = gluoncv_model('resnet50_v1b', classes=1000)
    pretrained.initialize(mx.init.Xavier())
    pretrained(mx.nd.zeros((1, 3, 32, 32)))
    pretrained_file = str(tmp_path / 'resnet50_v1b.params')
    pretrained.save_parameters(pretrained_file)

    out = tmp_path / 'run'
    proc = run(SCRIPT, RECIPE + ['--data-dir', str(data), '--num-epochs', '2', '--save-dir',
                                 str(out), '--teacher', 'resnet18_v1b', '--teacher-params',
                                 teacher_file, '--hard-weight', '0.5', '--temperature', '5',
                                 '--pretrained-params', pretrained_file, '--fused-gates'],
               tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '18 training samples, 3 classes, 2 batches of 8 per epoch' in proc.stderr
    assert 'distillation from resnet18_v1b' in proc.stderr
    assert re.search(r'fused ATAC gates: \d+ units', proc.stderr)  # the student's only
    # everything but the 1000-way classifier and the ATAC units comes from the file
    assert 'initialised 265 parameters from %s (2 of another shape kept' % pretrained_file \
        in proc.stderr
    assert [r['epoch'] for r in records(out)] == [0, 1]


def test_summary_needs_no_data(tmp_path):
    proc = run(SCRIPT, ['--summary', '--r', '2', '--act-layers', '2', '--use-rec',
                        '--save-dir', str(tmp_path / 'run')], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'Total FLOPs: 4399512552' in proc.stdout.splitlines()
    assert 'Total params: 28006312' in proc.stdout.splitlines()
    assert not (tmp_path / 'run').exists()


@pytest.fixture
def script():
    return load(SCRIPT)


@pytest.mark.parametrize('args,message', [
    (['--lr-mode', 'exp'], '--lr-mode must be one of step, poly, cosine'),
    (['--dtype', 'float64'], '--dtype must be one of float32, float16'),
    (['--dtype', 'float16'], "--dtype float16: MXNet's CPU kernels do not train in float16"),
    (['--warmup-epochs', '3', '--num-epochs', '3'], '--warmup-epochs (3) must be smaller'),
    (['--use-rec', '--rec-train', 'missing.rec'], 'missing.rec'),
    (['--data-dir', 'nowhere'], 'nowhere'),
    (['--resume-params', 'x.params'], '--resume-params x.params: no such file'),
    (['--resume', '--resume-epoch', '3', '--num-epochs', '5'],
     'cannot be combined with --resume-epoch'),
    (['--teacher-params', 'x.params'], '--teacher-params x.params: no such file'),
])
def test_bad_input_exits_2_and_writes_nothing(script, tmp_path, monkeypatch, capsys, args,
                                              message):
    monkeypatch.chdir(tmp_path)
    code = script.run_main(script.main, ['--save-dir', 'run', '-j', '0'] + args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith('error: ') and message in err[-1]
    assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('args,message', [
    (['--use-pretrained'], '--use-pretrained: GluonCV\'s pretrained resnet50_v1b weights are '
                           'not cached and could not be downloaded'),
    (['--teacher', 'resnet152_v1d'], '--teacher: GluonCV\'s pretrained resnet152_v1d weights'),
    (['--teacher', 'no_such_net', '--teacher-params', 'teacher.params'], '--teacher no_such_net:'),
])
def test_offline_downloads_say_which_file_to_pass(script, tmp_path, monkeypatch, capsys,
                                                  rec_data, args, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('MXNET_GLUON_REPO', 'http://127.0.0.1:9/')
    monkeypatch.setenv('HOME', str(tmp_path))  # GluonCV caches weights under ~/.mxnet/models
    mx.nd.save('teacher.params', {'fc.weight': mx.nd.zeros((3, 4))})  # a readable file
    code = script.run_main(script.main, rec_data + ['--input-size', '32', '--save-dir', 'run',
                                                    '-j', '0', '--batch-size', '8'] + args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert message in err[-1]
    assert not (tmp_path / 'run').exists()
