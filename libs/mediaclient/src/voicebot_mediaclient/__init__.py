"""The media-controller's client, as call-api's Orchestrator uses it."""

from voicebot_mediaclient.client import MediaClient
from voicebot_mediaclient.errors import MediaCapacity, MediaRequestError, MediaUnavailable
from voicebot_mediaclient.session import MediaSession

__all__ = ["MediaCapacity", "MediaClient", "MediaRequestError", "MediaSession", "MediaUnavailable"]
