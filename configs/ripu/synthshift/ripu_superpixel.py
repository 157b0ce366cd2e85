# Table 6: superpixels ranked by the RIPU score. The paper used SEEDS (opencv-contrib,
# not on PyPI for us); we use SLIC from scikit-image.
_base_ = ['./ripu_ra.py']
custom_hooks = [dict(_base_.custom_hooks[0], strategy='ripu_superpixel', strategy_cfg=dict(n_segments=256, compactness=10))]
