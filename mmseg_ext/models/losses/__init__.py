from .entropy_loss import EntropyLoss
from .local_consistency_loss import LocalConsistencyLoss
from .multi_level_contrastive_loss import MultiLevelContrastiveLoss
from .negative_learning_loss import NegativeLearningLoss

__all__ = ['EntropyLoss', 'LocalConsistencyLoss', 'MultiLevelContrastiveLoss',
           'NegativeLearningLoss']
