"""The reproduction harness: suites, printed commands, smoke runs with skip/resume, reports
against the paper (with runs missing or unfinished), GPU-hours, bad input."""
import importlib
import json
import os
import shlex

import pytest

from atac_gluon.errors import BadInput, run_main
from atac_gluon.experiments import cost
from atac_gluon.experiments.__main__ import main
from atac_gluon.experiments.report import write_report
from atac_gluon.experiments.results import FINISHED, MISSING, UNFINISHED
from atac_gluon.experiments.train import train_suite
from atac_gluon.experiments.suites import (SUITES, ReportKind, Suite, command_flags,
                                           select_scale)
from atac_gluon.reference import official_imagenet_log, paper_table

from .helpers.scripts import run_module


def test_list_names_the_suites_and_their_run_counts(capsys):
    main(['list'])
    out = capsys.readouterr().out
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
              if line and not line.startswith(' ')}
    # fig7: 2 data sets x 4 activations x b 1..5; fig8: 2 x 3 x b 1..4; ablations: 2 x 11;
    # fmnist: 3 variants x 2 input BatchNorms x b 1..3 x 3 seeds; zoo: 5 networks x 3
    assert counts == {'fig7': 40, 'fig8': 24, 'ablations': 22, 'imagenet': 1, 'fmnist': 54,
                      'zoo': 15}
    assert '--scale cpu: %d runs' % len(select_scale(SUITES['fmnist'], 'cpu')[0].configurations) \
        in out


def test_shipped_reference_data():
    log = official_imagenet_log()
    assert [row['epoch'] for row in log] == list(range(160))
    best = min(log, key=lambda row: row['val_top1_err'])
    assert (best['epoch'], best['val_top1_err']) == (155, 0.214103)
    fig7 = {row['b']: row for row in paper_table('CIFAR depth sweep')}
    assert fig7['4']['C10 Swish'] == 0.9375 and fig7['5']['C10 ATAC'] is None
    table4 = {row['Architecture']: row for row in paper_table('ImageNet')}
    assert table4['ATAC-ResNet-50']['top-1 err'] == 21.41
    with pytest.raises(BadInput):
        paper_table('No such section')


def printed(capsys, *args):
    main(['run'] + list(args) + ['--print'])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('# ')  # the suite and its GPU-hours
    return [shlex.split(line) for line in lines[1:]]


@pytest.mark.parametrize('suite', list(SUITES))
def test_print_gives_one_full_scale_command_per_run(capsys, tmp_path, suite):
    commands = printed(capsys, suite, '--root', str(tmp_path))
    assert len(commands) == len(SUITES[suite].configurations)
    assert not os.listdir(str(tmp_path))  # --print writes nothing
    save_dirs = set()
    for command, config in zip(commands, SUITES[suite].configurations):
        assert command[:3] == ['python', '-m', 'atac_gluon.train_%s' % config.script]
        argv = command[3:]
        opt = importlib.import_module('atac_gluon.train_%s' % config.script).parse_args(argv)
        assert opt.resume and opt.save_dir == str(tmp_path / suite / config.name)
        save_dirs.add(opt.save_dir)
        if config.script == 'cifar':  # the official README recipe
            assert (opt.num_epochs, opt.lr, opt.lr_decay_epoch, opt.batch_size, opt.wd,
                    opt.mode, opt.gpus) == (400, 0.2, '300,350', 128, 0.0001, 'hybrid', '0')
            assert opt.blocks == config.labels.get('b', 3)
        else:
            assert (opt.num_epochs, opt.lr, opt.lr_mode, opt.num_gpus, opt.dtype, opt.use_rec,
                    opt.r, opt.act_layers, opt.warmup_epochs) == (
                        160, 0.075, 'cosine', 2, 'float16', True, 2, 2, 5)
    assert len(save_dirs) == len(commands)


