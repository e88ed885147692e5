"""train_cifar.py end to end on tiny data: learning, CIFAR layouts, labels, contexts, resume
after kill -9, the NaN guard, --summary and bad input (--export: test_export.py)."""
import os

import mxnet as mx
import numpy as np
import pytest

from atac_gluon.training.spec import cifar_spec
from tests.helpers.cifar_fakes import write_release
from tests.helpers.scripts import comparable, kill_and_resume, load, records, run

pytestmark = pytest.mark.slow  # end to end: runs the scripts

SCRIPT = 'train_cifar.py'
DIGITS = ['--dataset', 'digits', '--blocks', '1', '--useReLU', '--mode', 'hybrid', '-j', '0',
          '--lr', '0.1']
# images per file of the fake CIFAR releases used for whole runs
COUNTS = {('cifar10', True): 8, ('cifar10', False): 12, ('cifar100', True): 40,
          ('cifar100', False): 12}


def params_of(path):
    return {k: v.asnumpy() for k, v in mx.nd.load(str(path)).items()}


def test_digits_learns_and_writes_its_results(tmp_path):
    out = tmp_path / 'run'
    proc = run(SCRIPT, DIGITS + ['--num-epochs', '3', '--batch-size', '64', '--save-dir', str(out),
                                 '--save-plot-dir', str(out), '--save-period', '2'], tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = records(out)
    assert [r['epoch'] for r in lines] == [0, 1, 2]
    assert set(lines[0]) >= {'epoch', 'train_acc', 'val_acc', 'train_loss', 'lr',
                             'samples_per_sec', 'time', 'num_workers', 'dist_workers', 'dataset',
                             'label_set'}
    assert lines[0]['dist_workers'] == 1
    # chance is 0.1; 3 epochs reach 0.78-0.9 depending on the CPU's oneDNN kernels (ISA)
    assert lines[-1]['val_acc'] > 0.5
    assert lines[0]['samples_per_sec'] > 0 and lines[0]['dataset'] == 'digits'
    names = set(os.listdir(str(out)))
    assert {'metrics.jsonl', 'train.log', 'ResNet20_b_1_ChaATAC_history.png',
            'digits-ResNet20_b_1_ChaATAC-2.params', 'digits-ResNet20_b_1_ChaATAC-1.params',
            'digits-ResNet20_b_1_ChaATAC-2.states', 'digits-ResNet20_b_1_ChaATAC-2.json'} <= names
    assert 'digits-ResNet20_b_1_ChaATAC-0.params' not in names  # neither periodic nor newest
    best = [n for n in names if n.endswith('-best.params')]
    assert len(best) == 1 and best[0].startswith('%.4f-cifar-' % max(r['val_acc'] for r in lines))
    with open(str(out / 'train.log')) as f:
        log = f.read()
    assert '[Epoch 2]' in log and 'results in' in log


@pytest.mark.parametrize('dataset,kind,archive,extra,label_set', [
    ('cifar10', 'binary', False, [], 'standard'),
    ('cifar10', 'python', True, [], 'standard'),
    ('cifar100', 'python', False, [], 'coarse'),
    ('cifar100', 'binary', True, ['--fine-label'], 'fine'),
])
def test_cifar_layouts_train(tmp_path, dataset, kind, archive, extra, label_set):
    data = tmp_path / 'data'
    write_release(str(data), dataset, kind, archive=archive, counts=COUNTS)
    out = tmp_path / 'run'
    proc = run(SCRIPT, ['--dataset', dataset, '--data-dir', str(data), '--blocks', '1',
                        '--batch-size', '8', '--num-epochs', '1', '-j', '2', '--save-dir',
                        str(out), '--save-plot-dir', str(out)] + extra, tmp_path)
    assert proc.returncode == 0, proc.stderr
    (line,) = records(out)
    assert (line['dataset'], line['label_set'], line['num_workers']) == (dataset, label_set, 2)
    assert ('20 COARSE labels' in proc.stderr) == (label_set == 'coarse')
    assert '40 training / 12 validation samples' in proc.stderr


def test_two_contexts_split_each_batch(tmp_path):
    data = tmp_path / 'data'
    write_release(str(data), 'cifar10', 'binary', counts=COUNTS)
    out = tmp_path / 'run'
    proc = run(SCRIPT, ['--data-dir', str(data), '--blocks', '1', '--batch-size', '4',
                        '--gpus', '0,1', '--num-epochs', '1', '--mode', 'hybrid', '--save-dir',
                        str(out), '--save-plot-dir', str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'training on 2 CPU context(s) instead of GPU(s) 0,1' in proc.stderr
    assert '5 batches of 8 per epoch' in proc.stderr  # 4 per device, as on two GPUs
    assert records(out)[0]['epoch'] == 0


def test_kill_then_resume_ends_where_an_uninterrupted_run_ends(tmp_path):
    args = DIGITS + ['--num-epochs', '4', '--batch-size', '128', '--seed', '3']
    whole, broken = tmp_path / 'whole', tmp_path / 'broken'
    proc = run(SCRIPT, args + ['--save-dir', str(whole), '--save-plot-dir', str(whole)], tmp_path)
    assert proc.returncode == 0, proc.stderr

    kill_and_resume(SCRIPT, args + ['--save-dir', str(broken), '--save-plot-dir', str(broken)],
                    broken, tmp_path, 2)
    assert comparable(records(broken)) == comparable(records(whole))
    last = 'digits-ResNet20_b_1_ChaATAC-3.params'
    want, got = params_of(whole / last), params_of(broken / last)
    assert want.keys() == got.keys()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_nan_loss_stops_without_touching_checkpoints(tmp_path):
    out = tmp_path / 'run'
    args = DIGITS + ['--batch-size', '128', '--save-dir', str(out), '--save-plot-dir', str(out)]
    assert run(SCRIPT, args + ['--num-epochs', '1'], tmp_path).returncode == 0
    last = out / 'digits-ResNet20_b_1_ChaATAC-0.params'
    before = last.read_bytes()
    proc = run(SCRIPT, args + ['--num-epochs', '3', '--resume', '--lr', '1e30'], tmp_path)
    assert proc.returncode == 3
    assert 'error: loss is' in proc.stderr and 'at epoch 1' in proc.stderr
    assert last.read_bytes() == before
    assert [r['epoch'] for r in records(out)] == [0]


def test_summary_prints_the_figures_without_touching_data(tmp_path):
    proc = run(SCRIPT, ['--summary', '--dataset', 'cifar10', '--blocks', '3', '--r', '2',
                        '--useReLU', '--save-dir', str(tmp_path / 'run')], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'Trainable params: 306858' in proc.stdout.splitlines()
    assert 'Total FLOPs: 45794506' in proc.stdout.splitlines()
    assert not (tmp_path / 'run').exists()


@pytest.fixture
def script():
    return load(SCRIPT)


@pytest.mark.parametrize('args,message', [
    (['--dataset', 'svhn'],
     "--dataset must be one of cifar10, cifar100, digits, fashion-mnist, got 'svhn'"),
    (['--act-type', 'xUnit'], "unknown act_type 'xUnit'"),
    (['--r', '0'], '--r must be a positive integer, got 0'),
    (['--r', '32'], 'channels // r'),
    (['--model', 'se'], "--model must be 'atac'"),
    (['--gpus', 'a'], '--gpus must be comma-separated'),
    (['--lr-decay-epoch', 'x'], '--lr-decay-epoch must be comma-separated'),
    (['--lr', '0'], '--lr must be a positive finite number, got 0.0'),
    (['--num-data-workers', '-1'], '-j/--num-data-workers must be a non-negative integer'),
    (['--mode', 'fast'], '--mode must be imperative or hybrid'),
    (['--batch-size', '0'], '--batch-size must be a positive integer'),
    (['--kvstore', 'bogus'], '--kvstore must be one of'),
    (['--cpu-threads', '0'], '--cpu-threads must be a positive integer'),
    (['--data-dir', 'nowhere'], '--data-dir nowhere: no such directory'),
    (['--resume-from', 'none.params'], '--resume-from none.params: no such file'),
    (['--dataset', 'cifar10'], 'no CIFAR-10 found at'),
])
def test_bad_input_exits_2_and_writes_nothing(script, tmp_path, monkeypatch, capsys, args,
                                              message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('MXNET_HOME', str(tmp_path / 'mxnet-home'))
    monkeypatch.setenv('MXNET_GLUON_REPO', 'http://127.0.0.1:9/')
    code = script.run_main(script.main, ['--save-dir', 'run', '-j', '0'] + args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith('error: ') and message in err[-1]
    assert not (tmp_path / 'run').exists()


def test_corrupt_cifar_file_exits_2_naming_it(script, tmp_path, capsys):
    data = tmp_path / 'data'
    write_release(str(data), 'cifar10', 'binary', counts=COUNTS)
    bad = data / 'cifar-10-batches-bin' / 'data_batch_3.bin'
    bad.write_bytes(bad.read_bytes()[:-100])
    code = script.run_main(script.main, ['--data-dir', str(data), '--save-dir',
                                         str(tmp_path / 'run')])
    assert code == 2
    assert str(bad) in capsys.readouterr().err
    assert not (tmp_path / 'run').exists()


def test_argparse_errors_exit_2(script, capsys):
    with pytest.raises(SystemExit) as exit_info:
        script.run_main(script.main, ['--blocks', 'three'])
    assert exit_info.value.code == 2
    assert "--blocks: invalid int value: 'three'" in capsys.readouterr().err


def test_resume_refuses_other_model_flags_and_fresh_runs_refuse_old_checkpoints(tmp_path):
    out = tmp_path / 'run'
    args = DIGITS + ['--num-epochs', '1', '--batch-size', '128', '--save-dir', str(out),
                     '--save-plot-dir', str(out)]
    assert run(SCRIPT, args, tmp_path).returncode == 0
    proc = run(SCRIPT, args, tmp_path)
    assert proc.returncode == 2 and 'holds checkpoints of an earlier run' in proc.stderr
    proc = run(SCRIPT, args + ['--resume', '--act-type', 'relu'], tmp_path)
    assert proc.returncode == 2
    assert "made with other --act-type (act_type='ChaATAC')" in proc.stderr


def test_resume_from_a_file_of_another_model_exits_2(script, tmp_path, capsys):
    module = load(SCRIPT)
    opt = module.parse_args(DIGITS)
    net = cifar_spec(opt).model.build()
    net.initialize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    path = str(tmp_path / 'b1.params')
    net.save_parameters(path)
    code = script.run_main(script.main, DIGITS + ['--blocks', '2', '--resume-from', path,
                                                  '--save-dir', str(tmp_path / 'run')])
    assert code == 2
    assert '--resume-from %s does not fit the model' % path in capsys.readouterr().err
    assert not (tmp_path / 'run').exists()
