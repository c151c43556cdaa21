"""lbconsole-node: everything that runs on a node.

Python 3.6 or later and the standard library only, and nothing from outside this package:
it is shipped as one file (see program.py) and runs alone on a node. The console reaches it
over one long-lived session (docs/node-agent.md) or, for `host = "local"`, in-process.
"""

VERSION = "0.1.0"  # equals lbconsole.__version__ (tests/node/test_program.py checks it)
