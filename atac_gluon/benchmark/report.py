"""The benchmark's output: the machine, the derived best entries and ratios, the printed table,
and the JSON document written atomically. Imports neither framework."""
import json
import os
import platform
from importlib import metadata

from ..cpuinfo import cpu_info
from ..files import atomic_write_text
from ..training.threads import available_cores
from .plan import (AMP_BOUND_CONFIG, AMP_CONFIG, BOUND_CONFIG, BOUND_CONFIGS, E2E_CONFIGS,
                   MAIN_MODEL, R50_MODEL, cifar_model)

__all__ = ['machine_info', 'derive', 'format_table', 'write_json']

#: CPU flags that decide which low-precision kernels oneDNN / PyTorch can use
CPU_FLAGS = ('avx2', 'fma', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'avx512_bf16',
             'amx_tile', 'amx_bf16', 'amx_int8')


def _version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info(threads):
    """CPU model and flags, cores, the thread setting and the package versions (read from the
    installed metadata, nothing imported; the workers fill in torch's)."""
    model, flags = cpu_info()
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    return {'cpu_model': model,
            'cpu_flags': {flag: flag in flags for flag in CPU_FLAGS},
            'avx512_bf16': 'avx512_bf16' in flags,
            'amx': bool(flags & {'amx_tile', 'amx_bf16', 'amx_int8'}),
            'vnni': bool(flags & {'avx512_vnni', 'avx_vnni'}),
            'cores': available_cores(), 'cpu_count': os.cpu_count(), 'threads': threads,
            'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS'),
            'MXNET_USE_OPERATOR_TUNING': os.environ.get('MXNET_USE_OPERATOR_TUNING'),
            'load_average_at_start': load,
            'platform': platform.platform(), 'python': platform.python_version(),
            'versions': {'mxnet': _version('mxnet'), 'numpy': _version('numpy'),
                         'gluoncv': _version('gluoncv'), 'torch': None}}


def _ok(result):
    return not result.get('unavailable') and (result.get('img_per_sec') or 0) > 0


def _summary(result, check_note=False):
    if result is None:
        return None
    entry = {k: result.get(k) for k in ('framework', 'config', 'mode', 'model', 'batch',
                                        'img_per_sec', 'key', 'note')}
    if check_note:
        check = result.get('check')
        if check:
            entry['accuracy_note'] = (
                'top-1 agrees with the fp32 network on %.0f%% of the benchmark batch, largest '
                'logit difference %.2g of the logit range (untrained weights, random inputs: a '
                'numerical check, not a test accuracy)' % (100 * check['top1_agreement'],
                                                           check['max_rel_diff']))
            entry['check'] = check
        elif result.get('config', '').startswith('fp32'):
            entry['accuracy_note'] = 'fp32: the reference numerics'
        else:
            entry['accuracy_note'] = 'outputs not compared'
    return entry


def _best(results, check_note=False, **match):
    found = [r for r in results if _ok(r) and all(r.get(k) == v for k, v in match.items())]
    return _summary(max(found, key=lambda r: r['img_per_sec']) if found else None, check_note)


def _ratio(a, b):
    if not a or not b:
        return None
    return a['img_per_sec'] / b['img_per_sec']


def _find(results, **match):
    for r in results:
        if _ok(r) and all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def _ms_per_batch(result):
    return result and 1000.0 * result['batch'] / result['img_per_sec']


def _bound_rows(results, main, torch_train):
    """Per convolutions-only bound: the real network's step in the same precision, how its
    time splits into the convolutions and the rest, and what is left for the rest if PyTorch's
    best training is to be matched (negative: out of reach even if the rest cost nothing)."""
    rows = []
    torch_ms = torch_train and 1000.0 * torch_train['batch'] / torch_train['img_per_sec']
    for bound_config, full_config in ((BOUND_CONFIG, 'fp32-hybrid'),
                                      (AMP_BOUND_CONFIG, AMP_CONFIG)):
        bound = _find(results, framework='mxnet', config=bound_config, mode='train', **main)
        if not bound:
            continue
        full = _find(results, framework='mxnet', config=full_config, mode='train', **main)
        bound_ms, full_ms = _ms_per_batch(bound), _ms_per_batch(full)
        rows.append({
            'config': bound_config, 'img_per_sec': bound['img_per_sec'],
            'full_config': full_config, 'full_img_per_sec': full and full['img_per_sec'],
            'convolutions_ms_per_batch': bound_ms,
            'rest_ms_per_batch': full_ms and full_ms - bound_ms,
            'torch_best_ms_per_batch': torch_ms,
            'ms_left_for_the_rest_to_match_torch': torch_ms and torch_ms - bound_ms})
    return rows


