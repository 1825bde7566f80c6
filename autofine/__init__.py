"""autofine: automated detection-to-fine computer vision with humans in control."""

__version__ = "0.1.0"
