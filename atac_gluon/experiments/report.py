"""``report``: a suite's results beside the paper's, as ``report.md``, ``report.json`` and PNG
plots shaped like the paper's Fig. 7 / Fig. 8 / Table IV, written into ``DIR/SUITE/``. Only the
runs' ``metrics.jsonl`` files are read (and, for Fig. 8, gate pictures already drawn), so results
copied back from a cluster work; runs with no data yet still get the paper's columns."""
import json
import os

import statistics

from ..files import atomic_write, atomic_write_text
from ..reference import fashion_mnist_benchmarks, official_imagenet_log, paper_table
from .results import FINISHED, MISSING, UNFINISHED, UNREADABLE, read_result, save_dir
from .suites import DATASETS, FULL_SCALE, SMOKE_SCALE, ReportKind, select_scale
from .train import recorded_scale

__all__ = ['write_report', 'collect', 'GATES_PICTURE']

#: the gate picture of a run (suites with ``gates``: fig8), in its save directory
GATES_PICTURE = 'gates.png'
_DATASET_TITLES = {'cifar10': 'CIFAR-10', 'cifar100': 'CIFAR-100'}


def _suite_scale(root, suite):
    """(scale name, epochs) recorded by ``run`` in DIR/SUITE/suite.json, else ('full', None)."""
    try:
        recorded = recorded_scale(os.path.join(root, suite.name))
    except ValueError:  # BadInput: unreadable; the report still lists what the runs hold
        recorded = None
    return recorded or (FULL_SCALE, None)


def collect(root, suite):
    """(rows, scale name): one row per run of the scale the suite ran at (name, labels, state,
    epochs, ours, paper, diff (ours - paper, in the paper's unit), the best epoch and its
    record, the curve of the suite's metric); a smaller scale's configurations only."""
    scale_name, epochs = _suite_scale(root, suite)
    scale = None
    if scale_name not in (FULL_SCALE, SMOKE_SCALE):
        suite, scale = select_scale(suite, scale_name)
        epochs = epochs or scale.epochs
    tables = {}
    rows = []
    for config in suite.configurations:
        planned = epochs or int(dict(config.flags)['--num-epochs'])
        result = read_result(root, suite, config, planned)
        paper = None
        if config.paper is not None:
            section, column, key = config.paper
            if section not in tables:
                tables[section] = {row[next(iter(row))]: row for row in paper_table(section)}
            paper = tables[section].get(key, {}).get(column)
        ours = result.best
        if ours is not None and suite.metric == 'val_top1_err':
            ours = 100.0 * ours  # Table IV prints percent
        rows.append({'run': config.name, 'labels': config.labels, 'state': result.state,
                     'epochs_done': result.epochs_done, 'planned_epochs': result.planned,
                     'ours': ours, 'paper': paper,
                     'diff': None if ours is None or paper is None else ours - paper,
                     'best_epoch': result.best_epoch, 'record': result.record,
                     'note': result.note, 'curve': [(r['epoch'], r.get(suite.metric))
                                                    for r in result.records]})
    return rows, scale_name


# --------------------------------------------------------------------------- formatting

def _num(value, digits=4):
    return '—' if value is None else ('%.*f' % (digits, value))


def _paper(value):
    """A paper number as printed there (0.895, 0.9375)."""
    return '—' if value is None else '%.4g' % value


def _signed(value, digits=4):
    return '—' if value is None else ('%+.*f' % (digits, value))


def _ours(row, digits=4):
    """Our number with its state: '0.9123', '0.8012 (12/400)' unfinished, 'missing'."""
    if row['state'] == MISSING:
        return 'missing'
    if row['state'] == UNREADABLE:
        return 'unreadable'
    text = _num(row['ours'], digits)
    if row['state'] == UNFINISHED:
        text += ' (%d/%d ep.)' % (row['epochs_done'], row['planned_epochs'])
    return text


