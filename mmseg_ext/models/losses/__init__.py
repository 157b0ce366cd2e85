from .local_consistency_loss import LocalConsistencyLoss
from .negative_learning_loss import NegativeLearningLoss

__all__ = ['LocalConsistencyLoss', 'NegativeLearningLoss']
