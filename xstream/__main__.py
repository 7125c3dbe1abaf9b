import sys

from xstream.cli import main

sys.exit(main())