def _status_section(rows):
    """Which runs are missing, unfinished or unreadable."""
    lines = ['## Run status', '']
    counts = {state: [r for r in rows if r['state'] == state]
              for state in (FINISHED, UNFINISHED, MISSING, UNREADABLE)}
    lines.append('%d finished, %d unfinished, %d missing%s of %d runs.' % (
        len(counts[FINISHED]), len(counts[UNFINISHED]), len(counts[MISSING]),
        ', %d unreadable' % len(counts[UNREADABLE]) if counts[UNREADABLE] else '', len(rows)))
    for state in (UNFINISHED, MISSING, UNREADABLE):
        if counts[state]:
            lines += ['', '- %s: %s' % (state, ', '.join(
                r['run'] + (' (%d/%d epochs)' % (r['epochs_done'], r['planned_epochs'])
                            if state == UNFINISHED else '')
                + (' (%s)' % r['note'] if state == UNREADABLE else '')
                for r in counts[state]))]
    return lines


def _header(suite, scale_name):
    lines = ['# %s' % suite.title, '', suite.description + '.', '']
    if scale_name == SMOKE_SCALE:
        lines += ['**Smoke run**: every configuration for one epoch on tiny digits-derived '
                  'data, at most b=2. The numbers only show that the pipeline works; they are '
                  'not comparable to the paper\'s.', '']
    elif scale_name != FULL_SCALE:
        scale = select_scale(suite, scale_name)[1]
        lines += ['**Scale `%s`**: %s.' % (scale.name, scale.description), '']
    return lines


# --------------------------------------------------------------------------- Fig. 7 / Fig. 8

def _variants(suite):
    seen = []
    for config in suite.configurations:
        if config.labels['variant'] not in seen:
            seen.append(config.labels['variant'])
    return seen


def _figure_tables(suite, rows, paper_only):
    """One table per data set: b down, per variant ours / paper / difference."""
    variants = _variants(suite)
    lines = []
    for dataset, short in DATASETS:
        lines += ['## %s (best validation accuracy)' % _DATASET_TITLES[dataset], '']
        head = ['b'] + sum([['%s ours' % v, 'paper', 'Δ'] for v in variants], [])
        for variant in paper_only:
            head += ['%s paper' % variant]
        lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
        depths = sorted({r['labels']['b'] for r in rows if r['labels']['dataset'] == dataset})
        for b in depths:
            cells = [str(b)]
            for variant in variants:
                row = next(r for r in rows if r['labels'] == dict(dataset=dataset, b=b,
                                                                  variant=variant))
                cells += [_ours(row), _paper(row['paper']), _signed(row['diff'])]
            for variant in paper_only:
                cells.append(_paper(paper_only[variant].get((short, b))))
            lines.append('| ' + ' | '.join(cells) + ' |')
        lines.append('')
    return lines


def _paper_only_columns(suite):
    """Columns the paper has and we do not train (``suite.paper_only``, Fig. 8's GE-θ), from the
    paper's table of the suite: column title -> {(C10, b): value}."""
    if not suite.paper_only:
        return {}
    table = paper_table(suite.configurations[0].paper[0])
    columns = {}
    for variant in suite.paper_only:
        columns['%s (not implemented)' % variant] = {
            (short, int(row['b'])): row.get('%s %s' % (short, variant))
            for row in table for _, short in DATASETS}
    return columns


