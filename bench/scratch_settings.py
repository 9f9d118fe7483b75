"""Imported first by the benches that open explorer windows. A window remembers its size and splitters when it
closes (QSettings under XDG_CONFIG_HOME), so a bench's 1600x1000 or 560x400 window would become the user's next
window; pointing XDG_CONFIG_HOME at a scratch folder (inherited by the bench's subprocesses) keeps theirs."""
import os
import tempfile

os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="ccvae-bench-config-")
