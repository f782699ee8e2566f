"""`python -m localcloud`: the same command line as the `localcloud` script."""

import sys

from localcloud.cli import main

sys.exit(main())
