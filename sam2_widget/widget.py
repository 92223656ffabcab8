"""The front door: ``Sam2Widget(source)`` returns the widget for the source, ``Sam2Widget.load_session(path)``
the widget the file was saved from.

* ``Sam2Widget`` (_base.py): what both widgets share (the worker thread, the Python API,
  ``on_change``, autosave), built on the synced traits (front_end.py) and the message
  dispatch with acks and errors (message_dispatch.py); the option checks and the model
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
