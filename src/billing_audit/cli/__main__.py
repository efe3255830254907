import sys

from billing_audit.cli import main

sys.exit(main())
