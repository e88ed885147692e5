"""atac_gluon.cpuinfo: the model name and flags of the first processor."""
import builtins
import io

from atac_gluon import cpuinfo

FAKE = """processor\t: 0
model name\t: Example CPU 1
flags\t\t: fpu avx2 avx512f avx512_bf16
processor\t: 1
model name\t: Example CPU 2
flags\t\t: fpu
"""


def test_reads_the_first_processor(monkeypatch):
    real_open = builtins.open

    def fake_open(path, *args, **kwargs):
        if path == '/proc/cpuinfo':
            return io.StringIO(FAKE)
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(builtins, 'open', fake_open)
    assert cpuinfo.cpu_info() == ('Example CPU 1', {'fpu', 'avx2', 'avx512f', 'avx512_bf16'})
    assert cpuinfo.cpu_flags() == {'fpu', 'avx2', 'avx512f', 'avx512_bf16'}


def test_without_proc_cpuinfo(monkeypatch):
    def no_file(path, *args, **kwargs):
        raise FileNotFoundError(path)
    monkeypatch.setattr(builtins, 'open', no_file)
    model, flags = cpuinfo.cpu_info()
    assert isinstance(model, str) and flags == set()