def test_print_configurations(capsys, tmp_path):
    commands = {c[c.index('--save-dir') + 1].rsplit('/', 1)[1]: c
                for c in printed(capsys, 'fig8', '--root', str(tmp_path))}
    se, atac, relu = (commands['cifar100-se-b3'], commands['cifar100-atac-b3'],
                      commands['cifar100-resnet-b3'])
    assert '--useGlobal' in se and '--useGlobal' not in atac
    assert all(x in atac for x in ('ChaATAC', '--useReLU')) and 'relu' in relu
    ablations = {c[c.index('--save-dir') + 1].rsplit('/', 1)[1]: c
                 for c in printed(capsys, 'ablations', '--root', str(tmp_path))}
    assert ablations['cifar10-r16'][ablations['cifar10-r16'].index('--r') + 1] == '16'
    assert '--no-useReLU' in ablations['cifar10-no-inner-relu']
    assert '--input-bn-from-data' in ablations['cifar10-input-bn-from-data']
    assert '--input-bn-from-data' not in ablations['cifar10-base']


def test_print_only_some_runs(capsys, tmp_path):
    commands = printed(capsys, 'fig8', '--root', str(tmp_path), '--only', 'cifar10-*-b1',
                       '*-b4')
    names = sorted(c[c.index('--save-dir') + 1].rsplit('/', 1)[1] for c in commands)
    assert names == sorted('%s-%s-b%d' % (data, variant, b) for variant in ('resnet', 'se', 'atac')
                           for data, b in (('cifar10', 1), ('cifar10', 4), ('cifar100', 4)))


def test_print_options_scale_the_schedule(capsys, tmp_path):
    cifar = printed(capsys, 'fig7', '--root', str(tmp_path), '--epochs', '40', '--gpus',
                    '0,1', '--data-dir', str(tmp_path))[0]
    assert cifar[cifar.index('--lr-decay-epoch') + 1] == '30,35'
    assert cifar[cifar.index('--gpus') + 1] == '0,1'
    assert cifar[cifar.index('--data-dir') + 1] == str(tmp_path)
    imagenet = printed(capsys, 'imagenet', '--root', 'r', '--gpus', '0,1,2,3', '--epochs', '32',
                       '--data-dir', str(tmp_path), '--launcher-args', '-n 2 -s 1')[0]
    assert imagenet[:8] == ['python', '-m', 'atac_gluon.launch', '-n', '2', '-s', '1', '--']
    assert imagenet[imagenet.index('--num-gpus') + 1] == '4'
    assert imagenet[imagenet.index('--warmup-epochs') + 1] == '1'
    assert imagenet[imagenet.index('--kvstore') + 1] == 'dist_sync'
    assert imagenet[imagenet.index('--rec-val') + 1] == str(tmp_path / 'rec' / 'val.rec')


def test_gpu_hours():
    log = official_imagenet_log()
    assert cost.suite_gpu_hours(SUITES['imagenet']) == pytest.approx(
        sum(row['time'] for row in log) * 2 / 3600)
    # a CIFAR run: its samples times its FLOPs at the official multiply-adds per GPU-second
    fig8 = SUITES['fig8']
    one = Suite('one', '', [fig8.configurations[0]], 'val_acc', '')
    reference = cost.configuration_flops(SUITES['imagenet'].configurations[0])
    assert reference == 4399512552  # paper-results.md, the official summary
    rate = sum(row['samples_per_sec'] for row in log) / len(log) / 2
    expected = (400 * (50000 + 10000 / 3.0) * cost.configuration_flops(fig8.configurations[0])
                / (rate * reference))
    assert cost.suite_gpu_hours(one) == pytest.approx(expected / 3600)
    deeper = Suite('one', '', [fig8.configurations[3]], 'val_acc', '')
    assert cost.suite_gpu_hours(deeper) > cost.suite_gpu_hours(one)


# --------------------------------------------------------------------------- reports

def write_metrics(root, suite, run, values, metric='val_acc', num_epochs=None):
    folder = os.path.join(str(root), suite, run)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'metrics.jsonl'), 'w') as f:
        for epoch, value in enumerate(values):
            record = {'epoch': epoch, metric: value}
            if metric == 'val_top1_err':
                record['val_top5_err'] = value / 3
            if num_epochs:
                record['num_epochs'] = num_epochs
            f.write(json.dumps(record) + '\n')


@pytest.mark.parametrize('suite', list(SUITES))
def test_report_without_any_run_has_the_paper_columns(tmp_path, suite):
    paths = write_report(str(tmp_path), SUITES[suite])
    assert all(os.path.getsize(p) > 0 for p in paths)
    report = open(paths[0]).read()
    data = json.load(open(paths[1]))
    assert {row['state'] for row in data['runs']} == {MISSING}
    count = len(SUITES[suite].configurations)
    assert '%d missing of %d runs' % (count, count) in report
    if suite == 'fig7':
        assert '| 4 | missing | 0.936 | — |' in report  # C10 ReLU at b=4
    if suite == 'imagenet':
        assert '| ATAC-ResNet-50 | 4.40 | 28.0M | 21.41 | 6.02 |' in report


