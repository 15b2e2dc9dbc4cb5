import sys

from ulmlite.cli import main

sys.exit(main())
