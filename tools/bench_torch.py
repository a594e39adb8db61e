#!/usr/bin/python3
"""PyTorch eager baseline for `gradc bench suite`: median µs per SGD training step of the same
models (forward, softmax cross-entropy, backward, SGD update) on the same host in the same run.

Usage: bench_torch.py MODEL BATCH THREADS REPS
Prints one JSON line: {"model", "batch", "threads", "us", "torch"}; exit 3 when torch is missing.
"""
import json
import statistics
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    print(json.dumps({"error": "python3-torch is not installed"}))
    sys.exit(3)


def build(name):
    """The gradc models of models/mlp.cpp, layer for layer."""
    if name == "linear":
        return nn.Linear(784, 10)
    if name == "dnn":
        return nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10))
    if name == "mlp512":
        layers, width = [], 784
        for _ in range(3):
            layers += [nn.Linear(width, 512), nn.ReLU(), nn.Dropout(0.2)]
            width = 512
        return nn.Sequential(*layers, nn.Linear(512, 10))
    raise SystemExit(f"bench_torch.py: unknown model '{name}' (linear, dnn, mlp512)")


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    name, batch, threads, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build(name)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, 784)
    y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    best = float("inf")
    for _ in range(3):  # best of 3 rounds of medians, as gradc's own figures
        times = []
        start = time.perf_counter()
        for _ in range(reps):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e6)
            if time.perf_counter() - start > 4 and len(times) >= 3:
                break
        best = min(best, statistics.median(times))
    print(json.dumps({"model": name, "batch": batch, "threads": threads, "us": best, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
