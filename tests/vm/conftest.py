"""The VM tier: on the host, ``test_vm.py`` boots the guest; ``guest/`` runs only inside it."""

from __future__ import annotations

import os

# The guest's tests need the guest's engines; on the host they are run through the VM.
collect_ignore = [] if os.environ.get("STACKMEDIC_VM_SETUP") else ["guest"]
