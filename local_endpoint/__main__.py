import sys

from local_endpoint.server import main

sys.exit(main())
