# RIPU (RA) as a tenth row of the ADeADA budget curves (supplement Tables 6-7): RIPU's per-image
# selection (3x3 regions, impurity x uncertainty) at the same pixel cost (1% of the target
# pixels per round, 5 rounds) and the same warm-up and fine-tuning protocol as adeada.py
# (cross-entropy only, no LCR/NL, so only the acquisition differs). RIPU buys ceil(P / 9) 3x3
# squares per image and round (the reference rounds up): on 64x128 images a 1% round (81.9 px)
# would buy 10 squares = 1.1%, so the ratio is 0.045 (73.7 px -> 9 squares = 81 px = 0.99%
# per round, ADeADA's 1% superpixel rounds buy 0.995%).
_base_ = ['./adeada.py']
custom_hooks = [dict(type='ActiveSelectionHook', select_iters=_base_.select_iters,
                     strategy='ripu_ra', strategy_cfg=dict(k=1), budget=dict(ratio=0.045),
                     batch_size=64, select_before_update=True)]
