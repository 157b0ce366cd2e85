# Every target bootstraps .venv when it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SPACE ?= ripu_ablation

.PHONY: install test test-slow sweep bench mmcv-full clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: the CPU build from the machine's disk, never a CUDA download
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

test: install
	$(PY) -m pytest -q

# the slow tests include the MLflow server test, the W&B offline tests and the S3 (moto) tests:
# the optional extras 'mlflow', 'wandb' and 's3' first
test-slow: install
	$(PY) -m pip install --quiet -e '.[test,mlflow,wandb,s3]'
	$(PY) -m pytest -q -m slow
	# the W&B checks that `make test` skips without the extra
	$(PY) -m pytest -q tests/test_tracking_wandb.py

sweep: install
	$(PY) sweeps/run.py --space $(SPACE)

bench: install
	$(PY) benchmarks/bench_ripu_select.py
	$(PY) benchmarks/bench_tables.py
	$(PY) benchmarks/bench_sweep.py
	$(PY) benchmarks/bench_adeada_density.py --images 1000 --loky --iters

# mmcv 2.1.0 with compiled ops, built from source (~20 min on 2 cores; pip caches the wheel).
# Only needed for mmseg components that use mmcv.ops (focal loss, CCNet, PSANet, DCN, ...).
mmcv-full: install
	$(PY) -m pip install --quiet 'setuptools<70' wheel ninja psutil
	FORCE_CUDA=$$($(PY) -c 'import torch; print(int(torch.cuda.is_available()))') \
	  MMCV_WITH_OPS=1 MAX_JOBS=$$(nproc) \
	  $(PY) -m pip wheel --no-deps --no-build-isolation -w $(VENV)/wheels mmcv==2.1.0
	$(PY) -m pip uninstall -y mmcv-lite
	$(PY) -m pip install --no-deps --force-reinstall $(VENV)/wheels/mmcv-2.1.0-*.whl
	$(PY) -c 'import mmcv.ops, mmseg_ext.compat as c; assert c.has_compiled_mmcv_ops(); print("mmcv ops OK")'

clean-venv:
	rm -rf $(VENV)