def test_report_from_copied_metrics_finished_unfinished_missing(tmp_path):
    # only metrics.jsonl files, as copied back from a cluster
    write_metrics(tmp_path, 'fig7', 'cifar10-atac-b3', [0.5, 0.94, 0.93], num_epochs=3)
    write_metrics(tmp_path, 'fig7', 'cifar100-relu-b1', [0.2, 0.6], num_epochs=400)
    paths = write_report(str(tmp_path), SUITES['fig7'])
    rows = {row['run']: row for row in json.load(open(paths[1]))['runs']}
    done = rows['cifar10-atac-b3']
    assert (done['state'], done['ours'], done['best_epoch']) == (FINISHED, 0.94, 1)
    assert done['paper'] == 0.936 and done['diff'] == pytest.approx(0.004)
    assert rows['cifar100-relu-b1']['state'] == UNFINISHED
    assert rows['cifar10-relu-b1']['state'] == MISSING
    report = open(paths[0]).read()
    assert '| 3 | missing | 0.93 | — | missing | 0.925 | — | missing | 0.933 | — | 0.9400 ' \
           '| 0.936 | +0.0040 |' in report
    assert '0.6000 (2/400 ep.)' in report
    assert '1 finished, 1 unfinished, 38 missing of 40 runs' in report


def test_imagenet_report_compares_with_the_official_log(tmp_path):
    official = official_imagenet_log()
    ours = [row['val_top1_err'] + 0.01 for row in official[:10]]
    write_metrics(tmp_path, 'imagenet', 'atac-resnet50', ours, 'val_top1_err', 160)
    paths = write_report(str(tmp_path), SUITES['imagenet'])
    report = open(paths[0]).read()
    assert 'After epoch 9: ours %.4f, the official run %.4f (+0.0100).' % (
        ours[9], official[9]['val_top1_err']) in report
    assert '0 finished, 1 unfinished' in report
    row = json.load(open(paths[1]))['runs'][0]
    assert row['ours'] == pytest.approx(100 * min(ours))
    assert row['diff'] == pytest.approx(100 * min(ours) - 21.41)


def test_ablation_report_differences_to_the_base(tmp_path):
    write_metrics(tmp_path, 'ablations', 'cifar10-base', [0.90], num_epochs=1)
    write_metrics(tmp_path, 'ablations', 'cifar10-input-bn-from-data', [0.93], num_epochs=1)
    report = open(write_report(str(tmp_path), SUITES['ablations'])[0]).read()
    line = next(x for x in report.splitlines() if 'statistics of the training data' in x)
    assert '0.9300 | +0.0300' in line



