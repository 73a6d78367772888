"""The one module that declares every Hallmark plugin hook (pluggy).

A plugin is a module or object registered under the ``hallmark`` entry-point group that
implements some of these hooks. Built-ins (``hallmark.storage.blobs``, ``hallmark.crypto.signers``)
register through the same entry points, so the plugin path is exercised every day. Each hook
returns a mapping of name -> factory; settings choose a factory by name. Factories receive the
settings object and return an object implementing the protocol named in the hook's docstring.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "hallmark"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def hallmark_signers() -> dict[str, Any]:  # type: ignore[empty-body]
    """Signer factories by name; each builds a :class:`hallmark.crypto.signers.Signer`."""


@hookspec
def hallmark_blob_stores() -> dict[str, Any]:  # type: ignore[empty-body]
    """Blob-store factories by name; each builds a :class:`hallmark.storage.blobs.BlobStore`."""


@hookspec
def hallmark_detectors() -> dict[str, Any]:  # type: ignore[empty-body]
    """Detector factories by name; each builds a :class:`hallmark.analysis.base.Detector`."""


@hookspec
def hallmark_similarity_indexes() -> dict[str, Any]:  # type: ignore[empty-body]
    """Similarity-index factories by name; each builds a
    :class:`hallmark.similarity.base.SimilarityIndex` (prior art, issue #5)."""


@hookspec
def hallmark_muse_backends() -> dict[str, Any]:  # type: ignore[empty-body]
    """Muse-backend factories by name; each builds a :class:`hallmark.muse.base.MuseBackend`
    (the writing companion, issue #8)."""
