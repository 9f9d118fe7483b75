"""One way to put a run in a shown main window for the widget tests (offscreen, pytest-qt)."""
from __future__ import annotations

from explorer.main_window import MainWindow


def open_window(qtbot, run, size: tuple[int, int]) -> MainWindow:
    """A MainWindow of ``size`` showing ``run`` (a RunData with maps), exposed and with its layout settled."""
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(*size)
    win.show_run(run)
    win.show()
    qtbot.waitExposed(win)
    assert win.is_ready
    settle_layout(qtbot, win)
    return win


def settle_layout(qtbot, win) -> None:
    """Wait until both plot areas stop moving: after the first paint each left axis takes the width of its tick
    labels (which depend on the map), shifting the plot by up to ~15 px, so a point's screen position computed
    earlier could miss it."""
    last = None
    for _ in range(100):
        now = [view.view.sceneBoundingRect() for view in win.maps.values()]
        if now == last:
            return
        last = now
        qtbot.wait(30)
