import json
import subprocess
import sys

# In a process of its own: freezing is for the whole interpreter (and would stay in pytest's).
_SCRIPT = """
import gc, json, weakref
from voicebot_tracing.gc_pauses import freeze_startup
class Node:
    pass
cycle = Node()
cycle.me = cycle  # garbage only a collection frees
dead = weakref.ref(cycle)
del cycle
kept = [Node() for _ in range(50_000)]
before = len(gc.get_objects())
frozen = freeze_startup()
tracked = len(gc.get_objects())
print(json.dumps({"before": before, "frozen": frozen, "tracked": tracked, "cycle_freed": dead() is None}))
"""


def test_startup_objects_are_out_of_the_full_collections_reach() -> None:
    command = [sys.executable, "-c", _SCRIPT]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    figures = json.loads(out.stdout)
    assert figures["frozen"] >= 50_000  # the long-lived objects ...
    assert figures["tracked"] < figures["before"] - 50_000  # ... a full collection no longer walks
    assert figures["cycle_freed"]  # garbage was collected first, not frozen for ever
