"""DeepFaceLab-style face swap: networks, losses, augmentation, trainer, inference, ONNX export.

Importing this package registers its architectures (``faceswap.df``, ``faceswap.liae``) with
:mod:`deepstudio.models.checkpoint`, which imports it when a model card names one of them.
"""

from deepstudio.models.faceswap import networks as networks