def _plot_figure(suite, rows, paper_only, path):
    """Accuracy against b per data set: the paper dashed, ours solid (unfinished hollow)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    variants = _variants(suite)
    colors = dict(zip(variants + list(paper_only), plt.get_cmap('tab10').colors))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (dataset, short) in zip(axes, DATASETS):
        for variant in variants:
            mine = sorted((r['labels']['b'], r) for r in rows
                          if r['labels']['dataset'] == dataset and r['labels']['variant'] == variant)
            paper = [(b, r['paper']) for b, r in mine if r['paper'] is not None]
            if paper:
                ax.plot(*zip(*paper), '--', marker='o', mfc='none', color=colors[variant],
                        label='%s (paper)' % variant)
            ours = [(b, r['ours'], r['state']) for b, r in mine if r['ours'] is not None]
            if ours:
                ax.plot([b for b, _, _ in ours], [v for _, v, _ in ours], '-', marker='o',
                        color=colors[variant], label='%s (ours)' % variant)
                hollow = [(b, v) for b, v, state in ours if state != FINISHED]
                if hollow:
                    ax.plot(*zip(*hollow), 'o', color='white', mec=colors[variant], ms=5)
        for variant, values in paper_only.items():
            points = sorted((b, v) for (s, b), v in values.items() if s == short and v)
            ax.plot(*zip(*points), ':', marker='s', mfc='none', color=colors[variant],
                    label='%s (paper)' % variant.split(' ')[0])
        ax.set_title(_DATASET_TITLES[dataset])
        ax.set_xlabel('b (blocks per stage)')
        ax.set_ylabel('best validation accuracy')
        ax.set_xticks(sorted({r['labels']['b'] for r in rows}))
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='lower center', ncol=min(4, len(labels)), fontsize=8,
               frameon=False)
    fig.suptitle(suite.title + ' (hollow: unfinished)', fontsize=11)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    _save(fig, path)


def _gates_section(root, suite, rows):
    """Links to the gate pictures of the runs (drawn by ``run`` after each run)."""
    lines = ['## What the units attend to', '',
             'The gate (sigmoid output) of every ATAC / SE unit on one validation image, per '
             'model (`python -m atac_gluon.visualize`).', '']
    for row in rows:
        if row['labels']['variant'] == 'ResNet':
            continue
        picture = os.path.join(save_dir(root, suite, _configuration(suite, row['run'])),
                               GATES_PICTURE)
        if os.path.exists(picture):
            lines.append('![%s](%s/%s)' % (row['run'], row['run'], GATES_PICTURE))
        else:
            lines.append('- %s: no picture yet (drawn once the run has a checkpoint)'
                         % row['run'])
    return lines + ['']


def _configuration(suite, name):
    return next(config for config in suite.configurations if config.name == name)


# --------------------------------------------------------------------------- ablations

def _ablation_lines(suite, rows):
    lines = ['The paper\'s ablation tables could not be recovered (paper-results.md), so this '
             'compares with our own base run: ResNet-20 ATAC, r=2, inner ReLU, local, all four '
             'stages, official input BatchNorm.', '',
             '| ablation | setting | ' + ' | '.join(
                 '%s | Δ vs base' % _DATASET_TITLES[d] for d, _ in DATASETS) + ' |',
             '|---|---|' + '---|---|' * len(DATASETS)]
    keys = [r['labels']['key'] for r in rows if r['labels']['dataset'] == DATASETS[0][0]]
    for key in keys:
        cells = None
        for dataset, _ in DATASETS:
            row = _find(rows, dataset=dataset, key=key)
            base = _find(rows, dataset=dataset, key='base')
            if cells is None:
                cells = [row['labels']['ablation'], row['labels']['setting']]
            diff = (None if key == 'base' or row['ours'] is None or base['ours'] is None
                    else row['ours'] - base['ours'])
            cells += [_ours(row), _signed(diff)]
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines += ['', 'The last row measures the input-BatchNorm finding (README, "The input '
              'BatchNorm at evaluation"): the official networks evaluate with that '
              'BatchNorm\'s initial statistics (mean 0, variance 1), training standardises '
              'every batch; `--input-bn-from-data` sets them from the training data.', '']
    return lines


def _find(rows, **labels):
    return next(r for r in rows if all(r['labels'].get(k) == v for k, v in labels.items()))


def _plot_ablations(rows, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    keys = [r for r in rows if r['labels']['dataset'] == DATASETS[0][0]]
    labels = ['%s: %s' % (r['labels']['ablation'], r['labels']['setting']) for r in keys]
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.35 * len(keys) + 1.5), sharey=True)
    for ax, (dataset, _) in zip(axes, DATASETS):
        values = [_find(rows, dataset=dataset, key=r['labels']['key'])['ours'] for r in keys]
        known = [v for v in values if v is not None]
        low, high = ((max(0, min(known) - 0.05), min(1, max(known) + 0.05)) if known
                     else (0, 1))
        _bars(ax, values, low, high,
              ['#888888' if r['labels']['key'] == 'base' else '#1f77b4' for r in keys], '%.4f')
        ax.set_title(_DATASET_TITLES[dataset])
        ax.set_xlabel('best validation accuracy')
        ax.set_yticks(list(range(len(keys))))
        ax.set_yticklabels(labels, fontsize=8)
        ax.grid(axis='x', alpha=0.3)
    fig.suptitle('Ablations of the ATAC unit (grey: base)', fontsize=11)
    fig.tight_layout()
    _save(fig, path)


# --------------------------------------------------------------------------- ImageNet

def _imagenet_lines(rows):
    row = rows[0]
    record = row['record'] or {}
    top5 = record.get('val_top5_err')
    lines = ['## Table IV (top-1 / top-5 error, %)', '',
             '| Architecture | GFLOPs | Params | top-1 err | top-5 err |', '|---|---|---|---|---|']
    for paper in paper_table('ImageNet'):
        lines.append('| %s | %s | %s | %s | %s |' % (
            paper['Architecture'], _num(paper['GFLOPs'], 2), paper['Params'],
            _num(paper['top-1 err'], 2), _num(paper['top-5 err'], 2)))
    lines.append('| **ATAC-ResNet-50, ours** | | | %s | %s |' % (
        _ours(row, 2), _num(None if top5 is None else 100 * top5, 2)))
    lines += ['', 'Ours minus the paper: top-1 %s points.' % _signed(row['diff'], 2), '']
    lines += ['## On track? (top-1 error per epoch against the official log)', '']
    official = {r['epoch']: r['val_top1_err'] for r in official_imagenet_log()}
    ours = [(e, v) for e, v in row['curve'] if v is not None]
    if not ours:
        lines.append('No epoch finished yet. The official run had top-1 error %.4f after '
                     'epoch 9 and %.4f at its best.' % (official[9], min(official.values())))
    else:
        epoch, value = ours[-1]
        reference = official.get(epoch)
        lines.append('After epoch %d: ours %.4f, the official run %s%s.' % (
            epoch, value, '%.4f' % reference if reference is not None else '(no such epoch)',
            '' if reference is None else ' (%+.4f)' % (value - reference)))
        if row['planned_epochs'] != len(official):
            lines.append('This run trains %d epochs, the official %d: its schedule differs, '
                         'so compare the shapes with care.' % (row['planned_epochs'],
                                                               len(official)))
    return lines + ['']


def _plot_imagenet(rows, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    row = rows[0]
    fig, (bars, curve) = plt.subplots(1, 2, figsize=(12, 4.2),
                                      gridspec_kw={'width_ratios': [1, 1.3]})
    table = paper_table('ImageNet')
    names = [p['Architecture'] for p in table] + ['ATAC-ResNet-50 (ours)']
    values = [p['top-1 err'] for p in table] + [row['ours']]
    colors = ['#bbbbbb'] * (len(table) - 1) + ['#ff7f0e', '#1f77b4']
    known = [v for v in values if v]
    _bars(bars, values, min(known) - 2, max(known) * 1.1, colors, '%.2f')
    bars.set_yticks(list(range(len(names))))
    bars.set_yticklabels(names, fontsize=8)
    bars.set_xlabel('top-1 error (%)')
    bars.set_title('Table IV')
    official = official_imagenet_log()
    curve.plot([r['epoch'] for r in official], [r['val_top1_err'] for r in official],
               color='#888888', label='official log')
    ours = [(e, v) for e, v in row['curve'] if v is not None]
    if ours:
        curve.plot(*zip(*ours), color='#1f77b4', marker='.' if len(ours) < 30 else None,
                   label='ours')
    curve.set_xlabel('epoch')
    curve.set_ylabel('validation top-1 error')
    curve.set_title('top-1 error per epoch')
    curve.grid(alpha=0.3)
    curve.legend()
    fig.tight_layout()
    _save(fig, path)


# --------------------------------------------------------------------------- seeds (fmnist)

def _final(row):
    """The metric at the last epoch of a finished run, else None."""
    if row['state'] != FINISHED or not row['curve']:
        return None
    return row['curve'][-1][1]


def _spread(values):
    """(mean, sample std (None for one value), n) of the known ``values``; (None, None, 0)."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None, 0
    return (statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None,
            len(values))


