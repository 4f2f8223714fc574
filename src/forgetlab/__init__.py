"""forgetlab: measure, explain and undo catastrophic forgetting via implicit inference."""

__version__ = "0.1.0"
