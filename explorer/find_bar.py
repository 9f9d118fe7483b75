"""The tool bar above the maps: what a left drag does (pan, lasso, rectangle), the filter that dims all but one
class or attribute, and the search box (a point index or a class name). It draws the model's state and calls
the model's methods; it keeps nothing of its own."""
from __future__ import annotations

from PyQt6.QtGui import QAction, QActionGroup
from PyQt6.QtWidgets import QComboBox, QLabel, QLineEdit, QToolBar, QToolButton

from explorer.model import Tool
from explorer.qt_adapter import QtModel

TOOL_TEXT = {Tool.PAN: ("Pan", "P", "A left drag pans the map (the wheel zooms)"),
             Tool.LASSO: ("Lasso", "L", "A left drag draws a lasso: the points inside are selected on both maps "
                                        "(shift: add to the selection, alt: remove; Esc clears it)"),
             Tool.RECTANGLE: ("Rectangle", "R", "A left drag draws a rectangle: the points inside are selected on "
                                                "both maps (shift: add, alt: remove; Esc clears it)")}


class FindBar(QToolBar):
    def __init__(self, qt_model: QtModel, parent=None):
        super().__init__("Select and find", parent)
        self.setObjectName("find_bar")
        self.setMovable(False)
        self.model = qt_model.model
        self.tool_actions: dict[Tool, QAction] = {}
        group = QActionGroup(self)
        group.setExclusive(True)
        self.addWidget(QLabel(" drag: "))
        for tool, (text, key, tip) in TOOL_TEXT.items():
            action = QAction(text, self)
            action.setCheckable(True)
            action.setToolTip(f"{tip} ({key})")
            action.triggered.connect(lambda _=False, t=tool: self.model.set_tool(t))
            group.addAction(action)
            self.addAction(action)
            self.tool_actions[tool] = action
        self.addSeparator()
        self.addWidget(QLabel(" filter: "))
        self.filter = QComboBox()
        self.filter.setToolTip("Keep one class (or the images with one attribute) bright and dim the others")
        self.addWidget(self.filter)
        self.addSeparator()
        self.addWidget(QLabel(" find: "))
        self.search = QLineEdit()
        self.search.setPlaceholderText("#index or class")
        self.search.setClearButtonEnabled(True)
        self.search.setMaximumWidth(200)
        self.search.setToolTip("A point index (#12) makes it A; a class or attribute name (7, class 7, Smiling) "
                               "selects its points. Both maps centre on what was found (Ctrl+F)")
        self.addWidget(self.search)
        self.answer = QLabel()
        self.answer.setStyleSheet("color: #606060;")
        self.addWidget(self.answer)

        self.filter.currentIndexChanged.connect(lambda i: self.model.set_filter(i - 1 if i > 0 else None))
        self.search.returnPressed.connect(self._find)
        qt_model.runLoaded.connect(self._on_run_loaded)
        qt_model.toolChanged.connect(self._show_tool)
        qt_model.colouringChanged.connect(self._show_filter)
        self._show_tool()
        for button in self.findChildren(QToolButton):  # Qt's own buttons: the search's clear and the overflow
            if not button.toolTip():
                button.setToolTip("Clear the search" if isinstance(button.parent(), QLineEdit)
                                  else "More of this tool bar")

    @staticmethod
    def tool_keys():
        return [(tool, key) for tool, (_, key, _) in TOOL_TEXT.items()]

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _find(self) -> None:
        self.answer.setText(" " + self.model.find(self.search.text()))

    def _on_run_loaded(self) -> None:
        self.filter.blockSignals(True)
        self.filter.clear()
        self.filter.addItems(["(none)"] + self.model.filter_options())
        self.filter.blockSignals(False)
        self.answer.setText("")
        self._show_filter()

    def _show_tool(self) -> None:
        self.tool_actions[self.model.tool].setChecked(True)

    def _show_filter(self) -> None:
        index = 0 if self.model.filter is None else self.model.filter + 1
        if self.filter.currentIndex() != index:
            self.filter.blockSignals(True)
            self.filter.setCurrentIndex(index)
            self.filter.blockSignals(False)
