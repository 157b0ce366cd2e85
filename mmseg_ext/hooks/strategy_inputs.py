"""What a hook hands a strategy: the one place where the hooks read a strategy's declared
``needs`` (mmseg_ext.active.strategies.contract) and turn them into model outputs and inputs."""
import torch

from ..active.region_pool import NEEDS as REGION_STATISTICS
from ..active.strategies.contract import (AUX_LOGITS, BUDGET, FEATURES, IMAGE, LOGITS,
                                          MODEL_OUTPUTS, SOURCE)
from .inference import LabelSizeOutputs, label_size_outputs


def needs_budget(strategy) -> bool:
    """Whether the strategy takes the hook's budget (else its options say what it buys)."""
    return BUDGET in strategy.needs_at(1)


def needs_source(strategy, round_index: int) -> bool:
    """Whether round ``round_index`` (1-based) hands the source images' regions."""
    return SOURCE in strategy.needs_at(round_index)


def uses_model(strategy, round_index: int = 1) -> bool:
    """Whether the strategy reads any model output (else e.g. a score_checkpoint is moot)."""
    return bool(strategy.needs_at(round_index) & MODEL_OUTPUTS)


def region_statistics(strategy, round_index: int) -> frozenset:
    """The region statistics beyond the logits' (region_pool.NEEDS) a pool strategy declares."""
    return strategy.needs_at(round_index) & frozenset(REGION_STATISTICS)


def model_outputs(strategy, model, batch, sizes, device, round_index: int = 1) -> LabelSizeOutputs:
    """The model's outputs the strategy declares, per image at label size; the logits of a
    strategy that does not read them are empty (0, h, w) tensors of each size in ``sizes``
    (None: the strategy must read them, as every pool strategy does)."""
    needs = strategy.needs_at(round_index)
    if not needs & MODEL_OUTPUTS:
        return LabelSizeOutputs([torch.empty((0, *s), device=device) for s in sizes], None, None)
    out = label_size_outputs(model, batch, features=FEATURES in needs,
                             auxiliary=AUX_LOGITS in needs)
    if LOGITS not in needs:
        out = out._replace(logits=[torch.empty((0, *s), device=device) for s in sizes])
    return out


def given(strategy, outputs: LabelSizeOutputs, j: int, image, round_index: int = 1) -> dict:
    """The keyword inputs of image ``j`` of a batch beyond its logits, each only where declared:
    ``image`` (``image()`` loads it), ``feats`` and ``aux_logits`` (float)."""
    needs, inputs = strategy.needs_at(round_index), {}
    if IMAGE in needs:
        inputs[IMAGE] = image()
    if FEATURES in needs:
        inputs[FEATURES] = outputs.feats[j].float()
    if AUX_LOGITS in needs:
        inputs[AUX_LOGITS] = outputs.aux_logits[j].float()
    return inputs