def test_the_suite_carries_its_report_layout(tmp_path):
    assert {name: (s.report.value, s.gates, s.paper_only) for name, s in SUITES.items()} == {
        'fig7': ('figure', False, ()), 'fig8': ('figure', True, ('GE-θ',)),
        'ablations': ('ablations', False, ()), 'imagenet': ('imagenet', False, ()),
        'fmnist': ('seeds', False, ()), 'zoo': ('models', False, ())}
    # the layout follows the suite's kind, not its name
    fig8 = SUITES['fig8']
    renamed = fig8.replace(name='mine', configurations=fig8.configurations[:3])
    report = open(write_report(str(tmp_path), renamed)[0]).read()
    assert 'GE-θ (not implemented) paper' in report and '## What the units attend to' in report
    plain = renamed.replace(gates=False, paper_only=())
    report = open(write_report(str(tmp_path), plain)[0]).read()
    assert 'GE-θ' not in report and 'What the units attend to' not in report
    ablations = SUITES['ablations'].replace(name='other')
    report = open(write_report(str(tmp_path), ablations)[0]).read()
    assert '| ablation | setting |' in report
    with pytest.raises(TypeError, match='report must be a ReportKind'):
        fig8.replace(report='figure')
    assert ReportKind('ablations') is ReportKind.ABLATIONS


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize('args,message', [
    (['run', 'fig9', '--root', 'r'], "unknown suite 'fig9'"),
    (['report', 'table5', '--root', 'r'], "unknown suite 'table5'"),
    (['run', 'fig8', '--root', 'r', '--epochs', '0'], '--epochs must be a positive integer'),
    (['run', 'fig8', '--root', 'r', '--gpus', 'a,b'], '--gpus must be comma-separated'),
    (['run', 'fig8', '--root', 'r', '--smoke', '--data-dir', '.'], '--smoke trains on its own'),
    (['run', 'fig8', '--root', 'r', '--data-dir', 'nowhere'], '--data-dir nowhere: no such'),
    (['run', 'fig8', '--root', 'afile'], '--root afile exists and is not a directory'),
    (['report', 'fig8', '--root', 'afile'], '--root afile exists and is not a directory'),
    (['run', 'fig8', '--root', 'r', '--launcher-args', ' '], '--launcher-args is empty'),
    (['run', 'fig8', '--root', 'r', '--only', '*-b1', 'cifar10-se-b9'],
     '--only cifar10-se-b9 matches no run of fig8'),
])
def test_bad_input(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'afile').write_text('x')
    assert run_main(main, args) == 2
    err = capsys.readouterr().err
    assert err.count('error:') == 1 and message in err
    assert sorted(os.listdir(str(tmp_path))) == ['afile']


def test_smoke_and_full_scale_never_share_a_suite_directory(tmp_path):
    suite_dir = tmp_path / 'fig8'
    suite_dir.mkdir()
    (suite_dir / 'suite.json').write_text(json.dumps({'smoke': True, 'epochs': 1}))
    with pytest.raises(BadInput, match='holds a smoke run of this suite'):
        train_suite(SUITES['fig8'], str(tmp_path), smoke=False)


# --------------------------------------------------------------------------- running

def small_suite(names):
    fig8 = SUITES['fig8']
    return fig8.replace(configurations=[config for config in fig8.configurations
                                       if config.name in names])


def test_command_flags_at_smoke_scale():
    config = next(r for r in SUITES['fig7'].configurations if r.name == 'cifar100-swish-b5')
    smoke = {'cifar': {'--gpus': '0', '-j': 0}, 'max_blocks': 2,
             'data_dir': {'cifar': '/data', 'imagenet': '/img'}}
    flags = dict(command_flags(config, '/out', epochs=1, smoke=smoke))
    assert (flags['--blocks'], flags['--num-epochs'], flags['--data-dir'], flags['-j'],
            flags['--dataset'], flags['--act-type']) == (2, 1, '/data', 0, 'cifar100', 'swish')
    assert flags['--lr-decay-epoch'] == '1,1' and '--resume' in flags


def test_fused_gates_go_to_the_runs_they_apply_to():
    fused = {(suite.name, config.name) for suite in SUITES.values()
             for config in suite.configurations
             if '--fused-gates' in dict(command_flags(config, '/out', fused_gates=True))}
    assert ('fig8', 'cifar10-atac-b1') in fused and ('ablations', 'cifar10-base') in fused
    # ReLU and other hosts, global (SE-style) units, float16 ImageNet: MXNet's operators
    for name in [('fig7', 'cifar10-relu-b1'), ('fig8', 'cifar10-se-b1'),
                 ('ablations', 'cifar10-global'), ('imagenet', 'atac-resnet50')]:
        assert name not in fused
    config = next(r for r in SUITES['fig8'].configurations if r.name == 'cifar10-atac-b1')
    assert '--fused-gates' not in dict(command_flags(config, '/out'))


@pytest.mark.slow
def test_runs_are_skipped_when_finished_and_resumed_when_not(tmp_path, capsys):
    suite = small_suite({'cifar10-atac-b1', 'cifar10-se-b1'})
    root = str(tmp_path)
    assert train_suite(suite, root, smoke=True) == {'cifar10-se-b1': 'trained',
                                                  'cifar10-atac-b1': 'trained'}
    # one more epoch: both resume from their epoch-0 checkpoint
    assert set(train_suite(suite, root, smoke=True, epochs=2).values()) == {'resumed'}
    assert set(train_suite(suite, root, smoke=True, epochs=2).values()) == {'skipped'}
    err = capsys.readouterr().err
    assert 'fig8 1/2 cifar10-se-b1: resuming at epoch 1 of 2' in err
    assert 'fig8 2/2 cifar10-atac-b1: finished earlier (2 epochs' in err
    for config in suite.configurations:
        records = [json.loads(x) for x in open(os.path.join(root, 'fig8', config.name,
                                                            'metrics.jsonl'))]
        assert [r['epoch'] for r in records] == [0, 1] and records[-1]['num_epochs'] == 2


