"""python -m atac_gluon.benchmark: the plan, the quick run's JSON (every configuration measured
or unavailable with a reason, the machine and the threads), a worker that dies, the derived
entries, and the PyTorch twin of ResNet-20 ATAC (parameter count and forward pass equal to
MXNet's when the weights are copied). No speed is asserted: the numbers depend on the machine."""
import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

from atac_gluon.benchmark import plan
from atac_gluon.benchmark.__main__ import main
from atac_gluon.benchmark.report import derive, format_table, write_json
from atac_gluon.benchmark.supervisor import run_worker
from atac_gluon.benchmark.torchenv import default_torch_path, find_torch, import_torch
from atac_gluon.errors import BadInput
from atac_gluon.models import get_cifar_resnet_atac, get_model

from .helpers.scripts import ROOT, run_module

TORCH_MISSING = find_torch(default_torch_path())
needs_torch = pytest.mark.skipif(
    TORCH_MISSING is not None,
    reason='PyTorch is optional (%s); set ATAC_BENCH_TORCH_PATH to a `pip install --target` '
           'directory holding torch' % TORCH_MISSING)

#: configurations that run on any CPU MXNet 1.9.1 runs on (the others may be unavailable)
ALWAYS = {('mxnet', 'fp32-hybrid'), ('mxnet', 'fp32-imperative'), ('mxnet', 'fp32-hybrid-fused'),
          ('mxnet', 'train_cifar-hybrid'), ('mxnet', 'train_cifar-hybrid-fused'),
          ('mxnet', plan.BOUND_CONFIG)}


def torch_module():
    return import_torch(default_torch_path())


def trainable(net):
    return sum(p.data().size for p in net.collect_params().values() if p.grad_req != 'null')


# --- the plan and the command line --------------------------------------------------------

def test_plan_covers_every_configuration_once():
    specs = plan.build_plan(plan.Settings())
    keys = [s['key'] for s in specs]
    assert len(keys) == len(set(keys))
    configs = {(s['framework'], s['config'], s['mode']) for s in specs}
    for config in plan.MXNET_CONFIGS + (plan.AMP_CONFIG,):
        assert {('mxnet', config, 'train'), ('mxnet', config, 'inference')} <= configs
    for config in plan.QUANTIZED_CONFIGS:
        assert ('mxnet', config, 'inference') in configs
    for config in plan.TORCH_CONFIGS + plan.TORCH_COMPILE_CONFIGS:
        assert {('torch', config, 'train'), ('torch', config, 'inference')} <= configs
    assert {('mxnet', config, 'train') for config in plan.E2E_CONFIGS} <= configs
    bounds = {s['config']: s for s in specs if 'bound' in s['sections']}
    assert set(bounds) == set(plan.BOUND_CONFIGS)
    assert all(s['mode'] == 'train' and s['model'] == plan.MAIN_MODEL for s in bounds.values())
    assert bounds[plan.AMP_BOUND_CONFIG]['group'] == 'mxnet-amp'  # after amp.init
    # b = 1..5 with ATAC and ReLU; ResNet-20 fp32-hybrid is shared by the main and scaling
    scaling = {(s['model'], s['mode']) for s in specs if 'scaling' in s['sections']}
    assert scaling == {(plan.cifar_model(b), m) for b in range(1, 6) for m in plan.MODES}
    relu = {(s['model'], s['mode']) for s in specs if s['act_type'] == 'relu'
            and s['model'] != plan.R50_MODEL}
    assert relu == scaling
    r50 = {(s['batch'], s['image_size'], s['act_type'], s['mode']) for s in specs
           if s['model'] == plan.R50_MODEL}
    assert r50 == {(b, 224, a, m) for b in (8, 32) for a in ('ChaATAC', 'relu')
                   for m in plan.MODES}
    main_hybrid = [s for s in specs if s['key'] ==
                   'mxnet/fp32-hybrid/train/cifar_resnet20_v2_atac/b128']
    assert main_hybrid[0]['sections'] == ['mxnet', 'scaling']
    assert all(s['batch'] == 128 for s in specs if s['model'].startswith('cifar'))


def test_quick_plan_is_small_and_skips_compilation():
    specs = plan.build_plan(plan.Settings(quick=True))
    assert all(s['iterations'] <= 2 and s['warmup'] <= 1 for s in specs)
    assert {s['batch'] for s in specs if s['model'] == plan.R50_MODEL} == {2}
    compiled = [s for s in specs if s['group'] == 'torch-compile']
    assert compiled and all('--quick' in s['skip'] for s in compiled)