def derive(results, settings):
    """(best, ratios) of the results: the fastest configurations of the main network at the
    main batch and the ratios the issue compares. The convolutions-only bounds are not
    networks: they enter no best entry, only ``ratios['bound']``."""
    main = dict(model=MAIN_MODEL, batch=settings.batch_size, act_type='ChaATAC')
    bounds = [r for r in results if r.get('config') in BOUND_CONFIGS]
    results = [r for r in results if r.get('config') not in BOUND_CONFIGS]
    end_to_end = [r for r in results if r.get('config') in E2E_CONFIGS]
    model_step = [r for r in results if r.get('config') not in E2E_CONFIGS]
    best = {
        'mxnet_train_end_to_end': _best(end_to_end, framework='mxnet'),
        'mxnet_train_model_step': _best(model_step, framework='mxnet', mode='train', **main),
        'mxnet_inference': _best(results, True, framework='mxnet', mode='inference', **main),
        'torch_train': _best(results, framework='torch', mode='train', **main),
        'torch_inference': _best(results, True, framework='torch', mode='inference', **main),
    }
    e2e = best['mxnet_train_end_to_end']
    ratios = {
        'mxnet_end_to_end_train_over_torch_best_train':
            _ratio(e2e, best['torch_train']) if e2e and e2e['model'] == MAIN_MODEL else None,
        'mxnet_best_train_over_torch_best_train':
            _ratio(best['mxnet_train_model_step'], best['torch_train']),
        'mxnet_best_inference_over_torch_best_inference':
            _ratio(best['mxnet_inference'], best['torch_inference']),
        'mxnet_hybrid_over_imperative': {
            mode: _ratio(_find(results, framework='mxnet', config='fp32-hybrid', mode=mode,
                               **main),
                         _find(results, framework='mxnet', config='fp32-imperative', mode=mode,
                               **main))
            for mode in ('train', 'inference')},
        'atac_over_relu': [],
        'scaling': [],
        'bound': _bound_rows(bounds + results, main, best['torch_train']),
    }
    if e2e and e2e['model'] != MAIN_MODEL:
        ratios['note'] = ('the end-to-end run trained %s (--quick), not %s: no end-to-end '
                          'ratio' % (e2e['model'], MAIN_MODEL))
    hosts = [(cifar_model(b), 32, settings.batch_size) for b in range(1, 6)]
    hosts += [(R50_MODEL, settings.r50_size, batch) for batch in settings.r50_batches]
    for model, size, batch in hosts:
        for mode in ('train', 'inference'):
            match = dict(framework='mxnet', config='fp32-hybrid', model=model, batch=batch,
                         image_size=size, mode=mode)
            atac = _find(results, act_type='ChaATAC', **match)
            relu = _find(results, act_type='relu', **match)
            if atac or relu:
                ratios['atac_over_relu'].append({
                    'model': model, 'batch': batch, 'image_size': size, 'mode': mode,
                    'atac_img_per_sec': atac and atac['img_per_sec'],
                    'relu_img_per_sec': relu and relu['img_per_sec'],
                    'atac_time_over_relu_time': _ratio(relu, atac)})
    for blocks in range(1, 6):
        row = {'blocks': blocks, 'depth': 6 * blocks + 2, 'model': cifar_model(blocks)}
        for mode in ('train', 'inference'):
            found = _find(results, framework='mxnet', config='fp32-hybrid', act_type='ChaATAC',
                          model=cifar_model(blocks), batch=settings.batch_size, mode=mode)
            row['%s_img_per_sec' % mode] = found and found['img_per_sec']
        if row['train_img_per_sec'] or row['inference_img_per_sec']:
            ratios['scaling'].append(row)
    return best, ratios


def _fmt(value, digits=1):
    return '-' if value is None else '%.*f' % (digits, value)


