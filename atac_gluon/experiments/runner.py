"""Running a suite: one run after another, each in its own save directory; a finished run is
skipped, a half-finished one resumes (``--resume``), so running a suite again continues it."""
import importlib
import json
import os
import shlex
import subprocess
import sys
import tempfile

from ..errors import (BadInput, Diverged, EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED,
                      EXIT_WRITE_FAILED, Interrupted, WriteFailed)
from ..training.checkpoint import atomic_write_text
from ..training.tasks import CifarTask, ImageNetTask
from .results import read_result, planned_epochs, run_dir
from .smoke import smoke_settings, write_smoke_data
from .suites import command_flags

__all__ = ['argv_of', 'parse_run', 'shell_command', 'suite_commands', 'run_suite', 'SUITE_FILE']

#: written in DIR/SUITE by ``run``: the scale the suite runs at, so a smoke suite and a full one
#: never share run directories
SUITE_FILE = 'suite.json'


def argv_of(flags):
    """Command-line arguments of (flag, value) pairs (value None: a switch)."""
    argv = []
    for flag, value in flags:
        argv += [flag] if value is None else [flag, str(value)]
    return argv


_TASKS = {'cifar': CifarTask, 'imagenet': ImageNetTask}


def parse_run(script, flags):
    """(checked options, task) of a run's (flag, value) pairs, parsed by the script's own parser
    (so the defaults are the script's)."""
    argv = argv_of(flags)
    if '--save-dir' not in argv:
        argv += ['--save-dir', tempfile.gettempdir()]  # checked, never written
    opt = importlib.import_module('atac_gluon.train_%s' % script).parse_args(argv)
    return opt, _TASKS[script](opt)


def script_command(script, launcher_args=None):
    """The command that starts ``script`` ('cifar' or 'imagenet'), under the launcher if
    ``launcher_args`` (e.g. ``'-n 2 -s 1'``) is given."""
    command = ['python', '-m', 'atac_gluon.train_%s' % script]
    if launcher_args:
        command = (['python', '-m', 'atac_gluon.launch'] + shlex.split(launcher_args) + ['--']
                   + command)
    return command


def shell_command(run, flags, launcher_args=None):
    """One shell line for ``run`` with ``flags``."""
    return ' '.join(shlex.quote(a) for a in script_command(run.script, launcher_args)
                    + argv_of(flags))


def suite_commands(suite, root, launcher_args=None, **options):
    """The shell line of every run of ``suite`` (``--print``); ``options`` go to
    :func:`~atac_gluon.experiments.suites.command_flags`."""
    return [shell_command(run, command_flags(run, run_dir(root, suite, run),
                                             distributed=bool(launcher_args), **options),
                          launcher_args)
            for run in suite.runs]


def _say(message):
    print('[experiments] %s' % message, file=sys.stderr, flush=True)


def _check_scale(suite_dir, smoke):
    """BadInput if ``suite_dir`` holds runs of the other scale (smoke vs full)."""
    path = os.path.join(suite_dir, SUITE_FILE)
    if not os.path.exists(path):
        return
    try:
        with open(path) as f:
            recorded = json.load(f)['smoke']
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BadInput('%s: unreadable (%s); it says whether the suite ran at smoke scale'
                       % (path, err)) from None
    if recorded != smoke:
        raise BadInput('%s holds a %s run of this suite; a %s run needs another --root'
                       % (suite_dir, 'smoke' if recorded else 'full-scale',
                          'smoke' if smoke else 'full-scale'))


def _record_scale(suite_dir, smoke, epochs):
    path = os.path.join(suite_dir, SUITE_FILE)
    if os.path.isdir(suite_dir) and not os.path.exists(path):
        atomic_write_text(path, json.dumps({'smoke': smoke, 'epochs': epochs}) + '\n')


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


def run_suite(suite, root, smoke=False, launcher_args=None, draw=None, **options):
    """Train every run of ``suite`` under ``root/<suite>/`` in turn.

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
        ``draw(run, save_dir, flags)`` after a run is finished (the gate pictures).
    **options
        ``epochs``, ``gpus``, ``data_dir``, ``input_bn_from_data``, ``fused_gates`` of
        :func:`~atac_gluon.experiments.suites.command_flags`.

    Returns
    -------
    dict
        run name -> 'skipped' (finished earlier), 'trained' or 'resumed'. Diverged runs do not
        stop the suite: :class:`~atac_gluon.errors.Diverged` names them at the end. A bad input,
        a failed write or Ctrl-C stops it (finished checkpoints stay; running again continues).
    """
    suite_dir = os.path.join(root, suite.name)
    _check_scale(suite_dir, smoke)
    smoke_config = None
    if smoke:
        options['epochs'] = options.get('epochs') or 1
        smoke_config = smoke_settings(write_smoke_data(os.path.join(suite_dir, 'smoke-data')))
    done, diverged = {}, []
    for index, run in enumerate(suite.runs, 1):
        save_dir = run_dir(root, suite, run)
        flags = command_flags(run, save_dir, smoke=smoke_config,
                              distributed=bool(launcher_args), **options)
        planned = planned_epochs(flags)
        result = read_result(root, suite, run, planned)
        where = '%s %d/%d %s' % (suite.name, index, len(suite.runs), run.name)
        if result.epochs_done >= planned:
            _say('%s: finished earlier (%d epochs, best %s %.4f), skipped'
                 % (where, result.epochs_done, suite.metric, result.best))
            done[run.name] = 'skipped'
        else:
            done[run.name] = 'resumed' if result.epochs_done else 'trained'
            _say('%s: %s at epoch %d of %d' % (where, 'resuming' if result.epochs_done
                                               else 'training', result.epochs_done, planned))
            try:
                if launcher_args:
                    _train_launched(run.script, argv_of(flags), launcher_args)
                else:
                    _train_in_process(run.script, argv_of(flags))
            except Diverged as err:
                _say('%s: diverged (%s); going on with the next run' % (where, err))
                diverged.append(run.name)
                continue
            except (Interrupted, KeyboardInterrupt) as err:
                raise Interrupted('%s: %s; run the same experiments command to continue the '
                                  'suite' % (where, err or 'stopped')) from None
            finally:
                _record_scale(suite_dir, smoke, options.get('epochs'))
        if draw is not None:
            draw(run, save_dir, flags)
    if diverged:
        raise Diverged('%d of %d runs diverged: %s' % (len(diverged), len(suite.runs),
                                                      ', '.join(diverged)))
    return done
