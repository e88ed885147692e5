"""The errors module: which exceptions become which exit code and one line, which stay bugs."""
import logging
import subprocess
import sys

import mxnet as mx
import pytest

from atac_gluon.data import DataError
from atac_gluon.errors import (BadInput, Diverged, Interrupted, WriteFailed, error_reason,
                               run_main)


def raising(err):
    def main(argv):
        raise err
    return main


@pytest.mark.parametrize('err,code,line', [
    (BadInput('--lr must be positive'), 2, 'error: --lr must be positive'),
    (DataError('x.bin: truncated'), 2, 'error: x.bin: truncated'),
    (Diverged('loss is nan at epoch 3'), 3, 'error: loss is nan at epoch 3'),
    (WriteFailed('cannot write x (No space left on device)'), 4,
     'error: cannot write x (No space left on device)'),
    (Interrupted('at epoch 2; run it with --resume'), 130,
     'interrupted: at epoch 2; run it with --resume'),
    (KeyboardInterrupt(), 130, 'interrupted'),
    (BadInput('two\nlines'), 2, 'error: two lines'),
])
def test_project_errors_become_one_line_and_an_exit_code(capsys, err, code, line):
    assert run_main(raising(err), []) == code
    assert capsys.readouterr().err.splitlines() == [line]


def test_stops_go_to_the_log_file_not_twice_to_stderr(tmp_path, capsys):
    log = logging.getLogger('atac')
    handler = logging.FileHandler(str(tmp_path / 'train.log'))
    log.addHandler(handler)
    try:
        assert run_main(raising(Diverged('loss is inf')), []) == 3
    finally:
        log.removeHandler(handler)
        handler.close()
    assert capsys.readouterr().err.splitlines() == ['error: loss is inf']
    assert (tmp_path / 'train.log').read_text().splitlines() == ['stopped: loss is inf']


@pytest.mark.parametrize('err', [ValueError('operands could not be broadcast'),
                                 AssertionError('shape'), KeyError('weight'),
                                 mx.base.MXNetError('Check failed: shape')])
def test_anything_else_is_a_bug_with_its_traceback(err):
    with pytest.raises(type(err)):
        run_main(raising(err), [])


def test_a_bug_in_a_command_exits_1_with_a_traceback():
    code = ('import numpy as np\n'
            'from atac_gluon.errors import run_main\n'
            'import sys\n'
            'sys.exit(run_main(lambda argv: np.zeros(3) + np.zeros(4)))\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert 'Traceback' in proc.stderr and 'could not be broadcast' in proc.stderr
    assert 'error:' not in proc.stderr


def test_error_reason_takes_the_line_that_says_why():
    try:
        mx.nd.load('/nonexistent/file.params')
    except mx.base.MXNetError as err:
        reason = error_reason(err)
    assert '\n' not in reason and 'Traceback' not in reason and reason
    assert error_reason(ValueError('first line\nsecond')) == 'first line'
    assert error_reason(mx.base.MXNetError(
        'Traceback (most recent call last):\n  File "x.cc", line 3\n'
        'MXNetError: Check failed: fo->Write: FileStream.Write incomplete')) == \
        'fo->Write: FileStream.Write incomplete'
    assert len(error_reason(ValueError('x' * 500))) == 203
    assert error_reason(ValueError('')) == 'ValueError'
