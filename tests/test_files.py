"""atac_gluon.files: a write lands whole under its final name or not at all."""
import errno
import os

import pytest

from atac_gluon import files
from atac_gluon.errors import BadInput, WriteFailed


def _write_text(text):
    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)
    return write


def test_partial_path_keeps_the_extension():
    assert files.partial_path('/d/a.params') == '/d/a.partial.params'
    assert files.partial_path('x/plot.png') == 'x/plot.partial.png'
    assert files.partial_path('noext') == 'noext.partial'


def test_write_durably_writes_to_the_partial_name_then_renames(tmp_path, monkeypatch):
    path = str(tmp_path / 'a.json')
    seen = []

    def write(tmp):
        seen.append(tmp)
        assert not os.path.exists(path)  # nothing under the final name while writing
        with open(tmp, 'w') as f:
            f.write('new')
    renames = []
    real_replace = os.replace
    monkeypatch.setattr(os, 'replace', lambda s, d: (renames.append((s, d)), real_replace(s, d)))
    files.write_durably(path, write)
    assert seen == [str(tmp_path / 'a.partial.json')]
    assert renames == [(seen[0], path)]
    assert os.listdir(str(tmp_path)) == ['a.json']
    assert open(path).read() == 'new'


def test_write_durably_replaces_an_existing_file(tmp_path):
    path = tmp_path / 'a.txt'
    path.write_text('old')
    files.write_durably(str(path), _write_text('new'))
    assert path.read_text() == 'new' and os.listdir(str(tmp_path)) == ['a.txt']


def test_the_check_sees_the_fsynced_partial_file_and_can_refuse_it(tmp_path, monkeypatch):
    path = tmp_path / 'a.txt'
    path.write_text('old')
    synced = []
    real_fsync = files.fsync
    monkeypatch.setattr(files, 'fsync', lambda p: (synced.append(p), real_fsync(p)))

    def check(tmp):
        assert synced == [tmp] and open(tmp).read() == 'new'
        raise ValueError('bad copy')
    with pytest.raises(ValueError, match='bad copy'):
        files.write_durably(str(path), _write_text('new'), check)
    assert path.read_text() == 'old' and os.listdir(str(tmp_path)) == ['a.txt']


@pytest.mark.parametrize('error', [RuntimeError('writer failed'), KeyboardInterrupt(),
                                   OSError(errno.EACCES, 'Permission denied')])
def test_a_failing_writer_leaves_the_old_file_and_no_partial_one(tmp_path, error):
    path = tmp_path / 'a.txt'
    path.write_text('old')

    def write(tmp):
        with open(tmp, 'w') as f:
            f.write('half')
        raise error
    with pytest.raises(type(error)):
        files.write_durably(str(path), write)
    assert path.read_text() == 'old' and os.listdir(str(tmp_path)) == ['a.txt']


def test_a_writer_failing_on_a_full_disk_is_enospc(tmp_path, monkeypatch):
    """MXNet's and matplotlib's writers lose errno; a full disk is told by its free space."""
    class Full:
        f_bavail = 0
    monkeypatch.setattr(os, 'statvfs', lambda p: Full())

    def write(tmp):
        open(tmp, 'w').close()
        raise RuntimeError('write failed')
    with pytest.raises(OSError) as info:
        files.write_durably(str(tmp_path / 'a.params'), write)
    assert info.value.errno == errno.ENOSPC and isinstance(info.value.__cause__, RuntimeError)
    assert os.listdir(str(tmp_path)) == []
    # an interrupt stays an interrupt, and a bad input keeps its message
    for error in (KeyboardInterrupt(), BadInput('no compiler')):
        def fail(tmp, error=error):
            raise error
        with pytest.raises(type(error)):
            files.write_durably(str(tmp_path / 'a.params'), fail)


