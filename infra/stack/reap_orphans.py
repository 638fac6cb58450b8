"""A supervisord event listener: when a program exits on its own, kill what is left of its process
group (systemd's KillMode=control-group; a container's PID 1 exiting does the same).

Without it, an nginx or gunicorn master killed from outside leaves its workers behind, still
holding the listening port, and the restarted master can never bind it. supervisord starts each
program as the leader of its own process group, so the group id is the dead program's pid."""

import os
import signal
import sys

from supervisor import childutils


def main() -> None:
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        if headers["eventname"] == "PROCESS_STATE_EXITED":
            process, _ = childutils.eventdata(payload + "\n")
            try:
                os.killpg(int(process["pid"]), signal.SIGKILL)
                print(
                    f"killed the rest of {process['processname']}'s group {process['pid']}", file=sys.stderr
                )
            except ProcessLookupError:
                pass  # nothing was left
        childutils.listener.ok(sys.stdout)


if __name__ == "__main__":
    main()
