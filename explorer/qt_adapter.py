"""The thin boundary between the Qt-free ``ExplorerModel`` and the widgets: each model event re-emitted as a Qt
signal, so widgets connect the usual way (and Qt disconnects them when a widget is destroyed).

Widgets take a ``QtModel``, read ``qt_model.model`` and only draw what they read; they call the model's methods
for anything the user does.
"""
from __future__ import annotations

from PyQt6.QtCore import QObject, pyqtSignal

from explorer.model import ExplorerModel


class QtModel(QObject):
    runLoaded = pyqtSignal()
    mapsReady = pyqtSignal()
    hoverChanged = pyqtSignal(int)
    selectionChanged = pyqtSignal()
    colouringChanged = pyqtSignal()
    currentChanged = pyqtSignal()
    interventionChanged = pyqtSignal()
    interpolationChanged = pyqtSignal()
    frameChanged = pyqtSignal()
    playingChanged = pyqtSignal()
    walkChanged = pyqtSignal()
    message = pyqtSignal(str)
    selectedChanged = pyqtSignal()
    toolChanged = pyqtSignal()
    centreRequested = pyqtSignal(object)  # {map name: (x, y)}
    pointsAdded = pyqtSignal()
    trainingChanged = pyqtSignal()

    def __init__(self, model: ExplorerModel | None = None, parent=None):
        super().__init__(parent)
        self.model = model if model is not None else ExplorerModel()
        e = self.model.events
        for event, signal in ((e.run_loaded, self.runLoaded), (e.maps_ready, self.mapsReady),
                              (e.hover, self.hoverChanged), (e.selection, self.selectionChanged),
                              (e.colouring, self.colouringChanged), (e.current, self.currentChanged),
                              (e.intervention, self.interventionChanged),
                              (e.interpolation, self.interpolationChanged), (e.frame, self.frameChanged),
                              (e.playing, self.playingChanged), (e.walk, self.walkChanged), (e.message, self.message),
                              (e.selected, self.selectedChanged), (e.tool, self.toolChanged),
                              (e.centre, self.centreRequested), (e.points_added, self.pointsAdded),
                              (e.training, self.trainingChanged)):
            event.connect(signal.emit)