def _mean_std(spread):
    mean, std, n = spread
    if mean is None:
        return '—'
    return '%.4f ± %s' % (mean, '—' if std is None else '%.4f' % std)


def _difference(a, b):
    """(mean of a - mean of b, its standard error sqrt(sa²/na + sb²/nb)) of two spreads; the
    error is None unless both have a std."""
    if a[0] is None or b[0] is None:
        return None, None
    if a[1] is None or b[1] is None:
        return a[0] - b[0], None
    return a[0] - b[0], (a[1] ** 2 / a[2] + b[1] ** 2 / b[2]) ** 0.5


def _signed_error(difference):
    value, error = difference
    if value is None:
        return '—'
    return '%+.4f%s' % (value, '' if error is None else ' ± %.4f' % error)


def _groups(rows):
    """(b, variant, input BN) -> the rows of its seeds, in the suite's order."""
    groups = {}
    for row in rows:
        labels = row['labels']
        groups.setdefault((labels['b'], labels['variant'], labels['input_bn']), []).append(row)
    return groups


def _seed_spreads(rows):
    """(b, variant, input BN) -> {'best': spread, 'final': spread} over its finished seeds."""
    return {key: {'best': _spread([r['ours'] for r in group if r['state'] == FINISHED]),
                  'final': _spread([_final(r) for r in group])}
            for key, group in _groups(rows).items()}


