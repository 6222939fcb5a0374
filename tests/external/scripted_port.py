"""A pcg-port program that answers every request with the same canned bytes (given as hex in argv[1]).

Standard library only, so it starts in milliseconds. It follows the protocol
far enough to read each request whole (GROUPS, FREE, REQUEST and their
arrays), then writes ``bytes.fromhex(argv[1])`` and flushes, and stays alive
until its input ends: every malformed answer the gate must recognise can be
scripted exactly.
"""

import math
import sys

SIZES = {"int32": 4, "int64": 8, "float32": 4, "float64": 8, "bfloat16": 2}


def skip_arrays(stream, count):
    for _ in range(count):
        fields = stream.readline().split()
        stream.read(SIZES[fields[1].decode()] * math.prod(int(d) for d in fields[3:]))


def main():
    answer = bytes.fromhex(sys.argv[1])
    stream, out = sys.stdin.buffer, sys.stdout.buffer
    stream.readline()
    out.write(b"PCG-PORT 1 scripted float64 cpu\n")
    out.flush()
    for line in iter(stream.readline, b""):
        fields = line.split()
        if fields[0] == b"GROUPS":
            skip_arrays(stream, int(fields[4]))
        elif fields[0] == b"REQUEST":
            skip_arrays(stream, int(fields[4]))
            out.write(answer)
            out.flush()
        elif fields[0] == b"BYE":
            return


if __name__ == "__main__":
    main()
