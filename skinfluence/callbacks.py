"""skorch callbacks that record what influence measures need during training.

Import this module explicitly (``from skinfluence.callbacks import
TracInCheckpoints``); ``import skinfluence`` does not import it, so skorch stays
optional (``pip install skinfluence[skorch]``).
"""

from .adapters._checkpoints import TracInCheckpoints

__all__ = ["TracInCheckpoints"]
