"""The front door: ``Sam2Widget(source)`` returns the widget for the source, ``Sam2Widget.load_session(path)``
the widget the file was saved from.

* ``Sam2Widget`` (_base.py): what both widgets share (traits, the worker thread, message
  dispatch with acks and errors, ``on_change``, autosave); the option checks and the model
  are in _options.py.
* ``Sam2ImageWidget`` (image_widget.py): an image or a set of images.
* ``Sam2VideoWidget`` (video_widget.py): a clip, with a timeline and tracking.

Both are subclasses of ``Sam2Widget``, so ``isinstance(w, Sam2Widget)`` holds for either;
neither imports the other, and ``Sam2Widget`` finds them as its subclasses once both are
imported here.
"""

from ._base import Sam2Widget
from .image_widget import Sam2ImageWidget
from .video_widget import Sam2VideoWidget

__all__ = ["Sam2ImageWidget", "Sam2VideoWidget", "Sam2Widget"]