def test_unique_partial_names_differ_and_keep_the_extension(tmp_path):
    path = str(tmp_path / 'lib.so')
    seen = []

    def write(tmp):
        seen.append(tmp)
        assert os.path.exists(tmp)  # reserved: no other process gets this name
        with open(tmp, 'w') as f:
            f.write(str(len(seen)))
    files.write_durably(path, write, unique=True)
    files.write_durably(path, write, unique=True)
    assert seen[0] != seen[1]
    for tmp in seen:
        name = os.path.basename(tmp)
        assert name.startswith('lib.partial.') and name.endswith('.so')
        assert os.path.dirname(tmp) == str(tmp_path)
    assert os.listdir(str(tmp_path)) == ['lib.so'] and open(path).read() == '2'


def test_unique_partial_file_is_removed_on_failure(tmp_path):
    def write(tmp):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        files.write_durably(str(tmp_path / 'lib.so'), write, unique=True)
    assert os.listdir(str(tmp_path)) == []


def test_atomic_write_text_and_atomic_write_fsync_the_directory(tmp_path, monkeypatch):
    synced = []
    real_fsync = files.fsync
    monkeypatch.setattr(files, 'fsync', lambda p: (synced.append(p), real_fsync(p)))
    path = str(tmp_path / 'report.md')
    files.atomic_write_text(path, 'hello\n')
    assert open(path).read() == 'hello\n'
    assert synced == [str(tmp_path / 'report.partial.md'), str(tmp_path)]
    synced.clear()
    files.atomic_write_text(path, 'again\n', unique=True)
    assert open(path).read() == 'again\n' and synced[-1] == str(tmp_path)
    assert os.listdir(str(tmp_path)) == ['report.md']


def test_atomic_write_of_a_figure(tmp_path):
    pytest.importorskip('matplotlib')
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = str(tmp_path / 'fig.png')
    try:
        files.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=20))  # format from '.png'
    finally:
        plt.close(fig)
    with open(path, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert os.listdir(str(tmp_path)) == ['fig.png']


def _write_set(suffixes, fail_at=None, error=OSError(errno.ENOSPC, 'No space left on device')):
    def write(staged):
        paths = []
        for i, suffix in enumerate(suffixes):
            if i == fail_at:
                raise error
            with open(staged + suffix, 'w') as f:
                f.write(suffix)
            paths.append(staged + suffix)
        return paths
    return write


def test_write_staged_renames_the_whole_set(tmp_path):
    prefix = str(tmp_path / 'net')
    final = files.write_staged(prefix, _write_set(['-symbol.json', '-0000.params']))
    assert final == [prefix + '-symbol.json', prefix + '-0000.params']
    assert sorted(os.listdir(str(tmp_path))) == ['net-0000.params', 'net-symbol.json']
    assert open(prefix + '-0000.params').read() == '-0000.params'


def test_write_staged_is_all_or_none(tmp_path):
    prefix = str(tmp_path / 'net')
    (tmp_path / 'net-symbol.json').write_text('old')
    with pytest.raises(WriteFailed, match=r'cannot write the export .*net \(No space left'):
        files.write_staged(prefix, _write_set(['-symbol.json', '-0000.params'], fail_at=1))
    assert os.listdir(str(tmp_path)) == ['net-symbol.json']  # no staging directory left
    assert (tmp_path / 'net-symbol.json').read_text() == 'old'


def test_write_staged_interrupted_leaves_nothing(tmp_path):
    prefix = str(tmp_path / 'net')
    with pytest.raises(KeyboardInterrupt):
        files.write_staged(prefix, _write_set(['-symbol.json', '.onnx'], fail_at=1,
                                              error=KeyboardInterrupt()))
    assert os.listdir(str(tmp_path)) == []


def test_write_staged_in_an_unwritable_directory_is_write_failed(tmp_path):
    missing = tmp_path / 'no-such-dir'
    with pytest.raises(WriteFailed, match='cannot write the export in %s' % missing):
        files.write_staged(str(missing / 'net'), _write_set(['.onnx']))
