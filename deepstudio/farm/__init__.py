"""Rendering beyond one machine: render plans on disk, a durable batch queue, Ray and
Open Job Description.

The engine cuts a render into chunks and finishes it in one place (:mod:`deepstudio.engine.
render`); this package only decides *where* chunks are encoded. Ray is imported by
:mod:`deepstudio.farm.ray_farm` alone, and only when a cluster is asked for, so the editor and
the in-process render never load it.
"""
