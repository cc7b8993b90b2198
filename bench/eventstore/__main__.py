"""`python -m bench.eventstore`."""

from bench.eventstore.cli import main

raise SystemExit(main())