def _ordered(values):
    return list(dict.fromkeys(values))


def _seeds_lines(suite, rows):
    """The per-configuration table, the differences to ReLU and to the official input
    BatchNorm, and the published baselines."""
    spreads = _seed_spreads(rows)
    groups = _groups(rows)
    depths = _ordered(k[0] for k in groups)
    variants = _ordered(k[1] for k in groups)
    bns = _ordered(k[2] for k in groups)
    base = variants[0]
    lines = ['## Validation accuracy per configuration (mean ± std over seeds)', '',
             'Best: the highest validation accuracy of a run over its epochs (as the paper '
             'reports); final: at its last epoch. Finished runs only.', '',
             '| b | variant | input BN | seeds | best | final |', '|---|---|---|---|---|---|']
    for b in depths:
        for variant in variants:
            for bn in bns:
                group = groups[b, variant, bn]
                spread = spreads[b, variant, bn]
                lines.append('| %d | %s | %s | %d/%d | %s | %s |' % (
                    b, variant, bn, spread['best'][2], len(group), _mean_std(spread['best']),
                    _mean_std(spread['final'])))
    lines += ['', '## Against %s (difference of the means ± its standard error)' % base, '',
              '| b | input BN | ' + ' | '.join(
                  '%s - %s %s' % (v, base, kind) for kind in ('best', 'final')
                  for v in variants[1:]) + ' |',
              '|---|---|' + '---|' * (2 * (len(variants) - 1))]
    for b in depths:
        for bn in bns:
            cells = [_signed_error(_difference(spreads[b, v, bn][kind], spreads[b, base, bn][kind]))
                     for kind in ('best', 'final') for v in variants[1:]]
            lines.append('| %d | %s | %s |' % (b, bn, ' | '.join(cells)))
    if len(bns) > 1:
        lines += ['', '## The input BatchNorm: %s - %s' % (bns[1], bns[0]), '',
                  'The official networks evaluate with the input BatchNorm\'s initial statistics '
                  '(mean 0, variance 1: the identity), while training standardises every batch '
                  'with its own; `--input-bn-from-data` sets them from the training data '
                  '(README, "The input BatchNorm at evaluation").', '',
                  '| b | variant | Δ best | Δ final |', '|---|---|---|---|']
        for b in depths:
            for variant in variants:
                lines.append('| %d | %s | %s | %s |' % (b, variant, *(
                    _signed_error(_difference(spreads[b, variant, bns[1]][kind],
                                              spreads[b, variant, bns[0]][kind]))
                    for kind in ('best', 'final'))))
    lines += ['', '## Published Fashion-MNIST results, for scale', '',
              'Test accuracy on the 10,000 test images as submitted to the data set\'s README '
              '(not verified by its authors; atac_gluon/reference/fashion-mnist-benchmarks.md '
              'says where each comes from).', '',
              '| classifier | preprocessing | test accuracy |', '|---|---|---|']
    for row in fashion_mnist_benchmarks():
        lines.append('| %s | %s | %s |' % (row['Classifier'], row['Preprocessing'],
                                            _paper(row['Test accuracy'])))
    return lines + ['']


