"""Run in the sandbox for the Python tool: a conversation's earlier cells, then its new cell, as IPython would.

    python main.py        (its directory holds session.json: {"history": [...], "code": "...", "timeout": 10.0,
                                                              "grace": 0.5})

Standard library only: it runs with the sandbox's interpreter, by path. The earlier cells (those that completed)
run first with their output discarded, restoring the session's state; if one fails now, it prints the
reference's restoration error and exits with RESTORE_FAILED. The new cell runs under an alarm at `timeout` that
raises KeyboardInterrupt, as the reference's SIGINT to its IPython shell does; a watchdog process ends it with
SIGUSR1 after the grace the reference gives the interrupt (code that never returns to the interpreter).
The value of a last bare expression is printed as IPython's displayhook prints it (its repr; nothing for None
or after a trailing ";"). An exception prints a Plain-mode traceback on stdout, without the cells' own `File`
lines (what the reference's postprocess_output leaves of IPython's), and exits with CELL_FAILED (TIMED_OUT
when the alarm raised it).
"""

import ast
import json
import linecache
import os
import signal
import sys
import time
import traceback

CELL = "<cell-{}>"  # each cell's file name, its source in linecache for tracebacks
CELL_FAILED, RESTORE_FAILED, TIMED_OUT = 97, 98, 99
# nemo_skills/code_execution/sandbox.py (NVIDIA/NeMo-Skills 0b012df8), execute_code's restoration failure
RESTORE_MESSAGE = ("RuntimeError: Sandbox state restoration failed after the execution worker restarted. "
                   "The interactive session history has been cleared; please re-run the last code block without "
                   "relying on prior state.\n")


def run_cell(number, code, namespace):
    name = CELL.format(number)
    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    tree = ast.parse(code, name)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not code.rstrip().endswith(";"):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, name, "exec"), namespace)
    if last is not None:
        value = eval(compile(last, name, "eval"), namespace)
        if value is not None:
            namespace["_"] = value
            print(repr(value))


def print_traceback(error):
    """IPython's Plain traceback after postprocess_output: the cell's frames show their line only."""
    if isinstance(error, SyntaxError):
        lines = traceback.format_exception_only(type(error), error)
        text = "".join(line for line in lines if not line.startswith('  File "<cell-'))
        sys.stdout.write("".join(line.rstrip() + "\n" for line in text.splitlines()))  # IPython strips the source
        return
    out = ["Traceback (most recent call last):\n"]
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == __file__ or frame.filename == os.path.abspath(sys.argv[0]):
            continue  # this runner's own frames
        if not frame.filename.startswith("<cell-"):
            out.append(f"  File {frame.filename}:{frame.lineno}, in {frame.name}\n")
        if frame.line:
            out.append(f"    {frame.line.strip()}\n")
    out.extend(traceback.format_exception_only(type(error), error))
    sys.stdout.write("".join(out))


def interrupt(signum, frame):
    INTERRUPTED.append(signum)
    raise KeyboardInterrupt


def main():
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    stdout, stderr = sys.stdout, sys.stderr
    with open(os.devnull, "w") as devnull:
        sys.stdout = sys.stderr = devnull
        try:
            for number, cell in enumerate(SESSION["history"]):
                run_cell(number, cell, namespace)
        except BaseException:
            sys.stdout, sys.stderr = stdout, stderr
            sys.stderr.write(RESTORE_MESSAGE)
            sys.stderr.flush()
            os._exit(RESTORE_FAILED)
        sys.stdout, sys.stderr = stdout, stderr
    watchdog = start_watchdog(SESSION["timeout"] + SESSION["grace"])
    signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, SESSION["timeout"])
    try:
        run_cell(len(SESSION["history"]), SESSION["code"], namespace)
    except BaseException as error:  # KeyboardInterrupt and SystemExit too, as IPython's run_cell
        signal.setitimer(signal.ITIMER_REAL, 0)
        print_traceback(error)
        finish(watchdog, TIMED_OUT if INTERRUPTED else CELL_FAILED)
    signal.setitimer(signal.ITIMER_REAL, 0)
    finish(watchdog, 0)


def start_watchdog(seconds):
    program = os.getpid()
    watchdog = os.fork()
    if watchdog == 0:
        time.sleep(seconds)
        os.kill(program, signal.SIGUSR1)  # its default action ends the program, even inside C code
        os._exit(0)
    return watchdog


def finish(watchdog, status):
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(watchdog, signal.SIGKILL)
    os._exit(status)


INTERRUPTED = []
with open("session.json", encoding="utf-8") as handle:
    SESSION = json.load(handle)
main()
