"""`python -m simulator`: the same command as `orchestralink-simulator`."""

from simulator.cli import main

raise SystemExit(main())
