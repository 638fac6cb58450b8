"""The media-controller registry in Redis: how call-api finds the controllers of a cluster.

Each controller writes its own record under `REGISTRY_PREFIX + controller_id` with `SET ... PX ttl`
(and its id into the set REGISTRY_INDEX) every heartbeat and whenever its session count or draining
flag changes; a controller that dies leaves the registry when its key expires (call-api drops the
expired ids from the index). call-api reads the index's records and places a new call on the
least-loaded live controller that is not draining and has room (docs/architecture.md, "Many media
nodes")."""

from pydantic import BaseModel, ConfigDict, Field

REGISTRY_PREFIX = "voicebot:media:controller:"
REGISTRY_INDEX = "voicebot:media:controllers"  # a set of controller ids


class ControllerRecord(BaseModel):
    """One controller's registry record (the value of its key, JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    controller_id: str = Field(min_length=1)  # unique in the cluster, e.g. <node>:<port>
    url: str = Field(min_length=1)  # its own reachable base URL: call-api pins the call's requests to it
    capacity: int = Field(ge=1)  # MEDIA_CONTROLLER_MAX_SESSIONS
    sessions: int = Field(ge=0)  # open sessions at the heartbeat
    draining: bool = False  # stopping: takes no new sessions
    heartbeat_seconds: float = Field(gt=0)  # how often it is rewritten (its key's TTL is longer)

    @property
    def free(self) -> int:
        return max(self.capacity - self.sessions, 0)

    @property
    def load(self) -> float:
        return self.sessions / self.capacity

    def to_json(self) -> str:
        return self.model_dump_json()


def registry_key(controller_id: str) -> str:
    return REGISTRY_PREFIX + controller_id
