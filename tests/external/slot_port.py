"""The Python example port with its structures kept in a table of N slots indexed by ``gid % N``.

``python slot_port.py N`` runs ``examples/ports/python_port.py`` (pcg_core's
reference behind the protocol) on a stream whose structure ids are rewritten
to ``gid % N + 1`` in every ``GROUPS``, ``FREE`` and ``REQUEST`` line: exactly
a program that keeps N slots by ``gid % N``, as an independent team might
write when the protocol promised small ids and at most 8 live structures.
The structure-id clause of docs/protocol.md forbids it, and the gate's ids
(equal modulo 2**16) make it answer from the wrong structure. ``N = 0``
leaves the ids alone: the correct program.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "ports"))

import python_port

#: The field holding a structure id, per message.
ID_FIELD = {b"GROUPS": 1, b"FREE": 1, b"REQUEST": 2}


class SlotStream:
    """The gate's stream, with each structure id replaced by its slot ``gid % slots + 1``."""

    def __init__(self, raw, slots):
        self.raw, self.slots = raw, slots

    def readline(self, limit=-1):
        line = self.raw.readline(limit)
        fields = line.rstrip(b"\n").split(b" ")
        where = ID_FIELD.get(fields[0])
        if self.slots and where is not None and len(fields) > where:
            fields[where] = str(int(fields[where]) % self.slots + 1).encode("ascii")
            return b" ".join(fields) + b"\n"
        return line

    def readinto(self, buffer):
        return self.raw.readinto(buffer)


def main():
    flags = argparse.Namespace(crash_on=0, threads=1, **{name: False for name in (
        "segfault", "hang", "garbage", "wrong_shape", "wrong_dtype", "bad_ids", "error", "bad_handshake",
        "ignore_seed", "accept_all", "no_labels")})
    try:
        python_port.serve(flags, SlotStream(sys.stdin.buffer, int(sys.argv[1])), sys.stdout.buffer)
    except BrokenPipeError:
        pass


if __name__ == "__main__":
    main()
