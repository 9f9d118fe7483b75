"""The classifier bars draw every name whole: the strongest row is bold, and a bold name measured in the regular
font used to run off the left edge ("ircle", "-shirt/top")."""
import numpy as np
from PyQt6.QtGui import QColor


def _dark_columns(widget) -> np.ndarray:
    image = widget.grab().toImage()
    w, h = image.width(), image.height()
    dark = np.zeros(w, dtype=bool)
    for x in range(w):
        dark[x] = any(QColor(image.pixel(x, y)).lightness() < 100 for y in range(h))
    return dark


def test_bold_and_long_names_stay_inside_the_widget(qtbot):
    from explorer.widgets import ProbBars, label_colours

    for names, values, multiclass in ((["T-shirt/top", "Trouser", "Bag"], [0.8, 0.1, 0.1], True),
                                      (["red", "circle", "large"], [0.99, 0.58, 0.0], False),
                                      (["a very long attribute name indeed", "x"], [0.9, 0.1], False)):
        bars = ProbBars()
        qtbot.addWidget(bars)
        bars.configure(names, label_colours(len(names)), multiclass)
        bars.set_values(values)
        bars.resize(300, bars.height())
        dark = _dark_columns(bars)
        assert not dark[:2].any(), names  # nothing drawn against the left edge: no name cut off there
        assert dark.any()
