"""One fixture for the tests of encrypted libraries: import it into a test module to apply it to every test there
(``from keyring_isolation import isolated_keys  # noqa: F401``)."""
from __future__ import annotations

import pytest

from workbench.storage.keyring import forget_unlocked


@pytest.fixture(autouse=True)
def isolated_keys(tmp_path, monkeypatch):
    """Each test: its own private decrypted-file cache, no passphrase in the environment, nothing unlocked."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for var in ("WORKBENCH_PASSPHRASE", "WORKBENCH_PASSPHRASE_FILE", "WORKBENCH_NEW_PASSPHRASE"):
        monkeypatch.delenv(var, raising=False)
    forget_unlocked()
    yield
    forget_unlocked()
