from sandproof.cli import main

raise SystemExit(main())
