"""Several controllers per media node: N media-controller processes, each with its own mediasoup
service (its worker(s)) and its own UDP port range, so every core of the node carries media and
one process dying ends only its own calls.

node = start_media_node(tmp_path, controllers=2)   # node.controller_urls, node.stop()
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from voicebot_stack.media import MediaStack, start_media_stack

RTC_PORT_BASE = 10000  # mediasoup's own lowest; 8 controllers stay below Linux's ephemeral ports (32768+)
RTC_PORTS_PER_CONTROLLER = 2500  # 4 transports per call: room for 625 calls


def default_controllers() -> int:
    """One controller process per core."""
    return max(1, os.cpu_count() or 1)


def rtc_ports_of(
    index: int, base: int = RTC_PORT_BASE, span: int = RTC_PORTS_PER_CONTROLLER
) -> tuple[int, int]:
    """The UDP port range of the node's controller number `index` (from 0)."""
    low = base + index * span
    return low, low + span - 1


@dataclass
class MediaNode:
    stacks: list[MediaStack]

    @property
    def controller_urls(self) -> list[str]:
        return [stack.controller_url for stack in self.stacks]

    def stop(self) -> None:
        for stack in self.stacks:
            stack.stop()


def start_media_node(
    tmp_path: Path,
    *,
    controllers: int | None = None,
    workers_per_controller: int = 1,
    controller_env: Mapping[str, str] | None = None,
    rtc_port_base: int = RTC_PORT_BASE,
    timeout: float = 30.0,
) -> MediaNode:
    """`controllers` (default: one per core) media-controller + mediasoup service pairs."""
    count = controllers or default_controllers()
    stacks: list[MediaStack] = []
    try:
        for index in range(count):
            stacks.append(
                start_media_stack(
                    tmp_path,
                    workers=workers_per_controller,
                    controller_env=controller_env,
                    timeout=timeout,
                    rtc_ports=rtc_ports_of(index, rtc_port_base),
                    log_name=f"media-logs-{index + 1}",
                )
            )
    except BaseException:
        for stack in stacks:
            stack.stop()
        raise
    return MediaNode(stacks)
