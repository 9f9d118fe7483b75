"""The explorer on a real X server (Xvfb, QT_QPA_PLATFORM=xcb) at 1280x720 and 1920x1080.

Each size runs tests/screen_session.py in a fresh process on its own Xvfb: the window fits the screen with no two
visible widgets overlapping; after a scripted session every panel describes the current state; after a drag
across islands and a mouse sweep, the screen's pixels equal a fresh render of each map (no ghost rings).
Skips, saying why, only where no X server can start, and never when CI=true (.ci/run installs Xvfb).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _xvfb(size: str):
    """Start Xvfb on a free display; returns (process, ":N") or raises pytest.skip / pytest.fail."""
    binary = shutil.which("Xvfb")
    if binary is None:
        message = "no X server can start here: Xvfb is not installed (Debian: apt-get install xvfb)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    read, write = os.pipe()
    proc = subprocess.Popen([binary, "-displayfd", str(write), "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    if not number:
        proc.kill()
        message = f"no X server can start here: Xvfb exited ({proc.stderr.read().decode()[-300:]})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return proc, f":{number}"


@pytest.mark.parametrize("size", ["1280x720", "1920x1080"])
def test_the_window_on_a_real_screen(size, tmp_path):
    server, display = _xvfb(size)
    try:
        env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", XDG_CONFIG_HOME=str(tmp_path / "config"))
        env.pop("WAYLAND_DISPLAY", None)
        proc = subprocess.run([sys.executable, str(ROOT / "tests" / "screen_session.py")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
    finally:
        server.kill()
        server.wait()
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    width, height = (int(v) for v in size.split("x"))
    assert result["platform"] == "xcb" and result["screen"] == [width, height]
    assert result["fits"], f"the window {result['window']} does not fit the {size} screen"
    assert result["minimum"][0] <= width and result["minimum"][1] <= height
    assert result["overlaps"] == [], result["overlaps"]
    assert result["problems"] == [], result["problems"]
    assert result["ghost_pixels"] == {"zc": 0, "style": 0}, "the screen shows what a fresh render does not (ghosts)"
