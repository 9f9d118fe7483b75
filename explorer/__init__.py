"""ccvae-explorer's desktop GUI (PyQt6 + pyqtgraph) over the Qt-free inference engine in ``core``.

Open it with ``python -m explorer [RUN_DIR]`` or the ``ccvae-explorer`` console script. The Qt-free helpers
(``rundata``, ``placement``, ``imaging``) can be used without a display; everything else needs Qt.
"""
