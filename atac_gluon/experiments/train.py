"""Training a suite: the command of each configuration, printed or trained one after another,
each in its own save directory; a finished run is skipped, a half-finished one resumes
(``--resume``), so training a suite again continues it."""
import importlib
import json
import os
import shlex
import subprocess
import sys
import tempfile

from ..errors import (BadInput, Diverged, EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED,
                      EXIT_WRITE_FAILED, Interrupted, WriteFailed)
from ..files import atomic_write_text
from ..training.spec import spec_of
from .results import planned_epochs, read_result, save_dir
from .smoke import smoke_settings, write_smoke_data
from .suites import FULL_SCALE, SMOKE_SCALE, command_flags

__all__ = ['argv_of', 'parse_training_flags', 'script_command', 'shell_command', 'suite_commands',
           'train_suite', 'recorded_scale', 'SUITE_FILE']

#: written in DIR/SUITE by :func:`train_suite`: the scale the suite runs at, so a smoke suite,
#: a full one and one of the suite's smaller scales never share run directories
SUITE_FILE = 'suite.json'


def argv_of(flags):
    """Command-line arguments of (flag, value) pairs (value None: a switch)."""
    argv = []
    for flag, value in flags:
        argv += [flag] if value is None else [flag, str(value)]
    return argv


def parse_training_flags(script, flags):
    """(checked options, run spec) of a configuration's (flag, value) pairs, parsed by the
    script's own parser (so the defaults are the script's)."""
    argv = argv_of(flags)
    if '--save-dir' not in argv:
        argv += ['--save-dir', tempfile.gettempdir()]  # checked, never written
    opt = importlib.import_module('atac_gluon.train_%s' % script).parse_args(argv)
    return opt, spec_of(script, opt)


def script_command(script, launcher_args=None):
    """The command that starts ``script`` ('cifar' or 'imagenet'), under the launcher if
    ``launcher_args`` (e.g. ``'-n 2 -s 1'``) is given."""
    command = ['python', '-m', 'atac_gluon.train_%s' % script]
    if launcher_args:
        command = (['python', '-m', 'atac_gluon.launch'] + shlex.split(launcher_args) + ['--']
                   + command)
    return command


def shell_command(config, flags, launcher_args=None):
    """One shell line for ``config`` with ``flags``."""
    return ' '.join(shlex.quote(a) for a in script_command(config.script, launcher_args)
                    + argv_of(flags))


def suite_commands(suite, root, launcher_args=None, **options):
    """The shell line of every configuration of ``suite`` (``--print``); ``options`` (``scale``
    too) go to :func:`~atac_gluon.experiments.suites.command_flags`."""
    return [shell_command(config, command_flags(config, save_dir(root, suite, config),
                                                distributed=bool(launcher_args), **options),
                          launcher_args)
            for config in suite.configurations]


def _say(message):
    print('[experiments] %s' % message, file=sys.stderr, flush=True)


