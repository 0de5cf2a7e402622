"""Test-session setup shared by every test directory.

Hypothesis profiles (pick one with ``HYPOTHESIS_PROFILE``; ``ci`` is the default
when ``CI`` is set, ``dev`` otherwise):

* ``dev`` - 30 examples, fast enough to run on every save;
* ``ci`` - 60 examples, no deadline (shared runners stall), and a reproduction
  blob printed with every failure so it can be replayed locally;
* ``thorough`` - 1000 examples, for a soak before a release.

The core's whole-state contracts (every invariant before and after each
``decide``) are switched on for the whole test session.
"""

from __future__ import annotations

import os

from hypothesis import settings

import orch_core

settings.register_profile("dev", max_examples=30)
settings.register_profile("ci", max_examples=60, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

orch_core.enable_expensive_contracts()
