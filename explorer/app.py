"""``python -m explorer [RUN_DIR]`` / ``ccvae-explorer``: open the explorer on a run (default: the embedded one), or
on a study folder written by ``train_cli.py study`` (the comparison of its cells: ``explorer.study_app``).

``--screenshot out.png`` renders the populated window offscreen, writes the PNG and exits (how the README's
pictures are made); ``--exit-when-ready`` prints ``ready <seconds>`` once the window is populated and exits
(for bench/startup.py). Problems (not a run, a corrupt checkpoint, no display) end with one ``error: ...``
line on stderr and exit status 2, plus a dialog when a window could be shown.
"""
from __future__ import annotations

import argparse
import ctypes.util
import gc
import os
import sys
import time

_T0 = time.perf_counter()
XCB_PACKAGES = ("libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 "
                "libxcb-render-util0 libxcb-shape0 libegl1")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="ccvae-explorer", description="Explore what a CCVAE's latents captured.")
    p.add_argument("run_dir", nargs="?", default=None, help="run folder written by train_cli.py (default: the embedded model), or a "
                   "study folder (train_cli.py study): compare its cells")
    p.add_argument("--screenshot", metavar="PNG", help="render the populated window offscreen to PNG and exit")
    p.add_argument("--size", default=None,
                   help="window size WIDTHxHEIGHT (default: the last size used, else 1600x1000 shrunk to the screen)")
    p.add_argument("--exit-when-ready", action="store_true", help="print 'ready SECONDS' once populated and exit")
    p.add_argument("--colour-by", metavar="WHAT", help="colour the maps by WHAT, as the window's colour-by list "
                   "names it: label, prediction, confidence, misclassified (binary runs: ATTRIBUTE, "
                   "'ATTRIBUTE: probability', ...)")
    p.add_argument("--find", metavar="TEXT", help="as the find box: a point index (#12) becomes A, a class name "
                   "selects its points")
    p.add_argument("--add-images", nargs="+", metavar="IMAGE", help="encode these PNG/JPEG files and show them "
                   "as stars on both maps (the last one becomes A)")
    p.add_argument("--polarity", choices=("auto", "keep", "invert"), default="auto",
                   help="added images: match the run's images (auto), keep them, or invert them")
    p.add_argument("--select", metavar="MAP:X0,Y0,X1,Y1", help="select the points of map zc or style inside "
                   "this rectangle (map coordinates), as the rectangle tool does")
    args = p.parse_args(argv)
    args.width = args.height = None
    if args.size is not None:
        try:
            args.width, args.height = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            p.error(f"--size must look like 1600x1000, not {args.size!r}")
    elif args.screenshot:
        args.width, args.height = 1600, 1000  # pictures do not depend on what the last session left behind
    args.select_rect = None
    if args.select is not None:
        try:
            name, numbers = args.select.split(":")
            x0, y0, x1, y1 = (float(v) for v in numbers.split(","))
            if name not in ("zc", "style"):
                raise ValueError
        except ValueError:
            p.error(f"--select must look like zc:-2,0,5,6 (map zc or style, then x0,y0,x1,y1), not {args.select!r}")
        args.select_rect = (name, (x0, y0), (x1, y1))
    return args


def _apply_view_options(window, args) -> str | None:
    """--colour-by, --select and --find on a populated window; returns an error line, or None."""
    model = window.model
    if args.add_images:
        from explorer.own_images import ImageReadError

        model.add_polarity = args.polarity
        try:
            added = model.add_images(args.add_images)
        except ImageReadError as e:
            return str(e)
        model.select_a(added[-1].index)
    if args.colour_by is not None:
        texts = [text for _, _, text in model.colour_options()]
        if args.colour_by not in texts:
            return f"--colour-by {args.colour_by!r}: this run can be coloured by {', '.join(texts)}"
        window.colour_by.setCurrentIndex(texts.index(args.colour_by))
    if args.select_rect is not None:
        from explorer.points import rectangle

        name, a, b = args.select_rect
        model.select_region(name, rectangle(a, b))
    if args.find is not None:
        answer = model.find(args.find)
        if answer.startswith(("no point", "nothing called")):
            return f"--find: {answer}"
    return None


def display_problem() -> str | None:
    """Why Qt could not open a window here (Linux), or None. Catches what would otherwise be Qt's abort."""
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0]
    if platform and platform not in ("xcb", "wayland", "wayland-egl"):
        return None  # offscreen, minimal, vnc, eglfs...: Qt needs no display server
    has_x, has_wayland = bool(os.environ.get("DISPLAY")), bool(os.environ.get("WAYLAND_DISPLAY"))
    if (platform == "xcb" and not has_x) or (platform.startswith("wayland") and not has_wayland) \
            or (not platform and not (has_x or has_wayland)):
        return ("no display found (DISPLAY and WAYLAND_DISPLAY are unset): run it on a desktop or under xvfb-run, "
                "or use --screenshot out.png, which renders offscreen")
    uses_xcb = platform == "xcb" or (not platform and not has_wayland)
    if uses_xcb and ctypes.util.find_library("xcb-cursor") is None:
        return f"Qt's X11 platform needs libxcb-cursor0; on Debian/Ubuntu: apt-get install {XCB_PACKAGES}"
    return None


def _quiet_offscreen_warnings() -> None:
    """The offscreen platform warns about every window it cannot size for a window manager; drop that line."""
    from PyQt6.QtCore import qInstallMessageHandler

    def handler(_mode, _context, message):
        if "propagateSizeHints" not in message:
            sys.stderr.write(message + "\n")

    qInstallMessageHandler(handler)


