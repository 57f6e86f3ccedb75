"""The inspector: runs INSIDE the sandbox. Python 3.11 stdlib only, no dynamic imports.

Nothing here imports from the rest of ``sandproof``; the host imports only its data
and pure judging functions (``catalog``, ``judge``, ``syscalls``) so that what a
probe means is defined once.
"""