@pytest.mark.slow
def test_smoke_suite_and_report_end_to_end(tmp_path):
    """The fig8 smoke suite through the command line, b = 1 only (6 of its 24 runs, with the
    gate pictures), then its report (the other 18 listed as missing), then a rerun that trains
    nothing."""
    root = str(tmp_path / 'exp')
    command = ['run', 'fig8', '--root', root, '--smoke', '--only', '*-b1']
    result = run_module('atac_gluon.experiments', command, tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count(': training at epoch 0 of 1') == 6
    report = run_module('atac_gluon.experiments', ['report', 'fig8', '--root', root],
                        tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    suite_dir = os.path.join(root, 'fig8')
    data = json.load(open(os.path.join(suite_dir, 'report.json')))
    states = {row['run']: row['state'] for row in data['runs']}
    assert data['smoke'] and len(states) == 24
    ran = {config.name for config in SUITES['fig8'].configurations if config.labels['b'] == 1}
    assert {name for name, state in states.items() if state == FINISHED} == ran
    text = open(os.path.join(suite_dir, 'report.md')).read()
    assert '**Smoke run**' in text and '6 finished, 0 unfinished, 18 missing of 24 runs' in text
    for config in SUITES['fig8'].configurations:
        picture = os.path.join(suite_dir, config.name, 'gates.png')
        drawn = config.name in ran and config.labels['variant'] != 'ResNet'
        assert os.path.exists(picture) == drawn, config.name
        assert ('(%s/gates.png)' % config.name in text) == drawn, config.name
    again = run_module('atac_gluon.experiments', command, tmp_path)
    assert again.returncode == 0 and again.stderr.count('finished earlier') == 6


@pytest.mark.slow
def test_imagenet_smoke_run_and_report(tmp_path):
    """ResNet-50 ATAC from image folders (32 x 32, float32, CPU) for one epoch, then the
    report against Table IV and the official log."""
    root = str(tmp_path)
    assert train_suite(SUITES['imagenet'], root, smoke=True) == {'atac-resnet50': 'trained'}
    paths = write_report(root, SUITES['imagenet'])
    row = json.load(open(paths[1]))['runs'][0]
    assert row['state'] == FINISHED and 0 <= row['ours'] <= 100
    report = open(paths[0]).read()
    assert 'After epoch 0: ours %.4f, the official run 0.9493' % (row['ours'] / 100) in report


@pytest.mark.slow
def test_runs_under_the_launcher(tmp_path, monkeypatch):
    """--launcher-args: each run is `python -m atac_gluon.launch ARGS -- python -m
    atac_gluon.train_cifar ... --kvstore dist_sync`; its exit code becomes the run's outcome."""
    monkeypatch.setenv('DMLC_INTERFACE', 'lo')
    suite = small_suite({'cifar10-atac-b1'})
    root = str(tmp_path)
    assert train_suite(suite, root, smoke=True, launcher_args='-n 2 -s 1') == {
        'cifar10-atac-b1': 'trained'}
    records = [json.loads(x) for x in open(os.path.join(root, 'fig8', 'cifar10-atac-b1',
                                                        'metrics.jsonl'))]
    assert records[-1]['dist_workers'] == 2
    # a run the launched command refuses (here: the launcher's own bad flag) stops the suite
    with pytest.raises(BadInput, match='exited with code 2'):
        train_suite(suite, root, smoke=True, epochs=2, launcher_args='-n 0')


# --------------------------------------------------------------------------- fmnist

def test_fmnist_configurations():
    configs = SUITES['fmnist'].configurations
    keys = {(c.labels['variant'], c.labels['input_bn'], c.labels['b'], c.labels['seed'])
            for c in configs}
    assert len(keys) == len(configs) == 54
    assert {c.labels['seed'] for c in configs} == {0, 1, 2}
    assert {c.labels['b'] for c in configs} == {1, 2, 3}
    # seed outermost: a suite stopped half-way has whole comparisons at the first seeds
    assert [c.labels['seed'] for c in configs] == sorted(c.labels['seed'] for c in configs)
    by_name = {c.name: dict(c.flags) for c in configs}
    se, atac, relu = by_name['se-b2-official-s1'], by_name['atac-b2-databn-s1'], \
        by_name['relu-b2-official-s1']
    assert se['--act-type'] == 'ChaATAC' and '--useGlobal' in se and '--useReLU' in se
    assert atac['--r'] == 2 and '--useReLU' in atac and '--useGlobal' not in atac
    assert '--input-bn-from-data' in atac and '--input-bn-from-data' not in se
    assert relu['--act-type'] == 'relu' and relu['--seed'] == 1
    assert relu['--dataset'] == 'fashion-mnist'


def test_fmnist_full_scale_prints_the_cifar_recipe_on_all_images(capsys, tmp_path):
    commands = printed(capsys, 'fmnist', '--root', str(tmp_path))
    assert len(commands) == 54
    opt = importlib.import_module('atac_gluon.train_cifar').parse_args(commands[0][3:])
    assert (opt.dataset, opt.train_subset, opt.val_subset, opt.num_epochs) == (
        'fashion-mnist', 0, 0, 400)
    main(['run', 'fmnist', '--root', str(tmp_path), '--print'])
    assert 'about %.1f GPU-hours' % cost.suite_gpu_hours(SUITES['fmnist']) \
        in capsys.readouterr().out


def test_fmnist_cpu_scale(capsys, tmp_path):
    suite, scale = select_scale(SUITES['fmnist'], 'cpu')
    commands = printed(capsys, 'fmnist', '--root', str(tmp_path), '--scale', 'cpu')
    assert len(commands) == len(suite.configurations)
    train_cifar = importlib.import_module('atac_gluon.train_cifar')
    for command, config in zip(commands, suite.configurations):
        opt = train_cifar.parse_args(command[3:])
        assert opt.blocks in scale.blocks and opt.num_epochs == scale.epochs
        assert opt.train_subset == dict(scale.flags)['--train-subset'] and opt.resume
        assert opt.gpus == '0' and opt.dataset == 'fashion-mnist'
        # fused gates where they apply: local ChaATAC units
        assert opt.fused_gates == (config.labels['variant'] == 'ATAC')
    assert {c.labels['seed'] for c in suite.configurations} == {0, 1, 2}
    # --epochs still wins, the decay epochs scaling with it
    command = printed(capsys, 'fmnist', '--root', str(tmp_path), '--scale', 'cpu',
                      '--epochs', '4')[0]
    assert command[command.index('--num-epochs') + 1] == '4'
    assert command[command.index('--lr-decay-epoch') + 1] == '3,4'


@pytest.mark.parametrize('args,message', [
    (['run', 'fig8', '--root', 'r', '--scale', 'cpu'], '--scale cpu: fig8 has no scale but'),
    (['run', 'fmnist', '--root', 'r', '--scale', 'gpu'], 'fmnist has the scales full, cpu'),
    (['run', 'fmnist', '--root', 'r', '--scale', 'cpu', '--smoke'], '--smoke is a scale of'),
])
def test_bad_scale(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert run_main(main, args) == 2
    err = capsys.readouterr().err
    assert err.count('error:') == 1 and message in err
    assert not os.listdir(str(tmp_path))


def test_scales_never_share_a_suite_directory(tmp_path):
    suite, scale = select_scale(SUITES['fmnist'], 'cpu')
    suite_dir = tmp_path / 'fmnist'
    suite_dir.mkdir()
    (suite_dir / 'suite.json').write_text(json.dumps({'smoke': False, 'scale': 'cpu',
                                                      'epochs': None}))
    with pytest.raises(BadInput, match='holds a cpu-scale run of this suite; a full-scale run'):
        train_suite(SUITES['fmnist'], str(tmp_path))
    with pytest.raises(BadInput, match='holds a cpu-scale run of this suite; a smoke run'):
        train_suite(SUITES['fmnist'], str(tmp_path), smoke=True)
    # a suite.json written before scales existed says only whether it is smoke
    (suite_dir / 'suite.json').write_text(json.dumps({'smoke': False, 'epochs': None}))
    with pytest.raises(BadInput, match='holds a full-scale run of this suite; a cpu-scale run'):
        train_suite(suite, str(tmp_path), scale=scale)


def test_fmnist_gpu_hours():
    log = official_imagenet_log()
    config = SUITES['fmnist'].configurations[0]
    one = Suite('one', '', [config], 'val_acc', '')
    reference = cost.configuration_flops(SUITES['imagenet'].configurations[0])
    rate = sum(row['samples_per_sec'] for row in log) / len(log) / 2
    expected = 400 * (60000 + 10000 / 3.0) * cost.configuration_flops(config) / (rate * reference)
    assert cost.suite_gpu_hours(one) == pytest.approx(expected / 3600)


def test_fmnist_report_mean_std_differences_and_baselines(tmp_path):
    """At the cpu scale (as suite.json says): per configuration mean ± std over seeds of the
    best and final accuracy, ATAC - ReLU and SE - ReLU with their standard error, the input
    BatchNorm's difference, the published baselines, a curve PNG."""
    suite_dir = tmp_path / 'fmnist'
    suite_dir.mkdir()
    (suite_dir / 'suite.json').write_text(json.dumps({'smoke': False, 'scale': 'cpu',
                                                      'epochs': 3}))
    curves = {'relu': ([0.5, 0.80, 0.78], [0.5, 0.82, 0.80]),
              'atac': ([0.6, 0.85, 0.84], [0.6, 0.89, 0.86])}
    for variant, per_seed in curves.items():
        for seed, values in enumerate(per_seed):
            write_metrics(tmp_path, 'fmnist', '%s-b1-official-s%d' % (variant, seed), values,
                          num_epochs=3)
    write_metrics(tmp_path, 'fmnist', 'atac-b1-databn-s0', [0.7, 0.9, 0.9], num_epochs=3)
    write_metrics(tmp_path, 'fmnist', 'se-b1-official-s0', [0.7], num_epochs=3)  # unfinished
    paths = write_report(str(tmp_path), SUITES['fmnist'])
    report = open(paths[0]).read()
    assert '**Scale `cpu`**' in report
    assert '| 1 | ReLU | official | 2/3 | 0.8100 ± 0.0141 | 0.7900 ± 0.0141 |' in report
    assert '| 1 | ATAC | official | 2/3 | 0.8700 ± 0.0283 | 0.8500 ± 0.0141 |' in report
    assert '| 1 | ATAC | from data | 1/3 | 0.9000 ± — | 0.9000 ± — |' in report
    assert '| 1 | SE | official | 0/3 | — | — |' in report
    # ATAC - ReLU: best 0.06 ± sqrt(0.0283²/2 + 0.0141²/2), final 0.06 ± 0.0141
    line = next(x for x in report.splitlines() if x.startswith('| 1 | official | '))
    assert line == '| 1 | official | — | +0.0600 ± 0.0224 | — | +0.0600 ± 0.0141 |'
    assert '| 1 | ATAC | +0.0300 | +0.0500 |' in report  # from data - official, one seed
    assert '| ResNet18 |' in report and '| 0.949 |' in report
    data = json.load(open(paths[1]))
    assert data['scale'] == 'cpu' and not data['smoke']
    # the cpu scale's configurations only
    assert len(data['runs']) == len(select_scale(SUITES['fmnist'], 'cpu')[0].configurations)
    assert os.path.getsize(paths[2]) > 0


def test_shipped_fashion_mnist_benchmarks():
    from atac_gluon.reference import fashion_mnist_benchmarks
    rows = {row['Classifier']: row for row in fashion_mnist_benchmarks()}
    assert rows['ResNet18']['Test accuracy'] == 0.949
    assert rows['Human Performance']['Test accuracy'] == 0.835


@pytest.mark.slow
def test_fmnist_smoke_suite_and_report(tmp_path):
    """The fmnist smoke suite at b = 1 through the command line (the three variants with the
    official input BatchNorm at two seeds, ATAC with it from the data once: 7 of its 54 runs,
    from gzipped IDX files), then its report."""
    root = str(tmp_path / 'exp')
    command = ['run', 'fmnist', '--root', root, '--smoke', '--only', '*-b1-official-s[01]',
               'atac-b1-databn-s0']
    result = run_module('atac_gluon.experiments', command, tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count(': training at epoch 0 of 1') == 7
    assert 'fashion-mnist: 320 training / 100 validation samples' in result.stderr
    report = run_module('atac_gluon.experiments', ['report', 'fmnist', '--root', root],
                        tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    suite_dir = os.path.join(root, 'fmnist')
    data = json.load(open(os.path.join(suite_dir, 'report.json')))
    assert data['smoke'] and data['scale'] == 'smoke'
    assert sum(row['state'] == FINISHED for row in data['runs']) == 7
    text = open(os.path.join(suite_dir, 'report.md')).read()
    assert '**Smoke run**' in text and '7 finished, 0 unfinished, 47 missing of 54 runs' in text
    line = next(x for x in text.splitlines() if x.startswith('| 1 | official | '))
    assert line.count('±') == 4  # ATAC - ReLU and SE - ReLU, best and final, 2 seeds each
    assert os.path.getsize(os.path.join(suite_dir, 'fmnist.png')) > 0


# --------------------------------------------------------------------------- zoo

def test_zoo_prints_converted_gluoncv_networks(capsys, tmp_path):
    """The zoo suite: the CIFAR recipe with --model NAME; the printed commands parse, and each
    builds the GluonCV network with its ReLUs replaced as the variant says."""
    from atac_gluon.experiments.train import parse_training_flags
    commands = printed(capsys, 'zoo', '--root', str(tmp_path))
    models = [c[c.index('--model') + 1] for c in commands]
    assert models == [m for m in ('cifar_resnet20_v1', 'cifar_resnet56_v1', 'cifar_resnet20_v2',
                                  'cifar_resnet56_v2', 'cifar_wideresnet16_10') for _ in range(3)]
    config = next(c for c in SUITES['zoo'].configurations
                  if c.name == 'cifar10-cifar_resnet20_v1-atac')
    _, spec = parse_training_flags('cifar', config.flags)
    net = spec.model.build()
    units = [r for r in net.atac_conversion if r.replaced]
    # 9 residual blocks, 2 ReLUs each (GluonCV's CIFAR v1 stem is conv + BN, no ReLU)
    assert len(units) == 18 and spec.files.checkpoint_prefix == \
        'cifar10-cifar_resnet20_v1_ChaATAC'


def test_zoo_report_per_network_against_relu(tmp_path):
    write_metrics(tmp_path, 'zoo', 'cifar10-cifar_resnet20_v1-relu', [0.80, 0.85], num_epochs=2)
    write_metrics(tmp_path, 'zoo', 'cifar10-cifar_resnet20_v1-atac', [0.83, 0.86], num_epochs=2)
    write_metrics(tmp_path, 'zoo', 'cifar10-cifar_resnet56_v1-atac', [0.7], num_epochs=2)
    paths = write_report(str(tmp_path), SUITES['zoo'])
    report = open(paths[0]).read()
    assert ('| cifar_resnet20_v1 | 0.8500 | missing | 0.8600 | — | +0.0100 | '
            '0.8500 / — / 0.8600 |') in report
    assert '| cifar_resnet56_v1 | missing | missing | 0.7000 (1/2 ep.) | — | — |' in report
    assert '2 finished, 1 unfinished, 12 missing of 15 runs' in report


@pytest.mark.slow
def test_zoo_smoke_suite_and_report(tmp_path):
    """A run of the zoo suite at smoke scale through the command line (ATAC in GluonCV's
    ResNet-20 v1), then its report."""
    root = str(tmp_path / 'exp')
    command = ['run', 'zoo', '--root', root, '--smoke', '--only', '*cifar_resnet20_v1-atac']
    result = run_module('atac_gluon.experiments', command, tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count(': training at epoch 0 of 1') == 1
    report = run_module('atac_gluon.experiments', ['report', 'zoo', '--root', root], tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    data = json.load(open(os.path.join(root, 'zoo', 'report.json')))
    finished = sorted(row['run'] for row in data['runs'] if row['state'] == FINISHED)
    assert finished == ['cifar10-cifar_resnet20_v1-atac']
    text = open(os.path.join(root, 'zoo', 'report.md')).read()
    assert '| cifar_resnet20_v1 | missing | missing | 0.' in text and os.path.getsize(
        os.path.join(root, 'zoo', 'zoo.png')) > 0
