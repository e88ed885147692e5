"""What the paper and the official release report, shipped as data files beside this module:
``paper-results.md`` (the paper's tables and figure values, the release's recipes),
``official-imagenet-log.csv`` (the official ImageNet run, one row per epoch) and
``fashion-mnist-benchmarks.md`` (published Fashion-MNIST results, from the data set's README).
The reproduction reports compare against them; nothing here copies their numbers into code."""
import csv
import os

from ..errors import BadInput

__all__ = ['PAPER_RESULTS', 'OFFICIAL_IMAGENET_LOG', 'FASHION_MNIST_BENCHMARKS', 'paper_table',
           'official_imagenet_log', 'fashion_mnist_benchmarks']

_HERE = os.path.dirname(os.path.abspath(__file__))
PAPER_RESULTS = os.path.join(_HERE, 'paper-results.md')
OFFICIAL_IMAGENET_LOG = os.path.join(_HERE, 'official-imagenet-log.csv')
FASHION_MNIST_BENCHMARKS = os.path.join(_HERE, 'fashion-mnist-benchmarks.md')


def _cell(text):
    """A table cell as a float, None for '-', else the text."""
    text = text.strip()
    if text in ('-', ''):
        return None
    try:
        return float(text.replace(',', ''))
    except ValueError:
        return text


def paper_table(heading, path=PAPER_RESULTS):
    """The first Markdown table under the ``## `` heading that starts with ``heading``.

    Parameters
    ----------
    heading : str
        Start of the section title, e.g. ``'CIFAR depth sweep'``.
    path : str
        The results file (the shipped one by default).

    Returns
    -------
    list of dict
        One dict per row, column title -> float (None where the paper has no number) or text.
    """
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    starts = [i for i, line in enumerate(lines)
              if line.startswith('## ') and line[3:].startswith(heading)]
    if not starts:
        raise BadInput('%s: no section %r' % (path, heading))
    rows = []
    for line in lines[starts[0] + 1:]:
        if line.startswith('## '):
            break
        if line.startswith('|'):
            rows.append([cell.strip() for cell in line.strip().strip('|').split('|')])
        elif rows:
            break
    if len(rows) < 3:
        raise BadInput('%s: section %r has no table' % (path, heading))
    header = rows[0]
    return [dict(zip(header, [row[0]] + [_cell(c) for c in row[1:]])) for row in rows[2:]]


def official_imagenet_log(path=OFFICIAL_IMAGENET_LOG):
    """The official ImageNet run per epoch: a list of dicts with int ``epoch`` and float
    ``train_acc``, ``samples_per_sec``, ``time``, ``val_top1_err``, ``val_top5_err``."""
    with open(path, newline='') as f:
        return [dict({k: float(v) for k, v in row.items()}, epoch=int(row['epoch']))
                for row in csv.DictReader(f)]


def fashion_mnist_benchmarks(path=FASHION_MNIST_BENCHMARKS):
    """The published Fashion-MNIST results the ``fmnist`` report shows for scale: a list of
    dicts with ``Classifier``, ``Preprocessing`` (text) and ``Test accuracy`` (float)."""
    return paper_table('Fashion-MNIST benchmarks', path)
