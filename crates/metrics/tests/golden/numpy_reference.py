"""numpy references for iw-metrics' tests.

  random-state SEED N REPEATS      JSON: the arrays after each of REPEATS cumulative
                                   RandomState(SEED).shuffle calls on arange(N)
  interp JSON                      JSON: np.interp for {"x": [...], "xp": [...], "fp": [...]}
  linspace START STOP NUM          JSON: np.linspace values as float.hex strings
  percentile JSON                  JSON: [np.median(v), np.percentile(v, 95)] for each list v
  fixtures OUT                     the committed fixtures of the fast tests
                                   (tests/fixtures/numpy.json): linspace, interp and
                                   percentile on fixed inputs
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
elif cmd == "fixtures":
    linspace = [[a, b, n, [float(v).hex() for v in np.linspace(a, b, n)]]
                for a, b, n in [(-0.1, 10.0, 101), (10.0, 13.7177734375, 100), (0.0, 5.0, 501), (10.0, 11.0, 100), (3.0, 3.0, 5)]]
    # interp on FROC-like abscissae: non-decreasing with repeats, queries off and on the knots
    rng = np.random.RandomState(2020)
    interp = []
    for _ in range(40):
        steps = rng.randint(0, 3, size=rng.randint(1, 11)) * 0.5
        xp = np.concatenate([[0.0], np.cumsum(steps)]).tolist()
        fp = rng.uniform(0, 1, size=len(xp)).tolist()
        x = rng.uniform(-1, 8, size=rng.randint(1, 20)).tolist() + xp
        interp.append({"x": x, "xp": xp, "fp": fp, "want": [float(v) for v in np.interp(x, xp, fp)]})
    cases = [[0.7], [0.6, 0.9], [0.51, 0.6, 0.75, 0.9, 0.99], [0.5 + (i * 7 % 37) / 80.0 for i in range(37)]]
    percentile = [{"v": v, "median": float(np.median(v)), "q95": float(np.percentile(v, 95))} for v in cases]
    with open(sys.argv[2], "w") as f:
        json.dump({"generator": "crates/metrics/tests/golden/numpy_reference.py fixtures", "numpy": np.__version__,
                   "linspace": linspace, "interp": interp, "percentile": percentile}, f, indent=1)
        f.write("\n")
elif cmd == "percentile":
    print(json.dumps([[float(np.median(v)), float(np.percentile(v, 95))] for v in json.loads(sys.argv[2])]))
