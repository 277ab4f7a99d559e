"""Lip-sync models: Wav2Lip-family generator, sync expert, quality discriminator, training.

Importing this package registers the ``lipsync.wav2lip`` architecture with
:mod:`deepstudio.models.checkpoint`, which imports it when a model card names it.
"""

from deepstudio.models.lipsync import networks as networks
