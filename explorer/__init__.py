"""ccvae-explorer's desktop GUI (PyQt6 + pyqtgraph) over the Qt-free inference engine in ``core``.

Open it with ``python -m explorer [RUN_DIR]`` or the ``ccvae-explorer`` console script. ``explorer.model`` (the
one state every view renders) and ``explorer.rundata`` are Qt-free; the widgets subscribe to the model through
``explorer.qt_adapter`` and only draw it.
"""
