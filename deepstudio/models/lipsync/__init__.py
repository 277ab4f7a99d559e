"""Lip-sync models: Wav2Lip-family generator, sync expert, quality discriminator, training."""