def _plot_seeds(suite, rows, path):
    """Validation accuracy per epoch, one panel per b: per variant the mean over finished seeds
    (solid: official input BatchNorm, dashed: from data), the band from the lowest to the
    highest seed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    groups = _groups(rows)
    depths = _ordered(k[0] for k in groups)
    variants = _ordered(k[1] for k in groups)
    bns = _ordered(k[2] for k in groups)
    colors = dict(zip(variants, plt.get_cmap('tab10').colors))
    styles = dict(zip(bns, ('-', '--', ':')))
    fig, axes = plt.subplots(1, len(depths), figsize=(max(8.0, 4.2 * len(depths) + 1), 4.6),
                             squeeze=False)
    for ax, b in zip(axes[0], depths):
        for variant in variants:
            for bn in bns:
                curves = [dict(r['curve']) for r in groups[b, variant, bn]
                          if r['state'] == FINISHED]
                epochs = sorted(set.intersection(*[set(c) for c in curves])) if curves else []
                if not epochs:
                    continue
                values = [[c[e] for c in curves] for e in epochs]
                ax.plot(epochs, [sum(v) / len(v) for v in values], styles[bn],
                        color=colors[variant], label='%s, input BN %s (%d)'
                        % (variant, bn, len(curves)))
                ax.fill_between(epochs, [min(v) for v in values], [max(v) for v in values],
                                color=colors[variant], alpha=0.12, lw=0)
        ax.set_title('b = %d' % b)
        ax.set_xlabel('epoch')
        ax.set_ylabel('validation accuracy')
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc='lower center', ncol=2, fontsize=8, frameon=False)
    fig.suptitle('%s: validation accuracy, mean over seeds\n(band: lowest to highest seed; '
                 'in brackets: seeds)' % suite.name, fontsize=10)
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    _save(fig, path)


# --------------------------------------------------------------------------- models (zoo)

def _models_lines(rows):
    """Per network: each variant's best and final validation accuracy, and each against the
    first variant (ReLU, the network as built)."""
    models = _ordered(r['labels']['model'] for r in rows)
    variants = _ordered(r['labels']['variant'] for r in rows)
    found = {(r['labels']['model'], r['labels']['variant']): r for r in rows}
    base = variants[0]
    lines = ['## Validation accuracy per network', '',
             'Best over the epochs (final: at the last epoch); Δ: against %s, the network as '
             'GluonCV builds it.' % base, '',
             '| network | ' + ' | '.join(variants) + ' | ' + ' | '.join(
                 'Δ %s' % v for v in variants[1:]) + ' | final: ' + ' / '.join(variants) + ' |',
             '|---|' + '---|' * (2 * len(variants))]
    for model in models:
        cells = [_ours(found[model, v]) for v in variants]
        base_row = found[model, base]
        for variant in variants[1:]:
            row = found[model, variant]
            cells.append(_signed(row['ours'] - base_row['ours']) if FINISHED == row['state']
                         == base_row['state'] else '—')
        cells.append(' / '.join(_num(_final(found[model, v])) for v in variants))
        lines.append('| %s | %s |' % (model, ' | '.join(cells)))
    return lines + ['']


def _plot_models(rows, path):
    """Best validation accuracy per network and variant, as bars."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    variants = _ordered(r['labels']['variant'] for r in rows)
    colors = dict(zip(variants, plt.get_cmap('tab10').colors))
    values = [r['ours'] for r in rows]
    known = [v for v in values if v is not None]
    low = max(0.0, min(known) - 0.05) if known else 0.0
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1.2))
    _bars(ax, values, low, 1.0, [colors[r['labels']['variant']] for r in rows], '%.4f')
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(['%s %s' % (r['labels']['model'], r['labels']['variant'])
                        for r in rows], fontsize=7)
    ax.set_xlabel('best validation accuracy')
    ax.grid(axis='x', alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


def _models_report(root, suite, rows, picture):
    lines = _models_lines(rows)
    _plot_models(rows, picture)
    return lines


# --------------------------------------------------------------------------- writing

def _bars(ax, values, low, high, colors, fmt):
    """Horizontal bars from the top, each labelled with its value ('missing' at the left edge
    where there is none), on the x range low..high."""
    ys = list(range(len(values)))
    ax.barh(ys, [high if v is None else v for v in values], color=colors,
            alpha=1.0, left=0)
    for patch, v in zip(ax.patches, values):
        if v is None:
            patch.set_visible(False)
    for y, v in zip(ys, values):
        ax.text(low if v is None else v, y, ' missing' if v is None else ' ' + fmt % v,
                va='center', fontsize=7, clip_on=True)
    ax.set_xlim(low, high)
    ax.set_ylim(len(values) - 0.5, -0.5)  # first value on top


def _save(fig, path):
    """Write a figure atomically (a reader never sees half a PNG)."""
    import matplotlib.pyplot as plt
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110))
    finally:
        plt.close(fig)