def recorded_scale(suite_dir):
    """(scale name, epochs) recorded in ``suite_dir/suite.json`` by ``run``: ``'full'``,
    ``'smoke'`` or one of the suite's scales (files written before scales existed say only
    whether they are smoke); None if nothing ran there yet. BadInput if it is unreadable."""
    path = os.path.join(suite_dir, SUITE_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            recorded = json.load(f)
        name = recorded.get('scale') or (SMOKE_SCALE if recorded['smoke'] else FULL_SCALE)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise BadInput('%s: unreadable (%s); it says at which scale the suite ran'
                       % (path, err)) from None
    return name, recorded.get('epochs')


def _check_scale(suite_dir, scale):
    """BadInput if ``suite_dir`` holds runs of another scale than ``scale``."""
    recorded = recorded_scale(suite_dir)
    if recorded is not None and recorded[0] != scale:
        raise BadInput('%s holds a %s run of this suite; a %s run needs another --root'
                       % (suite_dir, _scale_title(recorded[0]), _scale_title(scale)))


def _scale_title(name):
    return name if name == SMOKE_SCALE else '%s-scale' % name


def _record_scale(suite_dir, scale, epochs):
    path = os.path.join(suite_dir, SUITE_FILE)
    if os.path.isdir(suite_dir) and not os.path.exists(path):
        atomic_write_text(path, json.dumps({'smoke': scale == SMOKE_SCALE, 'scale': scale,
                                            'epochs': epochs}) + '\n')


def _train_in_process(script, argv):
    """Run a training script's main in this process: its errors propagate as raised."""
    importlib.import_module('atac_gluon.train_%s' % script).main(argv)


_ERRORS_BY_EXIT_CODE = {EXIT_BAD_INPUT: BadInput, EXIT_DIVERGED: Diverged,
                        EXIT_WRITE_FAILED: WriteFailed, EXIT_INTERRUPTED: Interrupted}


def _train_launched(script, argv, launcher_args):
    """Run a training script under the launcher; its exit code becomes the matching error."""
    command = script_command(script, launcher_args)
    command = [sys.executable if part == 'python' else part for part in command]
    code = subprocess.call(command + argv)
    if code:
        error = _ERRORS_BY_EXIT_CODE.get(code, RuntimeError)
        raise error('the launched training exited with code %d (its output is above)' % code)


def train_suite(suite, root, smoke=False, launcher_args=None, draw=None, scale=None,
                **options):
    """Train every configuration of ``suite`` under ``root/<suite>/`` in turn.

    Parameters
    ----------
    suite : Suite
    root : str
        The experiments root (``--root``).
    smoke : bool
        The smoke scale (:mod:`~atac_gluon.experiments.smoke`), 1 epoch unless ``epochs``.
    launcher_args : str, optional
        Start each run with ``python -m atac_gluon.launch <launcher_args> --`` (dist_sync).
    draw : callable, optional
        ``draw(config, save_dir, flags)`` after its run is finished (the gate pictures).
    scale : Scale, optional
        One of the suite's smaller scales (``suite`` holding its configurations already:
        :func:`~atac_gluon.experiments.suites.select_scale`); not with ``smoke``.
    **options
        ``epochs``, ``gpus``, ``data_dir``, ``input_bn_from_data``, ``fused_gates`` of
        :func:`~atac_gluon.experiments.suites.command_flags`.

    Returns
    -------
    dict
        configuration name -> 'skipped' (finished earlier), 'trained' or 'resumed'. Diverged
        runs do not stop the suite: :class:`~atac_gluon.errors.Diverged` names them at the end.
        A bad input, a failed write or Ctrl-C stops it (finished checkpoints stay; running
        again continues).
    """
    suite_dir = os.path.join(root, suite.name)
    if smoke and scale is not None:
        raise BadInput('--smoke is a scale of its own: leave out --scale')
    scale_name = SMOKE_SCALE if smoke else scale.name if scale is not None else FULL_SCALE
    _check_scale(suite_dir, scale_name)
    smoke_scale = None
    if smoke:
        options['epochs'] = options.get('epochs') or 1
        smoke_scale = smoke_settings(write_smoke_data(os.path.join(suite_dir, 'smoke-data')))
    done, diverged = {}, []
    for index, config in enumerate(suite.configurations, 1):
        config_dir = save_dir(root, suite, config)
        flags = command_flags(config, config_dir, smoke=smoke_scale, scale=scale,
                              distributed=bool(launcher_args), **options)
        planned = planned_epochs(flags)
        result = read_result(root, suite, config, planned)
        where = '%s %d/%d %s' % (suite.name, index, len(suite.configurations), config.name)
        if result.epochs_done >= planned:
            _say('%s: finished earlier (%d epochs, best %s %.4f), skipped'
                 % (where, result.epochs_done, suite.metric, result.best))
            done[config.name] = 'skipped'
        else:
            done[config.name] = 'resumed' if result.epochs_done else 'trained'
            _say('%s: %s at epoch %d of %d' % (where, 'resuming' if result.epochs_done
                                               else 'training', result.epochs_done, planned))
            try:
                if launcher_args:
                    _train_launched(config.script, argv_of(flags), launcher_args)
                else:
                    _train_in_process(config.script, argv_of(flags))
            except Diverged as err:
                _say('%s: diverged (%s); going on with the next run' % (where, err))
                diverged.append(config.name)
                continue
            except (Interrupted, KeyboardInterrupt) as err:
                raise Interrupted('%s: %s; run the same experiments command to continue the '
                                  'suite' % (where, err or 'stopped')) from None
            finally:
                _record_scale(suite_dir, scale_name, options.get('epochs'))
        if draw is not None:
            draw(config, config_dir, flags)
    if diverged:
        raise Diverged('%d of %d runs diverged: %s' % (
            len(diverged), len(suite.configurations), ', '.join(diverged)))
    return done
