"""The whole back end on loopback: voicebot_stack's, re-exported for the tests."""

from voicebot_stack.fullstack import REAL_FACTORY, FullStack, start_full_stack

__all__ = ["REAL_FACTORY", "FullStack", "start_full_stack"]
