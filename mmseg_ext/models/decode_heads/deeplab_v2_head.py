import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS


@MODELS.register_module()
class DeepLabV2Head(BaseDecodeHead):
    """The DeepLab-v2 classifier (RIPU's `ASPP_Classifier_V2`): parallel 3x3 convs from the last
    backbone stage straight to class logits, with dilations 6, 12, 18, 24, summed. No BN, no ReLU,
    no dropout. Weights N(0, 0.01) and zero bias (the reference leaves the bias at PyTorch's default
    uniform init; a zero bias is the usual DeepLab-v2 choice and does not change the optimum).

    `feature_channels=256` is ADeADA's variant (D2ADA's deeplabv2): the four dilated convs map to
    256 channels without bias, their sum is the region feature (the input of `conv_seg`), and a
    1x1 conv classifies it. None (default) keeps RIPU's head, which has no pre-classifier
    features.
    """

    def __init__(self, dilations=(6, 12, 18, 24), feature_channels=None, **kwargs):
        self.feature_channels = feature_channels
        if feature_channels is not None:
            if not isinstance(feature_channels, int) or feature_channels < 1:
                raise ValueError(f'DeepLabV2Head: feature_channels must be None or an int >= 1, '
                                 f'got {feature_channels!r}')
            kwargs['channels'] = feature_channels
        kwargs.setdefault('channels', kwargs['in_channels'])
        kwargs.setdefault('dropout_ratio', 0)
        kwargs.setdefault('init_cfg', dict(type='Normal', std=0.01, bias=0,
                                           override=dict(name='aspp')))
        super().__init__(**kwargs)
        out = self.out_channels if feature_channels is None else feature_channels
        if feature_channels is None:
            del self.conv_seg  # the ASPP branches are the classifier
        self.aspp = nn.ModuleList(
            nn.Conv2d(self.in_channels, out, 3, padding=d, dilation=d,
                      bias=feature_channels is None)
            for d in dilations)

    def forward(self, inputs):
        x = self._transform_inputs(inputs)
        out = sum(branch(x) for branch in self.aspp)
        return out if self.feature_channels is None else self.cls_seg(out)
