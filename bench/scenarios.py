"""Imports every scenario module, so that their @scenario registrations run (in table order)."""

import bench.call
import bench.callapi
import bench.capacity
import bench.gateway
import bench.media
import bench.soak  # noqa: F401
