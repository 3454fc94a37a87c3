"""python -m deploy COMMAND FOLDER...: see deploy.cli."""
import sys

from deploy.cli import main

sys.exit(main())
