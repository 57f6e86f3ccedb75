"""The inspector: runs INSIDE the sandbox. Python 3.11 stdlib only, no dynamic imports.

Nothing here imports from the rest of ``sandproof``. Two sides, split by concept (network,
mounts and filesystem, identity and capabilities, seccomp, namespaces, limits, leaks):
``probes/`` observe (ctypes, raw syscalls, fork, the guard) and ``judges/`` judge, pure
functions on JSON registered in ``judge``. The host imports only the judging side and the
shared data (``wire``, ``catalog``, ``syscalls``, ``bpf``), so that what a probe means is
defined once and the verifier loads no probing code.
"""