def format_table(doc):
    """The results, best entries and ratios as markdown-like text."""
    m = doc['machine']
    lines = ['# atac_gluon.benchmark%s' % (' (--quick)' if doc['settings']['quick'] else ''),
             '',
             'CPU %s, %d cores available, %d threads; avx512_bf16 %s, amx %s, vnni %s; '
             'mxnet %s, numpy %s, torch %s' % (
                 m['cpu_model'], m['cores'], m['threads'], m['avx512_bf16'], m['amx'],
                 m['vnni'], m['versions']['mxnet'], m['versions']['numpy'],
                 m['versions']['torch']),
             '', 'Timing: ' + doc['timing'], '']
    load = m.get('load_average_at_start')
    if load and load[0] > 0.5 * m['cores']:
        lines += ['Warning: the machine was busy (load average %.1f on %d cores at the start): '
                  'the timings are noisy.' % (load[0], m['cores']), '']
    lines += [
             '| framework | config | mode | model | batch | img/s | note |',
             '|---|---|---|---|---:|---:|---|']
    for r in doc['results']:
        model = r['model'] + ('' if r['act_type'] == 'ChaATAC' else ' (%s)' % r['act_type'])
        if r['image_size'] != 32:
            model += ' @%d' % r['image_size']
        if r.get('unavailable'):
            speed, note = 'n/a', 'unavailable: ' + r['unavailable']
        else:
            speed, note = _fmt(r.get('img_per_sec')), r.get('note') or ''
            if r.get('check'):
                note += '; top-1 agreement %.0f%%' % (100 * r['check']['top1_agreement'])
        lines.append('| %s | %s | %s | %s | %d | %s | %s |' % (
            r['framework'], r['config'], r['mode'], model, r['batch'], speed,
            note.replace('|', '/')))
    lines += ['', 'Best (%s, batch %d):' % (MAIN_MODEL, doc['settings']['batch_size'])]
    for name, entry in doc['best'].items():
        if entry is None:
            lines.append('- %s: none available' % name)
        else:
            extra = ' (%s)' % entry['accuracy_note'] if entry.get('accuracy_note') else ''
            lines.append('- %s: %s %s %s img/s%s' % (name, entry['framework'], entry['config'],
                                                      _fmt(entry['img_per_sec']), extra))
    r = doc['ratios']
    lines += ['', 'Ratios:']
    for name in ('mxnet_end_to_end_train_over_torch_best_train',
                 'mxnet_best_train_over_torch_best_train',
                 'mxnet_best_inference_over_torch_best_inference'):
        lines.append('- %s: %s' % (name, _fmt(r.get(name), 3)))
    for mode, value in r['mxnet_hybrid_over_imperative'].items():
        lines.append('- mxnet hybrid / imperative, %s: %s' % (mode, _fmt(value, 3)))
    if r.get('note'):
        lines.append('- ' + r['note'])
    if r['atac_over_relu']:
        lines += ['', 'ATAC against ReLU (time of a step with ATAC / with ReLU):', '',
                  '| model | batch | mode | ATAC img/s | ReLU img/s | ATAC time / ReLU time |',
                  '|---|---:|---|---:|---:|---:|']
        for row in r['atac_over_relu']:
            lines.append('| %s | %d | %s | %s | %s | %s |' % (
                row['model'] + ('' if row['image_size'] == 32 else ' @%d' % row['image_size']),
                row['batch'], row['mode'], _fmt(row['atac_img_per_sec']),
                _fmt(row['relu_img_per_sec']), _fmt(row['atac_time_over_relu_time'], 2)))
    if r['scaling']:
        lines += ['', 'Depth scaling (MXNet fp32-hybrid, ATAC):', '',
                  '| b | depth | train img/s | inference img/s |', '|---:|---:|---:|---:|']
        for row in r['scaling']:
            lines.append('| %d | %d | %s | %s |' % (row['blocks'], row['depth'],
                                                   _fmt(row['train_img_per_sec']),
                                                   _fmt(row['inference_img_per_sec'])))
    if r.get('bound'):
        lines += ['', 'Upper bound: the network reduced to its convolutions (ms per batch of %d; '
                  '"left" is what the rest may cost for the step to match PyTorch\'s best '
                  'training, negative when out of reach):' % doc['settings']['batch_size'], '',
                  '| bound | img/s | convolutions ms | network | rest ms | torch best ms | '
                  'left ms |', '|---|---:|---:|---|---:|---:|---:|']
        for row in r['bound']:
            lines.append('| %s | %s | %s | %s | %s | %s | %s |' % (
                row['config'], _fmt(row['img_per_sec']), _fmt(row['convolutions_ms_per_batch']),
                row['full_config'], _fmt(row['rest_ms_per_batch']),
                _fmt(row['torch_best_ms_per_batch']),
                _fmt(row['ms_left_for_the_rest_to_match_torch'])))
    return '\n'.join(lines)


def write_json(path, doc):
    """Write ``doc`` to ``path`` through a partial file in the same directory and a rename:
    a reader sees the old file or the new one, never a partial one."""
    atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=False, default=str) + '\n',
                      unique=True)

