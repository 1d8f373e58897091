"""numpy references for iw-metrics' tests.

  random-state SEED N REPEATS      JSON: the arrays after each of REPEATS cumulative
                                   RandomState(SEED).shuffle calls on arange(N)
  interp JSON                      JSON: np.interp for {"x": [...], "xp": [...], "fp": [...]}
  linspace START STOP NUM          JSON: np.linspace values as float.hex strings
  percentile JSON                  JSON: [np.median(v), np.percentile(v, 95)] for each list v
"""
import json
import sys

import numpy as np

cmd = sys.argv[1]
if cmd == "random-state":
    seed, n, reps = map(int, sys.argv[2:5])
    rng = np.random.RandomState(seed)
    x = np.arange(n)
    out = []
    for _ in range(reps):
        rng.shuffle(x)
        out.append(x.tolist())
    print(json.dumps(out))
elif cmd == "interp":
    d = json.loads(sys.argv[2])
    print(json.dumps([float(v) for v in np.interp(d["x"], d["xp"], d["fp"])]))
elif cmd == "linspace":
    print(json.dumps([float(v).hex() for v in np.linspace(float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))]))
elif cmd == "percentile":
    print(json.dumps([[float(np.median(v)), float(np.percentile(v, 95))] for v in json.loads(sys.argv[2])]))
