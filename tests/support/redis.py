"""A real redis-server on a free loopback port: voicebot_stack's, re-exported for the tests."""

from voicebot_stack.probes import redis_ping
from voicebot_stack.redis import RedisServer

__all__ = ["RedisServer", "redis_ping"]
