"""What a run tells: its logger (stderr and the log file) and the per-epoch progress."""
import logging
import sys
import time

__all__ = ['setup_logging', 'Progress']


def setup_logging(log_file=None):
    """Log to stderr and, if given, to ``log_file`` (appended, so a resumed run continues it)."""
    log = logging.getLogger('atac')
    log.setLevel(logging.INFO)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
    fmt = logging.Formatter('%(asctime)s %(levelname)s %(message)s')
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file))
    for handler in handlers:
        handler.setFormatter(fmt)
        log.addHandler(handler)
    return log


class Progress:
    """Per-epoch progress: a tqdm bar on a terminal, a log line every ``log_interval`` batches
    otherwise (logs and CI output stay readable)."""

    def __init__(self, log, total, epoch, log_interval=50, stream=None):
        self.log, self.total, self.epoch = log, total, epoch
        self.log_interval = log_interval
        self.samples, self.start, self.done = 0, time.time(), 0
        stream = stream or sys.stderr
        self.bar = None
        if stream.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc='epoch %d' % epoch, leave=False, file=stream)

    def update(self, batch_size, loss):
        self.done += 1
        self.samples += batch_size
        speed = self.samples / max(time.time() - self.start, 1e-9)
        if self.bar is not None:
            self.bar.set_postfix(loss='%.4f' % loss, speed='%.0f img/s' % speed, refresh=False)
            self.bar.update(1)
        elif self.log_interval and self.done % self.log_interval == 0:
            self.log.info('[Epoch %d] batch %d/%d loss=%.4f speed=%.1f samples/s', self.epoch,
                          self.done, self.total, loss, speed)

    def close(self):
        if self.bar is not None:
            self.bar.close()
