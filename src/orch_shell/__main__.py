"""``python -m orch_shell``: the same CLI as the ``orch`` script, without needing it on PATH."""

from orch_shell.cli import main

raise SystemExit(main())
