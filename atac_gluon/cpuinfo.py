"""What this machine's CPU is, from ``/proc/cpuinfo``: one reader for the benchmark's report, the
bf16 messages and the operator library's build key. Imports no mxnet."""
import platform

__all__ = ['cpu_info', 'cpu_flags']


def cpu_info():
    """(model name, set of flags) of the first processor; (the platform's processor name, an
    empty set) where ``/proc/cpuinfo`` cannot be read (not Linux)."""
    model, flags = None, set()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                key = key.strip()
                if key == 'model name' and model is None:
                    model = value.strip()
                elif key == 'flags' and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), flags


def cpu_flags():
    """The CPU's flags (``avx2``, ``avx512_bf16``, ...), a set."""
    return cpu_info()[1]
