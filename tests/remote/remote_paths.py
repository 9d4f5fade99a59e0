"""Puts tools/remote on sys.path: its scripts are not a package (the bot runs in another venv)."""

import os
import sys

TOOLS_REMOTE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools", "remote"
)
if TOOLS_REMOTE not in sys.path:
    sys.path.insert(0, TOOLS_REMOTE)
