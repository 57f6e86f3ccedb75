"""sandproof: prove that a deny-by-default container sandbox holds.

One profile is compiled into the sandbox; a stdlib-only inspector records what is
enforced inside it; a verifier recomputes every verdict from those observations.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
