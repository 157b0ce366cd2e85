# ADA-MCU as a row of `strategy_curve` (ADeADA's strategy comparison): the full model (adamcu.py)
# started from the same AdaptSegNet warm-up as the region strategies (adeada/synthshift/
# warmup.py; its auxiliary head and projection start untrained: not in that checkpoint), for
# the same 600 updates as their 5 x 120 fine-tuning, buying the same 5% of the target pixels.
# It buys during training, not in rounds, so it is evaluated once, at the end: `tables.py
# --table rounds` puts a variant with a single evaluation in the column of its labelled fraction.
_base_ = ['./adamcu.py']
warmup_config = 'configs/adeada/synthshift/warmup.py'
