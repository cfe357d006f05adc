"""A directory laid out and updated as the kubelet does a Kubernetes secret volume, for tests.

`key -> ..data/key`, `..data -> ..<version>/`; an update writes a new version directory and
swaps `..data` in one rename, so a reader sees the old files or the new ones, never a mix.
"""

import os
from pathlib import Path


class SecretVolume:
    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.versions = 0

    def path(self, key: str) -> Path:
        """Where a service reads `key` (the symlink through `..data`)."""
        return self.root / key

    def current(self, key: str) -> Path:
        """The real file behind `key` in the newest version."""
        return self.root / f"..version_{self.versions:03d}" / key

    def write(self, **files: str) -> None:
        """A new version holding exactly these keys (as an updated Secret would)."""
        self.versions += 1
        version = self.root / f"..version_{self.versions:03d}"
        version.mkdir()
        for key, text in files.items():
            (version / key).write_text(text)
            link = self.path(key)
            if not link.is_symlink():
                link.symlink_to(Path("..data") / key)
        staged = self.root / "..data_tmp"
        staged.symlink_to(version.name)
        os.replace(staged, self.root / "..data")  # the atomic swap
