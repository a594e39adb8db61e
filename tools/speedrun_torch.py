#!/usr/bin/python3
"""PyTorch on the MNIST speedrun: the network and recipe of `gradc train speedrun`, on the same data
and host, timed the same way (from the loaded data to the test figures).

Usage: speedrun_torch.py DATA_DIR SEED [THREADS] [--conv 16,32] [--lr 0.02] [--epochs 3] [--batch 128]
DATA_DIR holds MNIST's four IDX files (gradc's data/mnist). Prints one JSON line: {"seed",
"accuracy", "seconds", "train_seconds", "eval_seconds", "threads", "torch"}; exit 3 without torch.
The network: per entry of --conv a 3x3 valid convolution + ReLU + 2x2 max-pool, then dense 10;
Glorot-uniform weights and zero biases (Keras' and gradc's defaults). Adam (eps 1e-7, Keras'),
batch 128, the last partial batch of each epoch dropped, a fresh permutation per epoch, and the
one-cycle rate: up linearly over the first 20 % of the steps, down linearly to 0 at the last.
"""
import argparse
import json
import os
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    print(json.dumps({"error": "python3-torch is not installed"}))
    sys.exit(3)


def idx(path, offset):
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.uint8, offset=offset)


def load(data_dir, split):
    x = idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte"), 16).reshape(-1, 1, 28, 28)
    y = idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte"), 8)
    return x.float() / 255.0, y.long()


def network(conv):
    layers, channels, side = [], 1, 28
    for filters in conv:
        layers += [nn.Conv2d(channels, filters, 3), nn.ReLU(), nn.MaxPool2d(2)]
        channels, side = filters, (side - 2) // 2
    # NHWC flatten order as gradc's does not matter for training from scratch.
    net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * side * side, 10))
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def one_cycle(total, warmup=0.2):
    up = max(1, round(warmup * total))

    def factor(step):
        if step < up:
            return (step + 1) / up
        return max(total - step, 0) / max(total - up, 1)

    return factor


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_dir")
    p.add_argument("seed", type=int)
    p.add_argument("threads", type=int, nargs="?", default=2)
    p.add_argument("--conv", default="16,32")
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=128)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(a.data_dir, "train")
    xte, yte = load(a.data_dir, "t10k")

    t0 = time.perf_counter()
    net = network([int(c) for c in a.conv.split(",")])
    opt = torch.optim.Adam(net.parameters(), lr=a.lr, eps=1e-7)
    per_epoch = xtr.shape[0] // a.batch
    total = per_epoch * a.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, one_cycle(total))
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    for _ in range(a.epochs):
        perm = torch.randperm(xtr.shape[0])
        for i in range(per_epoch):
            idx_b = perm[i * a.batch:(i + 1) * a.batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xtr[idx_b]), ytr[idx_b]).backward()
            opt.step()
            sched.step()
    t1 = time.perf_counter()
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, xte.shape[0], 500):
            correct += (net(xte[i:i + 500]).argmax(1) == yte[i:i + 500]).sum().item()
    t2 = time.perf_counter()
    print(json.dumps({"seed": a.seed, "accuracy": correct / xte.shape[0], "seconds": round(t2 - t0, 2),
                      "train_seconds": round(t1 - t0, 2), "eval_seconds": round(t2 - t1, 2),
                      "threads": a.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
