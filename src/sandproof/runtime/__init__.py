"""Container runtimes: the engine's CLI (docker) and daemonless runc."""

from sandproof.runtime.interface import RunRequest, RunResult, Runtime

__all__ = ["RunRequest", "RunResult", "Runtime"]
