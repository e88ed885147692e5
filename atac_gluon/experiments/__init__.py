"""The paper's experiments as suites of training runs: ``python -m atac_gluon.experiments``.

- :mod:`~atac_gluon.experiments.suites`: the suites (fig7, fig8, ablations, imagenet, fmnist),
  each configuration a full-scale command of ``train_cifar`` / ``train_imagenet`` with the
  official recipe, each suite with its report layout and its smaller scales (fmnist's cpu);
- :mod:`~atac_gluon.experiments.train`: trains them in turn (finished runs skipped, unfinished
  ones resumed) or prints their commands;
- :mod:`~atac_gluon.experiments.results`: what each run's ``metrics.jsonl`` says;
- :mod:`~atac_gluon.experiments.smoke`: the tiny scale for this CPU and CI;
- :mod:`~atac_gluon.experiments.report`: report.md / report.json / PNGs against the paper's
  numbers and the official ImageNet log (shipped in :mod:`atac_gluon.reference`);
- :mod:`~atac_gluon.experiments.cost`: expected GPU-hours.

Nothing here imports mxnet at package import, so the command can set the CPU threads first.
"""
