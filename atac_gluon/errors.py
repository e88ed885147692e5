"""The project's error types and the exit codes every command line uses.

This module imports nothing from the package (nor mxnet), so every layer can raise these errors.

Exit codes: 0 done; 1 a bug (traceback); 2 bad input (a flag, file or data set), one ``error:``
line and nothing written; 3 the loss diverged; 4 a checkpoint or result could not be written
(disk full, unwritable directory), the earlier checkpoints intact; 130 interrupted (Ctrl-C), every
complete checkpoint intact.
"""
import logging
import sys

__all__ = ['BadInput', 'Diverged', 'WriteFailed', 'Interrupted', 'run_main', 'error_reason',
           'EXIT_BAD_INPUT', 'EXIT_DIVERGED', 'EXIT_WRITE_FAILED', 'EXIT_INTERRUPTED']

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_WRITE_FAILED = 4
EXIT_INTERRUPTED = 130


class BadInput(ValueError):
    """A bad flag, file, data set or argument: the command prints the message (one line naming
    what is wrong) and exits with code 2. A ValueError, so API callers may catch either."""


class Diverged(RuntimeError):
    """The loss became NaN or infinite: the run stops (exit code 3), checkpoints untouched."""


class WriteFailed(RuntimeError):
    """A checkpoint, metrics line or export could not be written (exit code 4); whatever was
    complete before stays as it was."""


class Interrupted(RuntimeError):
    """Ctrl-C (SIGINT) during a run; the message says how to continue (exit code 130)."""


def error_reason(err, limit=200, unwrap=False):
    """The informative line of an exception's message, for a one-line error: MXNet's messages
    start with a C++ traceback, and the reason is on the line that says ``MXNetError:`` (or
    ``Check failed``); other messages keep their first line. With ``unwrap``, the innermost of
    exceptions wrapped in one another (in a ``reason`` attribute or the first argument) speaks:
    requests wraps urllib3's errors twice, and only the innermost says what failed."""
    if unwrap:
        for _ in range(10):  # bounded: a chain of wrapped exceptions could in principle loop
            inner = getattr(err, 'reason', None)
            if not isinstance(inner, BaseException) and err.args:
                inner = err.args[0]
            if not isinstance(inner, BaseException):
                break
            err = inner
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    reasons = [line for line in lines if 'Error:' in line or 'Check failed' in line]
    if reasons:
        line = reasons[-1]
        line = line.split('Error:', 1)[1].strip() if 'Error:' in line else line
    else:
        line = next((line for line in lines if not line.startswith(
            ('Traceback', 'File ', '[bt]', 'Stack trace'))), type(err).__name__)
    if line.startswith('Check failed: '):
        line = line[len('Check failed: '):]
    return line if len(line) <= limit else line[:limit] + '...'


#: the project's errors and their exit codes (anything else is a bug: a traceback, exit code 1)
_EXIT_CODES = {BadInput: EXIT_BAD_INPUT, Diverged: EXIT_DIVERGED,
               WriteFailed: EXIT_WRITE_FAILED, Interrupted: EXIT_INTERRUPTED}


def _one_line(err):
    text = ' '.join(str(err).split()) or type(err).__name__
    return text[:2000]


def _log_to_files(message):
    """Record ``message`` in the run's log file (stderr gets the one ``error:`` line)."""
    log = logging.getLogger('atac')
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, message, None, None)
    for handler in log.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def run_main(main, argv=None):
    """Call ``main(argv)`` and turn the project's errors into exit codes with one ``error:`` line
    on stderr. Any other exception (a bug, e.g. a ValueError from deep inside NumPy or MXNet)
    propagates with its traceback (exit code 1)."""
    try:
        main(argv)
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return EXIT_INTERRUPTED
    except tuple(_EXIT_CODES) as err:
        code = next(code for kind, code in _EXIT_CODES.items() if isinstance(err, kind))
        if code != EXIT_BAD_INPUT:
            _log_to_files('stopped: %s' % _one_line(err))
        prefix = 'interrupted' if code == EXIT_INTERRUPTED else 'error'
        print('%s: %s' % (prefix, _one_line(err)), file=sys.stderr)
        return code
    return 0
