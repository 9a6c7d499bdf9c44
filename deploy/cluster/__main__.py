"""`python -m deploy.cluster` (`make cluster`): see deploy.cluster.launcher."""

import sys

from deploy.cluster.launcher import main

sys.exit(main())
