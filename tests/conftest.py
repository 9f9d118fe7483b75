import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the explorer remembers its size, splitters and folders (QSettings under XDG_CONFIG_HOME): tests never read or
# write the user's own settings, and start from none
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="ccvae-test-config-")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # helpers shared by tests (explorer_invariant)