def _figure_report(root, suite, rows, picture):
    """Fig. 7 / Fig. 8: tables per data set and accuracy against depth (and the gates)."""
    paper_only = _paper_only_columns(suite)
    lines = _figure_tables(suite, rows, paper_only)
    lines.append('Ours: the best validation accuracy over all epochs (as the paper '
                 'reports); paper: read off its figure (about ±0.001); Δ = ours - paper. '
                 'CIFAR-100 uses the 20 coarse labels as the official script did.')
    lines.append('')
    _plot_figure(suite, rows, paper_only, picture)
    if suite.gates:
        lines += _gates_section(root, suite, rows)
    return lines


def _ablations_report(root, suite, rows, picture):
    lines = _ablation_lines(suite, rows)
    _plot_ablations(rows, picture)
    return lines


def _imagenet_report(root, suite, rows, picture):
    lines = _imagenet_lines(rows)
    _plot_imagenet(rows, picture)
    return lines


def _seeds_report(root, suite, rows, picture):
    lines = _seeds_lines(suite, rows)
    _plot_seeds(suite, rows, picture)
    return lines


#: the report layouts: suite.report -> f(root, suite, rows, picture path) -> Markdown lines
#: (drawing the picture)
_LAYOUTS = {ReportKind.FIGURE: _figure_report, ReportKind.ABLATIONS: _ablations_report,
            ReportKind.IMAGENET: _imagenet_report, ReportKind.SEEDS: _seeds_report,
            ReportKind.MODELS: _models_report}


def write_report(root, suite):
    """Write ``report.md``, ``report.json`` and the suite's PNG into ``root/<suite>/``, laid out
    as ``suite.report`` says; returns the paths written."""
    suite_dir = os.path.join(root, suite.name)
    os.makedirs(suite_dir, exist_ok=True)
    rows, scale_name = collect(root, suite)
    picture = '%s.png' % suite.name
    lines = _header(suite, scale_name) + ['![%s](%s)' % (suite.title, picture), '']
    lines += _LAYOUTS[suite.report](root, suite, rows, os.path.join(suite_dir, picture))
    lines += _status_section(rows)
    report = os.path.join(suite_dir, 'report.md')
    atomic_write_text(report, '\n'.join(lines) + '\n')
    data = os.path.join(suite_dir, 'report.json')
    atomic_write_text(data, json.dumps({'suite': suite.name, 'metric': suite.metric,
                                        'smoke': scale_name == SMOKE_SCALE,
                                        'scale': scale_name, 'runs': rows}, indent=1,
                                       sort_keys=True) + '\n')
    return [report, data, os.path.join(suite_dir, picture)]
