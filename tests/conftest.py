import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
# bench/ is importable from the repository root, for its smoke test.
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