@pytest.mark.parametrize('patterns,expected', [
    (['torch'], {'torch', 'torch-compile'}),  # the framework: compile too
    (['torch/bf16-*'], {'torch'}),
    (['quantized', 'end-to-end'], {'mxnet-quantized', 'end-to-end'}),
    (['resnet50'], {'mxnet'}),
])
def test_configs_selects_by_section_config_or_pattern(patterns, expected):
    chosen = plan.select(plan.build_plan(plan.Settings()), patterns)
    assert chosen and {s['group'] for s in chosen} == expected
    if patterns == ['torch/bf16-*']:
        assert {s['config'] for s in chosen} == {'bf16-autocast', 'bf16-autocast-channels_last'}


def test_list_prints_the_plan(capsys):
    main(['--list', '--quick', '--configs', 'amp'])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == [
        'mxnet/amp-bf16-hybrid/train/cifar_resnet20_v2_atac/b16',
        'mxnet/amp-bf16-hybrid/inference/cifar_resnet20_v2_atac/b16']


@pytest.mark.parametrize('args', [['--batch-size', '0'], ['--iterations', '-1'],
                                  ['--warmup', '-1'], ['--configs', 'nothing-matches'],
                                  ['--timeout', '0'], ['--rounds', '0']])
def test_bad_flags_are_refused(args, tmp_path):
    with pytest.raises(BadInput):
        main(args + ['--out', str(tmp_path / 'x.json')])
    assert not os.listdir(str(tmp_path))


def test_out_in_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(BadInput, match='--out'):
        main(['--out', str(tmp_path / 'missing' / 'x.json')])


# --- the worker machinery ------------------------------------------------------------------

def test_a_dead_worker_leaves_its_measurements_unavailable(tmp_path):
    specs = plan.select(plan.build_plan(plan.Settings(quick=True)), ['amp'])
    got = {}
    run_worker('no-such-group', specs, str(tmp_path), None, 60,
               lambda spec, record: got.__setitem__(spec['key'], record), lambda meta: None)
    assert set(got) == {s['key'] for s in specs}
    for record in got.values():
        assert 'no-such-group worker exited with code' in record['unavailable']


def _result(framework, config, mode, ips, model=plan.MAIN_MODEL, batch=16, act_type='ChaATAC',
            **extra):
    return dict(framework=framework, config=config, mode=mode, model=model, batch=batch,
                act_type=act_type, image_size=32, img_per_sec=ips,
                key='%s/%s/%s/%s' % (framework, config, mode, act_type), **extra)


def test_derived_best_entries_and_ratios(tmp_path):
    settings = plan.Settings(quick=True)
    results = [
        _result('mxnet', 'fp32-hybrid', 'train', 100.0),
        _result('mxnet', 'fp32-imperative', 'train', 50.0),
        _result('mxnet', 'fp32-hybrid', 'inference', 400.0),
        _result('mxnet', 'quantized-int8', 'inference', 800.0,
                check={'top1_agreement': 0.9375, 'max_abs_diff': 0.1, 'max_rel_diff': 0.02}),
        _result('mxnet', 'quantized-bf16', 'inference', None, unavailable='no bf16 here'),
        _result('mxnet', plan.E2E_CONFIG, 'train', 80.0),
        _result('mxnet', plan.E2E_FUSED_CONFIG, 'train', 90.0),
        _result('mxnet', 'fp32-hybrid', 'train', 200.0, act_type='relu'),
        _result('torch', 'fp32-eager', 'train', 160.0),
        _result('torch', 'fp32-eager', 'inference', 200.0,
                check={'top1_agreement': 1.0, 'max_abs_diff': 0.0, 'max_rel_diff': 0.0}),
        # faster than anything, but not a network: no best entry
        _result('mxnet', plan.BOUND_CONFIG, 'train', 320.0),
        _result('mxnet', plan.AMP_BOUND_CONFIG, 'train', 128.0),
    ]
    best, ratios = derive(results, settings)
    fp32_bound, amp_bound = ratios['bound']
    # batch 16: torch 100 ms, the bound 50 ms, the network 160 ms (110 ms beside the convs)
    assert fp32_bound['config'] == plan.BOUND_CONFIG
    assert fp32_bound['convolutions_ms_per_batch'] == pytest.approx(50.0)
    assert fp32_bound['rest_ms_per_batch'] == pytest.approx(110.0)
    assert fp32_bound['ms_left_for_the_rest_to_match_torch'] == pytest.approx(50.0)
    # slower than torch even without the rest; no AMP network measured
    assert amp_bound['ms_left_for_the_rest_to_match_torch'] == pytest.approx(-25.0)
    assert amp_bound['full_img_per_sec'] is None and amp_bound['rest_ms_per_batch'] is None
    assert best['mxnet_inference']['config'] == 'quantized-int8'
    assert '94%' in best['mxnet_inference']['accuracy_note']
    assert best['mxnet_train_model_step']['img_per_sec'] == 100.0  # not the end-to-end run
    assert best['mxnet_train_end_to_end']['img_per_sec'] == 90.0  # --fused-gates
    assert best['torch_train']['img_per_sec'] == 160.0
    assert ratios['mxnet_end_to_end_train_over_torch_best_train'] == pytest.approx(90 / 160)
    assert ratios['mxnet_best_inference_over_torch_best_inference'] == pytest.approx(4.0)
    assert ratios['mxnet_hybrid_over_imperative']['train'] == pytest.approx(2.0)
    relu = [r for r in ratios['atac_over_relu'] if r['model'] == plan.MAIN_MODEL
            and r['mode'] == 'train']
    assert relu[0]['atac_time_over_relu_time'] == pytest.approx(2.0)
    doc = {'machine': {'cpu_model': 'x', 'cores': 2, 'threads': 2, 'avx512_bf16': False,
                       'amx': False, 'vnni': False,
                       'versions': {'mxnet': '1.9.1', 'numpy': '1', 'torch': None}},
           'settings': settings.as_dict(), 'timing': 'median', 'results': results,
           'best': best, 'ratios': ratios}
    for r in results:
        r.setdefault('note', '')
    table = format_table(doc)
    assert 'unavailable: no bf16 here' in table and '| torch | fp32-eager | train |' in table
    assert '| convolutions-only-amp-bf16 | 128.0 | 125.0 | amp-bf16-hybrid | - | 100.0 | -25.0 |' \
        in table
    path = tmp_path / 'out.json'
    write_json(str(path), doc)
    assert json.loads(path.read_text())['best']['torch_train']['img_per_sec'] == 160.0
    assert os.listdir(str(tmp_path)) == ['out.json']  # no partial file left