def dispose(window) -> None:
    """Close ``window`` and delete its Qt side now, while the application object still lives: left to Python's
    teardown, the window and the application were destroyed in either order, and the process sometimes ended in a
    segmentation fault after its work was done (exit status 139 in 2 of 10 runs of --exit-when-ready on an X server
    with start-up's objects frozen, 1 of 16 without)."""
    from PyQt6 import sip

    window.close()
    if not sip.isdeleted(window):
        sip.delete(window)


def keep_gc_pauses_short() -> None:
    """Put what start-up made (modules, torch, Qt's wrappers, the run: about 225,000 objects) out of the cyclic
    collector's reach. A full collection over them took about 100 ms, and one falling in the window thread mid-paint
    was the longest stall while watching a run train (bench/live_watch.py: 97-168 ms, 47-83 ms frozen); objects
    made later are still collected."""
    gc.collect()
    gc.freeze()


def _error(message: str) -> int:
    """One ``error: ...`` line on stderr; the exit status of a run refused for bad input."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def _stage_demo(window) -> None:
    """For screenshots: A and B of different classes, a label swap and their interpolation path on the maps."""
    import numpy as np

    from core.class_stats import class_stats

    model = window.model
    lat, spec = model.run.latents, model.label_spec
    groups = model.colour_groups()
    a = 0
    if spec.is_multiclass:  # a typical point: nearest to the centre of its class (the classifier's verdicts)
        pred = lat.probs.argmax(axis=1)
        loc, scale = class_stats(lat.z_c, pred, spec.size)
        a = int(np.argmin(np.linalg.norm((lat.z_c - loc[pred]) / scale[pred], axis=1)))
    others = np.flatnonzero((groups != groups[a]) & model.labelled)  # B of a class: the swap targets its class
    b = int(others[0]) if len(others) else min(1, len(lat) - 1)
    model.select_a(a)
    model.select_b(b)
    if spec.is_multiclass:
        window.swap_panel.target.setCurrentIndex(int(groups[b]))
    window.swap_panel.apply_swap()
    model.ensure_interpolation()
    model.compute_walk()


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    problem = display_problem()
    if problem:
        return _error(problem)

    kind = "run"
    if args.run_dir is not None:  # a study folder opens the comparison of its cells (explorer.study_app)
        from core.study.folder import folder_kind

        kind = folder_kind(args.run_dir)
        if kind == "study":
            from explorer.study_app import study_main

            return study_main(args)
    from explorer.rundata import RunData, RunOpenError  # torch and the model: after the cheap checks

    from explorer.live import is_training_folder

    watch = None  # a run folder in training (no points written yet): the window watches it train
    try:
        run = RunData.open(args.run_dir)
    except RunOpenError as e:
        message = str(e)
        if kind is None and os.path.isdir(args.run_dir):
            message = (f"{args.run_dir}: neither a run folder (no config.json) nor a study folder (no study.json) "
                       f"written by train_cli.py")
        run = None
        if args.run_dir is not None and is_training_folder(args.run_dir):
            if args.screenshot or args.exit_when_ready:
                message = (f"{args.run_dir}: no latents.npz yet (the run is training, or stopped before its end); "
                           f"open it without --screenshot to watch it train, or run `ccvae-train latents "
                           f"{args.run_dir}`")
            else:
                watch = args.run_dir
    from PyQt6.QtCore import QEventLoop, Qt, QTimer
    from PyQt6.QtWidgets import QApplication, QMessageBox

    _quiet_offscreen_warnings()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ccvae-explorer")
    if run is None and watch is None:
        if not args.screenshot and not args.exit_when_ready:
            QMessageBox.critical(None, "CCVAE explorer", message)
        return _error(message)

    from explorer.main_window import MainWindow

    window = MainWindow(remember_layout=not args.screenshot)  # a picture is the same whatever the user saved
    if args.width is not None:
        window.resize(args.width, args.height)
    if watch is not None:
        window.watch(watch)
    else:
        window.show_run(run)
    window.show()
    keep_gc_pauses_short()
    if not (args.screenshot or args.exit_when_ready):
        def apply_once() -> None:  # the options need the maps; a problem is a dialog and the window stays
            problem = _apply_view_options(window, args)
            if problem:
                print(f"error: {problem}", file=sys.stderr)
                window.report_error(problem)

        if window.is_ready:
            QTimer.singleShot(0, apply_once)
        else:
            window.ready.connect(apply_once, Qt.ConnectionType.SingleShotConnection)
        status = app.exec()
        dispose(window)
        return status

    failure: list[str] = []
    if not window.is_ready:  # maps are being computed: wait for them (or for the worker to fail)
        loop = QEventLoop()
        window.ready.connect(loop.quit)
        if window.worker is not None:
            window.worker.failed.connect(lambda m: (failure.append(m), loop.quit()))
        window.report_error = lambda m: failure.append(m)
        loop.exec()
    if failure:
        dispose(window)
        return _error(failure[0])
    if args.screenshot:
        _stage_demo(window)
    problem = _apply_view_options(window, args)
    if problem:
        dispose(window)
        return _error(problem)
    for _ in range(3):
        app.processEvents()
    QTimer.singleShot(0, lambda: None)
    app.processEvents()
    return finish_headless(window, args.screenshot)


def finish_headless(window, screenshot: str | None) -> int:
    """End a headless run: write ``screenshot`` (or print how long the window took to be ready), close the window,
    return the exit status. The run explorer and the study comparison both end here."""
    status = 0
    if screenshot:
        from explorer.export import grab_widget

        try:
            grab_widget(window, screenshot)
            print(f"wrote {screenshot}")
        except OSError as e:
            status = _error(str(e))
    else:
        print(f"ready {time.perf_counter() - _T0:.2f}", flush=True)
    dispose(window)
    return status
