"""Tensor kernels below both `models/` and `active/`: argument checks (`checks`), square-window sums
and maxima (`window`), the entropy kernel and ADA-MCU's two-head uncertainty (`uncertainty`), the
DCCM (`category_correlation`) and the global generators' state (`rng`). Plain torch/numpy (`rng`
logs through mmengine): nothing here imports mmseg, a registry or another part of `mmseg_ext`."""