# --- the quick run, end to end -------------------------------------------------------------

@pytest.mark.slow
def test_quick_run_measures_or_explains_every_configuration(tmp_path):
    out = tmp_path / 'quick.json'
    proc = run_module('atac_gluon.benchmark', ['--quick', '--out', str(out), '--cpu-threads',
                                               '1'], tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc['complete'] is True
    machine = doc['machine']
    assert machine['cpu_model'] and machine['cores'] >= 1
    assert machine['threads'] == 1 and machine['OMP_NUM_THREADS'] == '1'
    assert machine['MXNET_USE_OPERATOR_TUNING'] == '0'
    assert {'avx512_bf16', 'amx', 'vnni'} <= set(machine)
    assert machine['versions']['mxnet'] == mx.__version__ and machine['versions']['numpy']
    expected = [s['key'] for s in plan.build_plan(plan.Settings(quick=True))]
    assert [r['key'] for r in doc['results']] == expected
    for r in doc['results']:
        assert {'framework', 'config', 'mode', 'model', 'batch', 'iterations'} <= set(r)
        if r.get('unavailable'):
            assert isinstance(r['unavailable'], str) and r['unavailable'].strip()
            assert (r['framework'], r['config']) not in ALWAYS, r
        else:
            assert r['img_per_sec'] > 0 and r['seconds'] > 0, r
    by_config = {(r['framework'], r['config'], r['mode']): r for r in doc['results']
                 if r['model'] == plan.MAIN_MODEL and r['act_type'] == 'ChaATAC'}
    if TORCH_MISSING is None:
        assert by_config[('torch', 'fp32-eager', 'train')]['img_per_sec'] > 0
        assert machine['versions']['torch']
    else:
        assert 'PyTorch' in by_config[('torch', 'fp32-eager', 'train')]['unavailable']
    assert '--quick' in by_config[('torch', 'fp32-compile', 'train')]['unavailable']
    assert set(doc['best']) == {'mxnet_train_end_to_end', 'mxnet_train_model_step',
                                'mxnet_inference', 'torch_train', 'torch_inference'}
    assert doc['best']['mxnet_train_model_step']['img_per_sec'] > 0
    assert doc['ratios']['atac_over_relu'] and doc['ratios']['scaling']
    bound = doc['ratios']['bound'][0]
    assert bound['config'] == plan.BOUND_CONFIG and bound['rest_ms_per_batch'] is not None
    assert '| framework | config | mode | model | batch | img/s | note |' in proc.stdout


def test_median_round_keeps_the_middle_measurement():
    from atac_gluon.benchmark.supervisor import median_round
    rounds = [{'img_per_sec': v, 'seconds': i} for i, v in enumerate([30.0, 10.0, 20.0])]
    chosen = median_round(rounds)
    assert chosen['img_per_sec'] == 20.0 and chosen['seconds'] == 2
    assert chosen['rounds_img_per_sec'] == [30.0, 10.0, 20.0]
    assert median_round(rounds[:2])['img_per_sec'] == 10.0  # even: the lower middle
    assert 'rounds_img_per_sec' not in median_round(rounds[:1])


@pytest.mark.slow
def test_rounds_run_every_group_again_and_keep_the_median(tmp_path):
    out = tmp_path / 'rounds.json'
    proc = run_module('atac_gluon.benchmark', [
        '--quick', '--rounds', '2', '--no-torch', '--cpu-threads', '1', '--out', str(out),
        '--configs', 'mxnet/fp32-hybrid/*/cifar_resnet8_v2_atac/b16', 'torch/fp32-eager/*'],
        tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count('round 2 of 2') == 1
    doc = json.loads(out.read_text())
    assert doc['rounds'] == 2 and doc['complete'] is True
    measured = [r for r in doc['results'] if not r.get('unavailable')]
    assert {r['mode'] for r in measured} == {'train', 'inference'}
    for r in measured:
        # two measurements (timings never agree to the last bit), the lower one kept
        assert len(set(r['rounds_img_per_sec'])) == 2
        assert r['img_per_sec'] == min(r['rounds_img_per_sec'])
    skipped = [r for r in doc['results'] if r.get('unavailable')]
    assert len(skipped) == 2 and all('--no-torch' in r['unavailable'] for r in skipped)


# --- the PyTorch twin ----------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize('blocks', [1, 2, 3, 4, 5])
def test_torch_network_has_mxnets_parameter_count(blocks):
    torch_module()
    from atac_gluon.benchmark.torch_models import cifar_resnet_v2_atac, trainable_parameter_count
    net = get_model(plan.cifar_model(blocks), classes=10)
    net.initialize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    count = trainable_parameter_count(cifar_resnet_v2_atac(blocks, classes=10))
    assert count == trainable(net)
    if blocks == 3:
        assert count == 306858


def _mxnet_net_with_statistics(blocks, act_type='ChaATAC'):
    """An initialised MXNet network whose running statistics are not the defaults."""
    net = get_cifar_resnet_atac(blocks, classes=10, act_type=act_type)
    net.initialize(mx.init.MSRAPrelu())
    net(mx.nd.zeros((2, 3, 32, 32)))
    rng = np.random.RandomState(3)
    for name, param in net.collect_params().items():
        if name.endswith('running_mean'):
            param.set_data(mx.nd.array(rng.normal(0, 0.2, param.shape)))
        elif name.endswith('running_var'):
            param.set_data(mx.nd.array(rng.uniform(0.5, 1.5, param.shape)))
        elif name.endswith(('gamma', 'beta')) and param.grad_req != 'null':
            param.set_data(mx.nd.array(rng.normal(1 if name.endswith('gamma') else 0, 0.2,
                                                  param.shape)))
    return net


@needs_torch
@pytest.mark.parametrize('blocks,act_type', [(3, 'ChaATAC'), (1, 'ChaATAC'), (1, 'relu')])
def test_torch_forward_matches_mxnet_with_copied_weights(blocks, act_type):
    torch = torch_module()
    from atac_gluon.benchmark.torch_models import copy_from_mxnet, cifar_resnet_v2_atac
    net = _mxnet_net_with_statistics(blocks, act_type)
    model = copy_from_mxnet(cifar_resnet_v2_atac(blocks, classes=10, act_type=act_type), net)
    x = np.random.RandomState(0).normal(size=(8, 3, 32, 32)).astype(np.float32)
    model.eval()  # running statistics
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, net(mx.nd.array(x)).asnumpy(), rtol=1e-4, atol=1e-4)
    model.train()  # batch statistics
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    with mx.autograd.record():
        want = net(mx.nd.array(x)).asnumpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@needs_torch
def test_weight_copy_refuses_another_network():
    torch_module()
    from atac_gluon.benchmark.torch_models import copy_from_mxnet, cifar_resnet_v2_atac
    net = _mxnet_net_with_statistics(1)
    with pytest.raises(ValueError, match='shape|counterpart|without'):
        copy_from_mxnet(cifar_resnet_v2_atac(1, classes=100), net)
    with pytest.raises(ValueError):
        copy_from_mxnet(cifar_resnet_v2_atac(2, classes=10), net)


def test_mxnet_workers_run_without_torch_loaded(tmp_path):
    # the MXNet measurements run in processes where torch cannot load (its OpenMP runtime
    # would sit beside MXNet's); GluonCV itself imports beside torch 2 (atac_gluon.compat)
    fake = tmp_path / 'torch'
    fake.mkdir()
    (fake / '__init__.py').write_text("__version__ = '2.13.0'\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    code = ('import sys\n'
            'from atac_gluon.benchmark.torchenv import hide_torch; hide_torch()\n'
            'import gluoncv; from atac_gluon.models import get_model\n'
            'try:\n    import torch\nexcept ImportError:\n    print("hidden")\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == 'hidden', proc.stderr


# --- the profile ----------------------------------------------------------------------------

def test_profile_summary_sums_kinds_and_shares():
    from atac_gluon.benchmark.profile import summarise
    operators = {'Convolution': {'count': 4, 'total_ms': 40.0},
                 '_backward_broadcast_mul': {'count': 2, 'total_ms': 30.0},
                 'broadcast_mul': {'count': 2, 'total_ms': 10.0},
                 'Flatten': {'count': 2, 'total_ms': 20.0}}
    summary = summarise(operators, steps=2, step_seconds=0.06)
    assert summary['step_ms'] == pytest.approx(60.0)
    assert summary['operators_ms_per_step'] == pytest.approx(50.0)
    kinds = {k['kind']: k for k in summary['kinds']}
    assert kinds['convolution']['ms_per_step'] == pytest.approx(20.0)
    assert kinds['ATAC gate multiply']['share'] == pytest.approx(0.4)
    assert kinds['other']['ms_per_step'] == pytest.approx(10.0)
    assert kinds['BatchNorm']['ms_per_step'] == 0
    assert sum(k['share'] for k in summary['kinds']) == pytest.approx(1.0)
    assert [r['operator'] for r in summary['operators']][:2] == ['Convolution',
                                                               '_backward_broadcast_mul']
    assert summary['operators'][0]['calls_per_step'] == 2


@pytest.mark.slow
@pytest.mark.parametrize('act_type,fused', [('ChaATAC', False), ('relu', False),
                                            ('ChaATAC', True)])
def test_profile_counts_every_operator_of_a_step(tmp_path, act_type, fused):
    """Bulk execution off: each convolution is its own entry, once per step forward and once
    backward, and the optimizer updates each trainable array once; fused gates count as the
    gate's."""
    out = tmp_path / 'profile.json'
    proc = run_module('atac_gluon.benchmark.profile',
                      ['--model', 'cifar_resnet8_v2_atac', '--act-type', act_type,
                       '--batch-size', '4', '--steps', '2', '--cpu-threads', '1', '--out',
                       str(out)] + (['--fused-gates'] if fused else []), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    net = get_model('cifar_resnet8_v2_atac', classes=10, act_type=act_type, r=2, useReLU=True)
    net.initialize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    convs = []
    net.apply(lambda block: convs.append(block) if isinstance(block, mx.gluon.nn.Conv2D)
              else None)
    convs = len(convs)
    arrays = sum(1 for p in net.collect_params().values() if p.grad_req != 'null')
    rows = {r['operator']: r for r in doc['operators']}
    assert rows['Convolution']['calls_per_step'] == convs
    assert rows['_backward_Convolution']['calls_per_step'] == convs
    assert rows['nag_mom_update']['calls_per_step'] == arrays
    gate = next(k for k in doc['kinds'] if k['kind'] == 'ATAC gate multiply')
    assert (gate['share'] > 0) == (act_type == 'ChaATAC')
    assert ('atac_gate' in rows) == fused and ('elemwise_mul' in rows) == (not fused and
                                                                           act_type == 'ChaATAC')
    if fused:
        assert rows['atac_gate']['calls_per_step'] == 7
        assert rows['_backward_atac_gate']['calls_per_step'] == 7
    assert sum(k['share'] for k in doc['kinds']) == pytest.approx(1.0)
    assert doc['threads'] == 1 and doc['steps'] == 2 and doc['step_ms'] > 0
    assert '| kind | ms/step | share |' in proc.stdout


def test_profile_bad_flags_write_nothing(tmp_path):
    before = sorted(os.listdir(str(tmp_path)))
    for args in (['--steps', '0'], ['--model', 'resnet18'],
                 ['--out', str(tmp_path / 'no' / 'p.json')]):
        proc = run_module('atac_gluon.benchmark.profile', args + ['--cpu-threads', '1'],
                          tmp_path)
        assert proc.returncode == 2 and proc.stderr.count('error:') == 1, proc.stderr
    assert sorted(os.listdir(str(tmp_path))) == before
