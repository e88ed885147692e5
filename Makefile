PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-fast demo install clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.py Makefile | $(PY)
	$(PY) -m pip install --quiet -e '.[test,onnx]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests

# unit tests only (no script runs): about a minute
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

# ResNet-20 ATAC (r=2, inner ReLU) on scikit-learn's digits: no download, 45-80 s on 2
# cores. --resume makes a second `make demo` reuse the finished run instead of refusing the dir.
DEMO_DIR := runs/demo
demo: $(STAMP)
	$(PY) train_cifar.py --dataset digits --blocks 3 --act-type ChaATAC --r 2 --useReLU \
		--mode hybrid --num-epochs 8 --batch-size 64 --lr 0.1 --lr-decay-epoch 6 -j 2 \
		--save-dir $(DEMO_DIR) --save-plot-dir $(DEMO_DIR) --resume --export
	@echo "results in $(DEMO_DIR): metrics.jsonl, train.log, ResNet20_b_3_ChaATAC_history.png,"
	@echo "checkpoints and the exported ResNet20_b_3_ChaATAC-symbol.json, -0000.params, .onnx"

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
