# ADVENT's MinEnt on SynthShift (the Table 1 row "MinEnt"): ./advent.py's network, data and
# generator schedule, no discriminator; the target term is EntropyLoss of the main and the
# auxiliary logits upsampled to the input size, weights 0.001 and 0.0002 (ADVENT's minent.yml).
_base_ = ['./advent.py']
model = dict(alignment='minent', discriminator=None)
optim_wrapper = dict(_delete_=True, **_base_.generator_optim_wrapper)
param_scheduler = _base_.generator_schedule
