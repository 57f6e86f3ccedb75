"""The judging side: pure functions on recorded JSON, one module per concept; the registry
is ``inspector.judge``. Stdlib only; nothing here imports the probing side (``probes/``,
``harness``, ``isolate``, ``guard``, ``rawsys``), so the verifier can import it without ctypes."""
