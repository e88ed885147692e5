"""atac_gluon.compat: MXNet 1.9.1 and GluonCV 0.10.5 on Python 3.9-3.13, NumPy 1 and 2, with
PyTorch 2 beside them; and the end-to-end run CI repeats on every Python (``python_leg``)."""
import json
import os
import subprocess
import sys
import types

import mxnet as mx
import numpy as np
import pytest

from atac_gluon import compat
from tests.helpers.scripts import ROOT, kill_and_resume, records, run

NUMPY_MAJOR_MINOR = tuple(int(v) for v in np.__version__.split('.')[:2])
#: plain ``import mxnet`` (without atac_gluon) works only on the NumPy MXNet was released for
PLAIN_MXNET_IMPORTS = NUMPY_MAJOR_MINOR < (1, 24) and sys.version_info < (3, 12)


def _python(code, tmp_path, extra_path=()):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(list(extra_path) + [ROOT]))
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300, env=env, cwd=str(tmp_path))


def test_numpy_names_are_restored_only_where_missing():
    fake = types.ModuleType('numpy')
    fake.bool = 'kept'
    for name in ('float64', 'complex128', 'bytes_', 'str_', 'all', 'any', 'round', 'prod', 'cumprod'):
        setattr(fake, name, name)
    restored = compat.restore_numpy_names(fake)
    assert fake.bool == 'kept' and 'bool' not in restored
    assert fake.int is int and fake.NINF == float('-inf') and str(fake.NZERO) == '-0.0'
    assert fake.float_ == 'float64' and fake.alltrue == 'all' and fake.round_ == 'round'
    assert set(restored) == (set(compat.NUMPY_ALIASES) | set(compat.NUMPY_REMOVED_FUNCTIONS)) - {
        'bool'}
    with pytest.raises(RuntimeError, match='numpy.rate was removed from NumPy; use the '
                                           'numpy_financial package'):
        fake.rate(0.1, 1, 1)
    assert compat.restore_numpy_names(fake) == []  # twice: nothing left to do


def test_the_real_numpy_has_every_name_mxnet_reads():
    # mxnet is imported (conftest), so the hook has run on this process's NumPy
    for name in list(compat.NUMPY_ALIASES) + list(compat.NUMPY_REMOVED_FUNCTIONS):
        assert compat._has(np, name), name
    assert compat.restore_numpy_names() == []
    if NUMPY_MAJOR_MINOR < (1, 24):  # nothing was missing: NumPy's own objects are untouched
        assert 'int' not in vars(np)


def test_plain_mxnet_fails_where_numpy_or_python_is_newer_and_atac_gluon_first_fixes_it(
        tmp_path):
    plain = _python('import mxnet', tmp_path)
    assert (plain.returncode == 0) == PLAIN_MXNET_IMPORTS, plain.stderr[-2000:]
    fixed = _python('import atac_gluon, mxnet, gluoncv, numpy\n'
                    'x = mxnet.nd.array(numpy.arange(6.0).reshape(2, 3))\n'
                    'print(float(mxnet.nd.softmax(x).sum().asscalar()))', tmp_path)
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert abs(float(fixed.stdout) - 2.0) < 1e-6


