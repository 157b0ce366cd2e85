# ADA-MCU as a row of `strategy_curve` (ADeADA's strategy comparison): the full model (configs/adamcu/synthshift.py)
# started from the same AdaptSegNet warm-up as the region strategies (adeada/synthshift/
# warmup.py; its auxiliary head and projection start untrained: not in that checkpoint), for
# the same 600 updates as their 5 x 120 fine-tuning, buying the same 5% of the target pixels.
# It buys during training, not in rounds; it is evaluated where the region strategies are
# (after every 120 updates; sweeps report evaluation k as round k), with whatever it has bought
# by then (all 5% early: `tables.py --table rounds --rounds 5` compares at equal cost).
_base_ = ['../synthshift.py']
warmup_config = 'configs/adeada/synthshift/warmup.py'
custom_hooks = [dict(_base_.custom_hooks[0], eval_iters=[120, 240, 360, 480])]
