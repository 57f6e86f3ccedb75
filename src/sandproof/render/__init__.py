"""Renderers: profile in, one artifact out (docker argv, OCI config, Dockerfile)."""
