import sys

from meshtalk.cli import main

sys.exit(main())
