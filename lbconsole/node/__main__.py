"""`python3 -m lbconsole.node serve`: the agent from a source checkout (tests, development)."""

import sys

from lbconsole.node.cli import main

sys.exit(main(sys.argv[1:]))
