"""Notifications of the mediasoup service (service → every connected controller), typed."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True)


class BargeInData(_Data):
    call_id: str
    volume: float  # dBov
    at_ms: float  # epoch ms


class SessionFailedData(_Data):
    call_id: str
    reason: str


class WorkerDiedData(_Data):
    pid: int
    replacement_pid: int | None  # null: the replacement could not be started (yet)


class BargeInNotification(BaseModel):
    notification: Literal["barge_in_detected"]
    data: BargeInData


class SessionFailedNotification(BaseModel):
    notification: Literal["session_failed"]
    data: SessionFailedData


class WorkerDiedNotification(BaseModel):
    notification: Literal["worker_died"]
    data: WorkerDiedData


TypedNotification = Annotated[
    BargeInNotification | SessionFailedNotification | WorkerDiedNotification,
    Field(discriminator="notification"),
]
typed_notification_adapter: TypeAdapter[TypedNotification] = TypeAdapter(TypedNotification)
