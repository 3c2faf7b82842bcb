"""What happened in the world, in order, for GET /_sim/timeline.

Not an AWS behaviour: a test's way to see when each step of a deploy
happened (instance launched, registered, task placed, pulled, running,
healthy, …) and so check order and durations against the timing profile.
Thread-safe on its own lock: the app servers report their first /docs 200
from their own threads, outside the world lock.

Events (name: id; detail):
  instance-launch       instance id; {"instanceType"}
  launch-failed         group name (null for RunInstances); {"code", "message"}
  instance-running      instance id
  instance-registered   instance id; {"cluster", "containerInstanceArn", "capacityProviderName"}
  scale                 group name; {"provider", "from", "to", "reservation"}
  task-created          task id; {"deployment", "capacityProvider"}
  task-placed           task id; {"instanceId", "containerInstanceArn"}
  task-pulling          task id
  task-running          task id
  task-healthy          task id; {"deployment"}
  task-stopped          task id; {"stopCode", "stoppedReason"}
  target-healthy        task id; {"targetGroupArn", "target", "port"}
  target-draining       task id; {"targetGroupArn", "target", "port", "seconds"}
  deployment-created    deployment id; {"service"}
  deployment-completed  deployment id; {"service"}
  lb-active             load balancer ARN
  docs-200              task id; the app's first 200 answer to GET /docs
"""

import threading
import time


class Timeline:
    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self._epoch = time.monotonic()
            self._events = []

    def add(self, event, ident, detail=None):
        with self._lock:
            self._events.append({"t": round(time.monotonic() - self._epoch, 3), "event": event, "id": ident,
                                 "detail": detail})

    def events(self):
        with self._lock:
            return list(self._events)