def test_importing_atac_gluon_imports_neither_numpy_nor_mxnet(tmp_path):
    # the thread count must be settable before MXNet loads (training/threads.py)
    proc = _python('import sys, atac_gluon, atac_gluon.training.threads\n'
                   'print(sorted(m for m in ("numpy", "mxnet", "gluoncv") if m in sys.modules))',
                   tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '[]'


def test_distutils_comes_from_setuptools_where_the_standard_library_has_none(tmp_path):
    # SETUPTOOLS_USE_DISTUTILS=stdlib turns setuptools' own start-up shim off: on 3.12+ there is
    # then no distutils at all until compat registers setuptools' copy
    code = ('import importlib.util, sys\n'
            'from atac_gluon import compat\n'
            'missing = importlib.util.find_spec("distutils") is None\n'
            'registered = compat.restore_distutils()\n'
            'from distutils.version import LooseVersion\n'
            'assert LooseVersion("1.9.1") < LooseVersion("1.10")\n'
            'print(missing, registered)')
    env = dict(os.environ, SETUPTOOLS_USE_DISTUTILS='stdlib', PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    missing = sys.version_info >= (3, 12)
    assert proc.stdout.split() == [str(missing), str(missing)]


def test_torch_hidden_restores_what_was_there():
    saved = sys.modules.get('torch', 'absent')
    fake = types.ModuleType('torch')
    sub = types.ModuleType('torch.nn')
    sys.modules['torch'], sys.modules['torch.nn'] = fake, sub
    try:
        with compat.torch_hidden():
            with pytest.raises(ImportError):
                import torch  # noqa: F401
            assert 'torch.nn' not in sys.modules
        assert sys.modules['torch'] is fake and sys.modules['torch.nn'] is sub
        del sys.modules['torch'], sys.modules['torch.nn']
        with compat.torch_hidden():
            pass
        assert 'torch' not in sys.modules
    finally:
        sys.modules.pop('torch', None)
        sys.modules.pop('torch.nn', None)
        if saved != 'absent':
            sys.modules['torch'] = saved


def test_gluoncv_imports_beside_a_pytorch_2_which_stays_importable(tmp_path):
    # a stand-in for torch 2.x: GluonCV 0.10.5 refuses any torch >= 2.0 ("Legacy torch")
    fake = tmp_path / 'torch'
    fake.mkdir()
    (fake / '__init__.py').write_text("__version__ = '2.13.0'\n")
    plain = _python('import gluoncv', tmp_path, [str(tmp_path)])
    assert plain.returncode != 0
    if PLAIN_MXNET_IMPORTS:  # elsewhere MXNet's own import fails first
        assert 'Legacy torch==2.13.0' in plain.stderr
    for first in ('import torch; import atac_gluon', 'import atac_gluon; import torch'):
        proc = _python(first + '\nimport gluoncv, torch\nfrom atac_gluon import get_model\n'
                       'net = get_model("cifar_resnet20_v2_atac")\n'
                       'print(torch.__version__, type(net).__name__)', tmp_path, [str(tmp_path)])
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.split() == ['2.13.0', 'ResNet20V2ATAC']


@pytest.mark.slow
def test_an_unsupported_python_is_refused_at_install_time_in_one_line(tmp_path):
    python = '/root/.pyenv/versions/3.8.18/bin/python3'  # pyenv's, on the project's machines
    if not os.path.exists(python):
        pytest.skip('no Python 3.8 at %s on this machine' % python)
    subprocess.run([python, '-m', 'venv', str(tmp_path / 'venv')], check=True, timeout=120)
    proc = subprocess.run([str(tmp_path / 'venv' / 'bin' / 'python'), '-m', 'pip', 'install',
                           '--dry-run', '--no-deps', ROOT], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith('ERROR:')]
    assert errors == ["ERROR: Package 'atac-gluon' requires a different Python: 3.8.18 not in "
                      "'<3.14,>=3.9'"], proc.stderr[-2000:]
    assert 'numpy' not in proc.stdout + proc.stderr  # refused before any requirement is built


def _real_torch_2():
    proc = subprocess.run([sys.executable, '-c', 'import torch; print(torch.__version__)'],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip()


@pytest.mark.slow
def test_the_scripts_train_export_and_load_back_with_pytorch_2_installed(tmp_path):
    """CI installs torch 2.13.0 beside the package (ATAC_REQUIRE_TORCH=1): there this must run."""
    version = _real_torch_2()
    if version is None:
        if os.environ.get('ATAC_REQUIRE_TORCH') == '1':
            pytest.fail('ATAC_REQUIRE_TORCH=1 but torch does not import in this environment')
        pytest.skip('torch is not installed in this environment (CI installs torch==2.13.0)')
    assert int(version.split('.')[0]) >= 2
    out = tmp_path / 'run'
    # torch first, as a user's program that uses both would
    code = ('import sys, torch\n'
            'from atac_gluon.train_cifar import main\n'
            'main(sys.argv[1:])\n'
            'import mxnet as mx, numpy as np\n'
            'p = sys.argv[sys.argv.index("--save-dir") + 1] + "/ResNet20_b_1_ChaATAC"\n'
            'net = mx.gluon.SymbolBlock.imports(p + "-symbol.json", ["data"], p + "-0000.params")\n'
            'x = torch.ones(2, 3, 32, 32).numpy()\n'
            'print(torch.__version__, net(mx.nd.array(x)).shape)')
    args = ['--dataset', 'digits', '--blocks', '1', '--useReLU', '--mode', 'hybrid', '-j', '0',
            '--num-epochs', '1', '--batch-size', '64', '--save-dir', str(out),
            '--save-plot-dir', str(out), '--export']
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, '-c', code] + args, capture_output=True, text=True,
                          timeout=600, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == [version, '(2,', '10)']
    assert records(out)[-1]['val_acc'] > 0.3


@pytest.mark.slow
@pytest.mark.python_leg
def test_digits_killed_resumed_exported_and_run_by_onnxruntime(tmp_path):
    """The end-to-end run of every Python's CI leg. ATAC_LEG_RECORD=path: the last metrics
    record and the exported outputs go there, for .ci/run to compare across Pythons."""
    out = tmp_path / 'run'
    args = ['--dataset', 'digits', '--blocks', '1', '--useReLU', '--mode', 'hybrid', '-j', '0',
            '--num-epochs', '2', '--batch-size', '16', '--seed', '5', '--save-dir', str(out),
            '--save-plot-dir', str(out)]
    kill_and_resume('train_cifar.py', args, out, tmp_path, 1, extra=['--export'])
    last = records(out)
    assert [r['epoch'] for r in last] == [0, 1] and last[-1]['val_acc'] > 0.3
    prefix = str(out / 'ResNet20_b_1_ChaATAC')
    net = mx.gluon.SymbolBlock.imports(prefix + '-symbol.json', ['data'], prefix + '-0000.params')
    x = np.random.RandomState(0).standard_normal((3, 3, 32, 32)).astype('float32')
    want = net(mx.nd.array(x)).asnumpy()
    try:
        import onnxruntime
    except ImportError:
        onnxruntime = None
    if onnxruntime is not None:
        session = onnxruntime.InferenceSession(prefix + '.onnx',
                                               providers=['CPUExecutionProvider'])
        got = session.run(None, {session.get_inputs()[0].name: x})[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    target = os.environ.get('ATAC_LEG_RECORD')
    if target:
        with open(target, 'w') as f:
            json.dump({'python': '%d.%d' % sys.version_info[:2], 'numpy': np.__version__,
                       'onnxruntime': onnxruntime.__version__ if onnxruntime else None,
                       'records': [{k: v for k, v in r.items()
                                    if k not in ('time', 'samples_per_sec')} for r in last],
                       'exported_outputs': want.tolist()}, f)
    if onnxruntime is None:
        pytest.skip('onnxruntime has no wheel for Python %d.%d: the ONNX round trip was left '
                    'out (the rest passed)' % sys.version_info[:2])
