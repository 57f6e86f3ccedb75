"""The image's /app/main.py: start the harness (kept tiny; the image copies it)."""

import sys

from inspector.harness import main  # type: ignore[import-not-found]  # the image's layout, not the host's

raise SystemExit(main(sys.argv[1:]))
