"""The sandbox's first process: isolate, apply limits, then exec the program (see sandbox.py).

    python -S child.py '{"isolate": true, "workdir": ..., "limits": {...}}' python -s main.py

Run by path with only the standard library (no site, no package import), so that it costs little and
cannot be redirected by the environment. With "isolate", it enters new user, network, mount and PID
namespaces: no network (loopback is down), the whole file tree read-only except the work dir, a /proc
that shows only the sandbox's own processes, and every process killed when the program exits.
`--probe` tries the isolation and exits 0, or 1 with the reason on stdout.
"""

import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
MOUNT_ATTR_RDONLY, AT_RECURSIVE, AT_FDCWD, SYS_MOUNT_SETATTR = 0x1, 0x8000, -100, 442
PR_SET_PDEATHSIG = 1

libc = ctypes.CDLL(None, use_errno=True)


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def write(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def set_readonly(path, recursive, readonly):
    attr = MountAttr(MOUNT_ATTR_RDONLY if readonly else 0, 0 if readonly else MOUNT_ATTR_RDONLY, 0, 0)
    flags = AT_RECURSIVE if recursive else 0
    check(libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), flags, ctypes.byref(attr),
                       ctypes.sizeof(attr)), f"mount_setattr {path}")


def isolate(workdir):
    """New namespaces; the tree read-only but workdir. The PID namespace applies to our children."""
    uid, gid = os.getuid(), os.getgid()
    check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID), "unshare")
    write("/proc/self/setgroups", "deny")
    # never root inside: exec then drops the namespace's capabilities, so no mount can be undone
    write("/proc/self/uid_map", f"{uid or 1000} {uid} 1")
    write("/proc/self/gid_map", f"{gid or 1000} {gid} 1")
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount private /")
    check(libc.mount(workdir.encode(), workdir.encode(), None, MS_BIND | MS_REC, None), "bind workdir")
    set_readonly("/", recursive=True, readonly=True)
    set_readonly(workdir, recursive=False, readonly=False)


def mount_proc():
    """A /proc of the new PID namespace: the parent's environment (API keys) and processes stay out of sight."""
    if libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) != 0:
        # some containers forbid a new proc; an empty one is still better than the host's
        check(libc.mount(b"tmpfs", b"/proc", b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, b"size=4k"), "mount /proc")


def apply_limits(limits):
    for name, value in (("RLIMIT_CPU", limits["cpu_seconds"]), ("RLIMIT_AS", limits["memory_bytes"]),
                        ("RLIMIT_FSIZE", limits["file_bytes"]), ("RLIMIT_NPROC", limits["processes"]),
                        ("RLIMIT_CORE", 0)):
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError):
            pass  # best effort (e.g. a hard limit already lower)


def exit_like(status):
    """Leave with the child's exit status, or die of the same signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def main():
    if sys.argv[1] == "--probe":
        try:
            isolate(sys.argv[2])
        except OSError as exc:
            print(exc.strerror or exc)
            os._exit(1)
        os._exit(0)
    spec, command = json.loads(sys.argv[1]), sys.argv[2:]
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the engine died: so do we
    if spec["isolate"]:
        isolate(spec["workdir"])
        status_read, status_write = os.pipe()  # pid 1 reports the program's wait status
        init_pid = os.fork()  # pid 1 of the new namespace: when it exits, the kernel kills all it left behind
        if init_pid:
            os.close(status_write)
            signal.signal(signal.SIGTERM, lambda *_: os.kill(init_pid, signal.SIGKILL))
            init_status = os.waitpid(init_pid, 0)[1]
            reported = os.read(status_read, 64)
            exit_like(int(reported) if reported else init_status)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        mount_proc()
        # the program is pid 2: pid 1 ignores the signals it would send itself (e.g. os.kill(getpid()))
        program_pid = os.fork()
        if program_pid:
            os.write(status_write, str(os.waitpid(program_pid, 0)[1]).encode())
            os._exit(0)
    apply_limits(spec["limits"])
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
