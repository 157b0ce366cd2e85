"""Tensor kernels below both `models/` and `active/`: argument checks (`checks`), square-window
sums and maxima (`window`), the entropy kernel and ADA-MCU's two-head uncertainty
(`uncertainty`) and the DCCM (`category_correlation`). Plain torch/numpy: nothing here imports
mmseg, a registry or another part of `mmseg_ext`."""
