"""Networks, trainers and inference wrappers: every ``import torch`` of DeepStudio lives here.

This package itself imports nothing heavy, so that ``import deepstudio.models`` stays cheap;
import the submodules (``deepstudio.models.faceswap``, ``deepstudio.models.checkpoint``) you need.
"""
