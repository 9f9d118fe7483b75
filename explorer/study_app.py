"""``python -m explorer runs/study``: the study comparison, opened from ``explorer.app.main`` when the folder holds a
study.json.

With ``--screenshot out.png`` it waits until every cell shows its UMAP maps (fitted in the background, or read from
the user's cache), writes the picture and exits. Problems (an unreadable study.json, a cell that cannot be opened,
a map fit that failed) end headless runs with one ``error: ...`` line and exit status 2; the window shows a broken
cell as such and stays open.
"""
from __future__ import annotations

import sys

from explorer.app import _error


def _find_point(model, text: str) -> str | None:
    """``--find #12`` (or 12) selects point 12 in every cell; returns an error line or None."""
    digits = text.strip().lstrip("#")
    if not digits.isdigit() or not 0 <= int(digits) < model.point_count:
        return (f"--find {text!r}: a study selects a point by its index, #0 to #{model.point_count - 1}")
    model.select(int(digits))
    return None


def study_main(args) -> int:
    """Open the study at ``args.run_dir`` (explorer.app's parsed arguments); returns the exit status."""
    from PyQt6.QtCore import QEventLoop
    from PyQt6.QtWidgets import QApplication, QMessageBox

    from core.study.folder import StudyFolder
    from core.study.grid import StudyError
    from explorer.app import _quiet_offscreen_warnings, dispose, finish_headless, keep_gc_pauses_short

    headless = bool(args.screenshot or args.exit_when_ready)
    unsupported = [name for name, value in (("--select", args.select), ("--colour-by", args.colour_by),
                                            ("--add-images", args.add_images)) if value]
    if unsupported:
        return _error(f"{', '.join(unsupported)} apply to a run, not a study: open one cell "
                      f"(double-click it, or pass its folder under cells/)")
    _quiet_offscreen_warnings()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ccvae-explorer")
    try:
        folder = StudyFolder.open(args.run_dir)
    except StudyError as e:
        if not headless:
            QMessageBox.critical(None, "CCVAE explorer", str(e))
        return _error(str(e))

    from explorer.study_window import StudyWindow

    window = StudyWindow()
    window.resize(*((args.width, args.height) if args.width is not None else window.default_size()))
    window.open_folder(folder)
    window.show()
    keep_gc_pauses_short()
    if not headless:
        status = app.exec()
        dispose(window)
        return status

    model = window.model
    for signal, done in ((window.cells_opened, lambda: not window.cells_pending), (window.ready, lambda: window.is_ready)):
        if not done():
            loop = QEventLoop()
            signal.connect(loop.quit)
            loop.exec()
        problems = model.problems + [f"{c.cell.name}: could not compute the maps: {c.maps_problem}"
                                     for c in model.cells if c.maps_problem]
        if problems:  # a broken cell is known before any map is fitted
            dispose(window)
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            return _error(f"study {folder.path}: {problems[0]}{more}")
    if args.find is not None:
        problem = _find_point(model, args.find)
        if problem:
            dispose(window)
            return _error(problem)
    for _ in range(3):
        app.processEvents()
    return finish_headless(window, args.screenshot)
