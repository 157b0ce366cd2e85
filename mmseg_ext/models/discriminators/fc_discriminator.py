import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS


@MODELS.register_module()
class FCDiscriminator(BaseModule):
    """AdaptSegNet's fully-convolutional output-space discriminator (also D2ADA's warm-up).

    Five 4x4 convolutions with stride 2 and padding 1, `num_classes -> ndf -> 2ndf -> 4ndf -> 8ndf
    -> 1`, LeakyReLU(negative_slope) between them and none after the last: (N, C, H, W) class
    probabilities -> (N, 1, H/32, W/32) domain logits (for BCE with logits). PyTorch's default
    conv init, as in the reference. Layer names follow AdaptSegNet (conv1..conv4, classifier).
    ADVENT's discriminator (`get_fc_discriminator`) is the same network.

    `channels_last` (default False): weights and activations in NHWC, faster on CPU (oneDNN);
    the same function up to float rounding (the default keeps the existing configs' numbers).
    """

    def __init__(self, num_classes, ndf=64, negative_slope=0.2, channels_last=False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        channels = (num_classes, ndf, ndf * 2, ndf * 4, ndf * 8)
        for i, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:]), start=1):
            self.add_module(f'conv{i}', nn.Conv2d(c_in, c_out, 4, stride=2, padding=1))
        self.classifier = nn.Conv2d(ndf * 8, 1, 4, stride=2, padding=1)
        self.leaky_relu = nn.LeakyReLU(negative_slope, inplace=True)
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self, x):
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = self.leaky_relu(conv(x))
        return self.classifier(x)
