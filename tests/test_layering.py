"""Dependencies point one way: the building blocks (errors, checks, activations, flops, models,
data, deployment) import nothing from training or the command lines; training imports no
command line; the command lines sit on top."""
import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'atac_gluon')
COMMAND_LINES = {'cli', 'export', 'predict', 'launch', '__main__', 'train_cifar', 'train_imagenet',
                 'experiments', 'visualize', 'benchmark'}
LAYERS = {  # module group -> the groups it must not import
    'base': {'training'} | COMMAND_LINES,
    'training': COMMAND_LINES,
}


def group(module):
    """'training' for atac_gluon.training.*, the command lines by name, else 'base'."""
    parts = module.split('.')
    if parts[1:2] == ['training']:
        return 'training'
    if len(parts) > 1 and parts[1] in COMMAND_LINES:
        return parts[1]
    return 'base'


def modules():
    for folder, _, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].replace(os.sep, '.')
                yield rel[:-len('.__init__')] if rel.endswith('.__init__') else rel, path


def imported(module, path):
    """The atac_gluon modules ``module`` imports (absolute names)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    package = module if path.endswith('__init__.py') else module.rsplit('.', 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                name = '.'.join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ''
            targets = [name] + ['%s.%s' % (name, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        found.update(t for t in targets if t.startswith('atac_gluon'))
    return found


@pytest.mark.parametrize('module,path', list(modules()), ids=lambda v: str(v))
def test_imports_point_down(module, path):
    forbidden = LAYERS.get(group(module), set())
    wrong = sorted(name for name in imported(module, path)
                   if len(name.split('.')) > 1 and group(name) in forbidden)
    assert not wrong, '%s (%s) imports %s' % (module, group(module), wrong)


def test_the_check_sees_an_upward_import(tmp_path):
    path = tmp_path / 'x.py'
    path.write_text('from ..training.loop import fit\nfrom ..cli import load_model\n')
    assert imported('atac_gluon.models.x', str(path)) >= {'atac_gluon.training.loop',
                                                         'atac_gluon.cli'}
    assert group('atac_gluon.training.loop') == 'training' and group('atac_gluon.cli') == 'cli'
