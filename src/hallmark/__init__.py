"""Hallmark: prove and check that creative work was made by a human.

The library's public face is small: :func:`verify` checks a work against its bundle and
answers a :class:`Verdict` (see ``docs/verify.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Verdict", "__version__", "verify"]

if TYPE_CHECKING:
    from hallmark.library import Verdict, verify


def __getattr__(name: str) -> Any:
    # Loaded on first use (PEP 562): every ``import hallmark.<module>`` runs this file first,
    # and most of them never verify anything, so they should not pay for the crypto imports.
    if name in ("Verdict", "verify"):
        from hallmark import library

        return getattr(library, name)
    raise AttributeError(f"module 'hallmark' has no attribute {name!r}")
