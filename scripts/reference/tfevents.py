"""Reference TensorBoard event records for tests/it/tensorboard.rs, written by TensorBoard's own
protobufs and RecordWriter (pip install tensorboard; 2.x), and the scalars TensorBoard's own
loader reads back from a file lpipe wrote.

    python scripts/reference/tfevents.py write tests/fixtures/tfevents/reference.tfevents
    python scripts/reference/tfevents.py read FILE     # prints JSON [[step, tag, value], ...]
"""

import json
import sys

from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

# (wall_time, step, tag, value); the first event is the file_version one.
EVENTS = [
    (1733500000.25, 0, "train/loss", 2.5),
    (1733500001.5, 1, "train/loss", 1.75),
    (1733500001.5, 1, "train/lr", 3e-4),
    (1733500002.0, 300, "val/loss", 0.875),
    (1733500003.0, 1000000, "eval/adapter/heldout/exact_match", 0.45),
]


def write(path):
    with open(path, "wb") as f:
        w = RecordWriter(f)
        w.write(event_pb2.Event(wall_time=1733500000.0, file_version="brain.Event:2").SerializeToString())
        for wall, step, tag, value in EVENTS:
            summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
            w.write(event_pb2.Event(wall_time=wall, step=step, summary=summary).SerializeToString())
        w.flush()


def read(path):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    out = []
    for event in EventFileLoader(path).Load():
        for v in event.summary.value:
            # The loader migrates simple_value into a tensor; take it from either.
            value = v.simple_value if v.HasField("simple_value") else float(v.tensor.float_val[0])
            out.append([event.step, v.tag, value])
    print(json.dumps(out))


if __name__ == "__main__":
    {"write": write, "read": read}[sys.argv[1]](sys.argv[2])
