"""Make `import summarizer` resolve to the package, not to this test folder.

tests/conftest.py puts tests/ on sys.path (rootdir-style conftest import), and this folder, having no
__init__.py, would then shadow the real package as a namespace package. Putting the repository root
first fixes that for these tests; `pythonpath = ["."]` in pyproject's pytest options would fix it for all.
"""

import sys
from pathlib import Path

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[:1] != [_REPO_ROOT]:
    sys.path.insert(0, _REPO_ROOT)
