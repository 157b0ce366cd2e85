import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS


@MODELS.register_module()
class DeepLabV2Head(BaseDecodeHead):
    """The DeepLab-v2 classifier (RIPU's `ASPP_Classifier_V2`): parallel 3x3 convs from the last
    backbone stage straight to class logits, with dilations 6, 12, 18, 24, summed. No BN, no ReLU,
    no dropout. Weights N(0, 0.01) and zero bias (the reference leaves the bias at PyTorch's default
    uniform init; a zero bias is the usual DeepLab-v2 choice and does not change the optimum).
    """

    def __init__(self, dilations=(6, 12, 18, 24), **kwargs):
        kwargs.setdefault('channels', kwargs['in_channels'])
        kwargs.setdefault('dropout_ratio', 0)
        kwargs.setdefault('init_cfg', dict(type='Normal', std=0.01, bias=0, override=dict(name='aspp')))
        super().__init__(**kwargs)
        del self.conv_seg  # the ASPP branches are the classifier
        self.aspp = nn.ModuleList(
            nn.Conv2d(self.in_channels, self.out_channels, 3, padding=d, dilation=d, bias=True)
            for d in dilations)

    def forward(self, inputs):
        x = self._transform_inputs(inputs)
        return sum(branch(x) for branch in self.aspp)
