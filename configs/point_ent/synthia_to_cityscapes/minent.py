# ADVENT's MinEnt (paper 002: no SYNTHIA MinEnt row in the paper): the G1 network, data and
# generator schedule of ./advent.py, no discriminator. The target term is EntropyLoss (the mean
# over pixels of -sum_c p*log2(p + 1e-30)/log2(C)) of the main and the auxiliary logits
# upsampled to the input size, weights 0.001 and 0.0002 (LAMBDA_ENT_MAIN / LAMBDA_ENT_AUX,
# MULTI_LEVEL True in ADVENT's minent.yml).
_base_ = ['./advent.py']
model = dict(alignment='minent', discriminator=None)
optim_wrapper = dict(_delete_=True, **_base_.generator_optim_wrapper)
param_scheduler = _base_.generator_schedule
