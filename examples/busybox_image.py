"""Make the image the example container tasks start from, `busybox:1.35`, without a registry: Debian's static
busybox 1.35 (apt-get install busybox-static) in an otherwise empty root file system, imported with
`docker import`. Where Docker Hub is reachable, `docker pull busybox:1.35` gives the same tools instead.
Adds /bin/bash as a wrapper of busybox's sh: Harbor runs the tasks' tests.sh scripts with bash.

    python examples/busybox_image.py [TAG]     (default busybox:1.35; nothing is done if the image exists)
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile

TAG = "busybox:1.35"


def build(tag: str = TAG) -> None:
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0:
        return
    busybox = shutil.which("busybox") or "/bin/busybox"
    if subprocess.run(["ldd", busybox], capture_output=True).returncode == 0:  # dynamically linked
        raise SystemExit(f"{busybox} is not static: apt-get install busybox-static")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for directory in ("bin", "tmp", "app", "etc", "root", "logs"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, "bin/busybox")
        for applet in applets:
            if applet != "busybox":
                info = tarfile.TarInfo(f"bin/{applet}")
                info.type, info.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(info)
        for name, content, mode in (("bin/bash", b'#!/bin/sh\nexec /bin/sh "$@"\n', 0o755),
                                    ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), mode
            tar.addfile(info, io.BytesIO(content))
    subprocess.run(["docker", "import", "-c", "ENV PATH=/bin", "-", tag], input=archive.getvalue(), check=True,
                   capture_output=True)


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else TAG)
