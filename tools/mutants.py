#!/usr/bin/env python3
"""The standing mutant list: small source changes the test suite must catch.

Each mutant replaces one exact snippet (which must occur exactly once in its file) in a private copy
of the sources, rebuilds that copy incrementally, runs the tests named in `first` and, if none of
them fails, the whole suite. A mutant no test fails is SURVIVED and the run exits 1. The user's tree
is never modified. Run through tools/mutants.sh; see docs/testing.md.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass
class Mutant:
    name: str
    file: str
    find: str
    replace: str
    breaks: str
    first: str  # ctest -R regex of the tests expected to catch it (run before the whole suite)


OPT = "autodiff/optim.cpp"
MUTANTS = [
    Mutant("sgd-step", OPT, "next = p - d * s.lr;", "next = p - d * s.lr * 0.99f;",
           "SGD's step is 1 % short", "Optim"),
    Mutant("momentum-beta", OPT, "Tensor vn = v * cfg.momentum + d;", "Tensor vn = v * (cfg.momentum * 0.9f) + d;",
           "momentum's β", "Optim"),
    Mutant("adagrad-init", OPT, "Init::Fill, cfg.adagrad_init)", "Init::Fill, cfg.adagrad_init * 2.f)",
           "Adagrad's initial accumulator", "Optim"),
    Mutant("rmsprop-eps-inside", OPT, "next = p - d * s.lr / (sqrt(an) + cfg.epsilon);",
           "next = p - d * s.lr / sqrt(an + cfg.epsilon);", "RMSprop's ε inside the square root", "Optim"),
    Mutant("rmsprop-rho", OPT, "acc * cfg.rho + square(d) * (1.f - cfg.rho)", "acc * cfg.rho + square(d)",
           "RMSprop's (1 - ρ) factor", "Optim"),
    Mutant("adam-eps-inside", OPT, "mn * s.lr / (sqrt(vn) + cfg.epsilon)", "mn * s.lr / sqrt(vn + cfg.epsilon)",
           "Adam's ε inside the square root", "Optim"),
    Mutant("adam-beta2", OPT, "square(d) * (1.f - cfg.beta2)", "square(d) * (1.f - cfg.beta1)",
           "Adam's second-moment rate", "Optim"),
    Mutant("adam-bias-correction", OPT, "(1.0 - std::pow(b1, tt))", "(1.0 - std::pow(b1, tt + 1))",
           "Adam's first-moment bias correction one step off", "Optim"),
    Mutant("clip-always", OPT, "maximum(s.grad_norm, constant(g, cfg.clip_norm))", "s.grad_norm",
           "clipping rescales gradients below the norm too", "Optim"),
    Mutant("l2-half", OPT, "penalty * cfg.l2", "penalty * (cfg.l2 * 0.5f)", "the L2 penalty's weight", "Optim"),
    Mutant("ema-of-old", OPT, "e * cfg.ema_decay + next * (1.f - cfg.ema_decay)",
           "e * cfg.ema_decay + p * (1.f - cfg.ema_decay)", "EMA averages the weights before the step", "Optim"),
    Mutant("allreduce-scale", OPT, "allreduce(grads[i], 1.f / static_cast<float>(cfg.ranks), bucket)",
           "allreduce(grads[i], 1.f, bucket)", "data-parallel gradients summed, not averaged", "Optim|mpi"),
    Mutant("collective-scale", "runtime/collectives.cpp", "m.out[i] = s[i] * m.scale;", "m.out[i] = s[i];",
           "the MPI allreduce kernel ignores the scale", "mpi"),
    Mutant("schedule-step-plus-one", "models/fit.cpp", "cfg_.schedule.lr_at(cfg_.lr, step_, epoch, total_)",
           "cfg_.schedule.lr_at(cfg_.lr, step_ + 1, epoch, total_)", "the schedule is read one step ahead", "Trainer"),
    Mutant("same-permutation", "models/fit.cpp", "perm = permutation(train.n, cfg_.seed, epoch);",
           "perm = permutation(train.n, cfg_.seed, 0);", "every epoch sees the batches in one order", "Trainer"),
    Mutant("resume-step", "models/trainer.cpp", 'start_step_ = step_ = metadata_int(c.metadata, "step", kMax, path);',
           'start_step_ = step_ = metadata_int(c.metadata, "step", kMax, path) + 1;',
           "a resumed run skips a step", "Trainer|resume"),
    Mutant("logloss-no-max", "runtime/metrics.cpp", "return m + std::log(s) - row",
           "return std::log(s) - row", "log-loss drops the max term of log-sum-exp", "Metrics"),
    Mutant("confusion-transposed", "runtime/metrics.cpp",
           "++m.confusion[static_cast<size_t>(y) * C + static_cast<size_t>(pred)];",
           "++m.confusion[static_cast<size_t>(pred) * C + static_cast<size_t>(y)];",
           "the confusion matrix's rows are predictions", "Metrics"),
    Mutant("sigmoid-grad", "autodiff/elementwise.h", "dy * out * (1.f - out)", "dy * out * (1.015f - out)",
           "sigmoid' 1.5 % off", "GradCheck"),
    Mutant("tanh-lowering", "compiler/codegen_elementwise.cpp", "sub(c(1), div(c(2), add(exp(mul(x, c(2))), c(1))))",
           "sub(c(1), div(c(2.001), add(exp(mul(x, c(2))), c(1))))", "the JIT's tanh", "Jit|Elementwise"),
    Mutant("gemm-bias-epilogue", "compiler/gemm_parts.h", "if (bias) acc = e.b.CreateFAdd(acc, bias);",
           "if (bias) acc = e.b.CreateFSub(acc, bias);", "the fused dense epilogue subtracts the bias", "Jit"),
    Mutant("col2im-epilogue-unzeroed", "compiler/codegen_gemm.cpp", "    e.b.CreateMemSet(e.gep(dx, e.mul(grp,",
           "    if (false) e.b.CreateMemSet(e.gep(dx, e.mul(grp,",
           "col2im in the GEMM epilogue adds into dX without zeroing it", "Jit"),
    Mutant("pool-grad-unzeroed", "compiler/codegen_pool.cpp", "if (!tiled) b.CreateMemSet",
           "if (false && !tiled) b.CreateMemSet", "max_pool2d_grad leaves elements outside every window unwritten",
           "Jit"),
    Mutant("split-rows-chunk", "compiler/codegen_rows.cpp", "e.mul(o, e.c64(s.n * s.inner))", "e.c64(0)",
           "every chunk of a split column sum sums the first chunk's rows", "Jit"),
    Mutant("pool-grad-sums-operand", "compiler/passes.cpp", "pg.in[pg.op == Op::MaxPool2dGrad ? 1 : 0]", "pg.in[0]",
           "a max-pool gradient's per-channel sum sums the feature map instead of the pooled gradient",
           "Passes|Jit"),
    Mutant("narrow-update-lenient", "compiler/passes.cpp", "return k * idle <= idle_limit * cols;",
           "return k * idle <= 100 * idle_limit * cols;", "narrow weight gradients update in their epilogue up to a k 100× too long", "Passes"),
    Mutant("narrow-update-keep-threshold", "compiler/passes.cpp",
           "rules, rules.narrow_update_idle))", "rules, rules.narrow_keep_idle))",
           "an SGD update in the epilogue is weighed against the transpose alone, not the update pass too", "Passes"),
    Mutant("narrow-rules-unfused-epilogue", "compiler/passes.cpp",
           "epilogues && updated_from(g, n.id) <= kEpilogueMaxUpdated",
           "(epilogues || k > 0) && updated_from(g, n.id) <= kEpilogueMaxUpdated",
           "the unfused step keeps a narrow gradient row-major as if its optimizer rules ran in the epilogue", "Passes"),
    Mutant("narrow-rules-adam-in-epilogue", "compiler/passes.cpp", "updated_from(g, n.id) <= kEpilogueMaxUpdated",
           "updated_from(g, n.id) <= kEpilogueMaxUpdated + 1",
           "Adam's rules (weights and two states) stay in a narrow gradient's epilogue up to the SGD break-even",
           "Passes"),
    Mutant("windows-from-wrap", "compiler/codegen_cols.cpp", "b.CreateICmpULT(e.c64(r), rw)", "b.CreateICmpULE(e.c64(r), rw)",
           "a register tile's row after the end of an output row reads the previous row's window", "Jit"),
    Mutant("walk-windows-no-wrap", "compiler/codegen_cols.cpp",
           "e.if_else(b.CreateICmpEQ(p, b.CreateLoad(e.i64, row_end)), [&] { decode(p); });",
           "if (false) e.if_else(b.CreateICmpEQ(p, b.CreateLoad(e.i64, row_end)), [&] { decode(p); });",
           "walked windows step past the end of an output row instead of moving to the next", "Jit"),
    Mutant("pooled-producer-channel", "compiler/codegen_pool.cpp",
           "elementwise_vector(e, k.fused, xid, total, C, flat, off, active)",
           "elementwise_vector(e, k.fused, xid, total, C, flat, e.mul(off, e.c64(0)), active)",
           "a pool's recomputed activation reads every chunk's per-channel operands from channel 0", "Jit|Passes"),
    Mutant("dropout-scale-jit", "compiler/codegen_elementwise.cpp", "m.c(1.f / (1.f - n.a.value))", "m.c(1.f)",
           "the JIT's dropout does not rescale", "Jit"),
    Mutant("dropout-vector-lanes", "compiler/codegen_elementwise.cpp", "lane[l] = static_cast<uint32_t>(l);",
           "lane[l] = 0;", "every lane of a vector dropout draws the mask of its first element", "Jit"),
    Mutant("dropout-mask-scale", "compiler/passes.cpp", "c.value = 1.f / (1.f - dd->a.value);", "c.value = 1.f;",
           "dropout-mask's gradient misses the dropout's scale", "Passes|Jit"),
    Mutant("gemm-epilogue-every-block", "compiler/codegen_gemm.cpp", "if (g.chain.group && last)",
           "if (g.chain.group)", "a GEMM's elementwise epilogue runs on the partial sums of every K block", "Jit"),
    Mutant("chunk-sum-drops-a-chunk", "compiler/codegen_elementwise.cpp", "for (int64_t p = 0; p < x.shape[0]; ++p) {",
           "for (int64_t p = 1; p < x.shape[0]; ++p) {", "an inlined chunk sum leaves out its first chunk", "Jit"),
    Mutant("owner-chunks-misaligned", "compiler/passes.cpp", "return in_place && pays ? splits : 1;",
           "return in_place && pays ? splits * 2 : 1;", "a first layer is cut into more k chunks than cores", "Jit|Passes"),
    Mutant("column-parts-shifted", "compiler/codegen_gemm.cpp", "llvm::Value* j_begin = e.mul(p, e.c64(w));",
           "llvm::Value* j_begin = e.mul(p, e.c64(w - g.L));",
           "a GEMM's column parts after the first start one vector early", "Jit"),
    Mutant("owner-skips-hidden-layers", "compiler/passes.cpp", "r.uses(w.id) != 2 + transposes) return 1;",
           "r.uses(w.id) != 2) return 1;", "a weight its input gradient also reads is not owned by k chunks", "Jit"),
    Mutant("xent-loss-counts-idle-lanes", "compiler/codegen_rows.cpp",
           "b.CreateSelect(valid, b.CreateFSub(lse, b.CreateLoad(e.vec(), xl)), zero);",
           "b.CreateFSub(lse, b.CreateLoad(e.vec(), xl));",
           "the loss sums the repeated last row of a batch's last lane group", "Jit|Passes"),
    Mutant("packed-transpose-drops-k-tail", "compiler/codegen_gemm.cpp", "if (const int64_t tail = g.K % L)",
           "if (const int64_t tail = 0 * g.K % L)", "a transposed B packed with a k tail leaves its last rows unwritten",
           "Jit"),
    Mutant("update-partials-in-parameter", "compiler/codegen_gemm.cpp", "if (g.partial && !last) {",
           "if (g.update_p && !last) {",
           "optimizer rules in a GEMM epilogue keep the K blocks' partial sums in the parameter", "Jit|Passes"),
    Mutant("update-rules-store-first-twice", "compiler/codegen_gemm.cpp",
           "e.vstore(values[o], e.gep(e.base(g.chain.outputs[o]), at), active);",
           "e.vstore(values[0], e.gep(e.base(g.chain.outputs[o]), at), active);",
           "every state an epilogue's optimizer rules update gets the first rule's value", "Jit|Passes"),
    Mutant("merged-rules-drop-tail", "compiler/codegen_elementwise.cpp", "if (whole < total)",
           "if (whole < 0 * total)", "one pass over several update rules leaves the last partial vector unwritten",
           "Jit|Passes"),
    Mutant("norm-squares-every-k-block", "compiler/codegen_gemm.cpp", "  if (is_true(kb.last)) return add();\n  e.if_else(kb.last, add);",
           "  if (kb.last) return add();\n  e.if_else(kb.last, add);", "a GEMM adds the squares of its partial sums between K blocks to clipping's norm too",
           "Jit|Passes"),
    Mutant("norm-fold-drops-last", "compiler/codegen_rows.cpp", "e.c64(k.fold_parts),", "e.c64(k.fold_parts - 1),",
           "the norm's sum leaves out the last parallel unit's partial sum of squares", "Jit|Passes"),
    Mutant("bias-sums-restart-each-k-block", "compiler/codegen_gemm.cpp", "e.if_else(e.b.CreateNot(kb.first),",
           "e.if_else(e.b.getFalse(),", "a GEMM summing B's columns forgets the K blocks before the last",
           "Jit|Passes"),
    Mutant("bias-sums-second-row-block", "compiler/codegen_gemm.cpp",
           "b.CreateICmpEQ(rb, e.c64(0)), [&] { rows_broadcast(e, first,",
           "b.CreateICmpEQ(rb, e.c64(1)), [&] { rows_broadcast(e, first,",
           "B's column sums are added up by the second row block (none when there is one)", "Jit|Passes"),
    Mutant("dropout-scale-ref", "runtime/ref_ops.cpp", "T(1) / (T(1) - static_cast<T>(n.a.value))", "T(1)",
           "the reference dropout does not rescale", "Jit|Interpreter"),
    Mutant("cse-key-value", "compiler/code_key.cpp", "    b << field;", '    if (name != "value") b << field;',
           "CSE and the code key ignore constant values", "Passes|Jit"),
    Mutant("code-key-dropout", "compiler/code_key.cpp", "const bool init_only = n.op == Op::Parameter;",
           "const bool init_only = n.op == Op::Parameter || n.op == Op::Dropout;",
           "the code key ignores a dropout's rate and seed", "Jit"),
    Mutant("checkpoint-offsets", "runtime/checkpoint.cpp", "read(e.begin, e.t.data.data(), e.end - e.begin);",
           "read(0, e.t.data.data(), e.end - e.begin);",
           "every tensor is loaded from the first tensor's bytes", "Checkpoint"),
    Mutant("idx-offset", "runtime/dataset.cpp",
           "a.data.assign(b.begin() + static_cast<std::ptrdiff_t>(header), b.end());",
           "a.data.assign(b.begin() + static_cast<std::ptrdiff_t>(header) - 1, b.end() - 1);",
           "IDX data read one byte early", "Dataset"),
]

# Tests that check the text of the sources, not their behaviour: a mutant "caught" by them is not.
NOT_BEHAVIOUR = "^(format|doc_images|install_package)$"


def sh(cmd, **kw):
    return subprocess.run(cmd, text=True, capture_output=True, **kw)


def sync_copy(repo, src):
    """Copies the tracked files into src, rewriting only what differs (keeps incremental builds)."""
    files = sh(["git", "-C", repo, "ls-files", "-z"], check=True).stdout.split("\0")
    for f in filter(None, files):
        a, b = os.path.join(repo, f), os.path.join(src, f)
        if os.path.islink(a) or not os.path.isfile(a):
            continue
        with open(a, "rb") as fa:
            data = fa.read()
        if os.path.exists(b):
            with open(b, "rb") as fb:
                if fb.read() == data:
                    continue
        os.makedirs(os.path.dirname(b), exist_ok=True)
        shutil.copy2(a, b)
    data_link = os.path.join(src, "data")
    if not os.path.exists(data_link) and os.path.isdir(os.path.join(repo, "data")):
        os.symlink(os.path.join(repo, "data"), data_link)


def failed_tests(out):
    # "  113 - EveryOp/JitOp.Matches/dense_x86_64_v3  # GetParam() = (...) (Failed)": the name is the
    # first word (parameterised gtest names carry their parameter after it).
    if "The following tests FAILED:" not in out:
        return []
    return re.findall(r"^\s*\d+ - (\S+)", out.split("The following tests FAILED:")[-1], re.M)


def run_tests(build, regex, jobs):
    cmd = ["ctest", "--test-dir", build, "-j", str(jobs), "--timeout", "600", "-E", NOT_BEHAVIOUR]
    if regex:
        cmd += ["-R", regex]
    r = sh(cmd)
    return failed_tests(r.stdout + r.stderr), "No tests were found" in r.stdout + r.stderr


def check_list(src):
    problems = []
    for m in MUTANTS:
        path = os.path.join(src, m.file)
        if not os.path.exists(path):
            problems.append(f"{m.name}: {m.file} does not exist")
            continue
        with open(path) as f:
            count = f.read().count(m.find)
        if count != 1:
            problems.append(f"{m.name}: the snippet occurs {count} times in {m.file} (must be once)")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--work", help="scratch directory (default: REPO/build-mutants)")
    ap.add_argument("--only", help="regex of mutant names to run")
    ap.add_argument("--list", action="store_true", help="print the mutants and exit")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    if a.list:
        for m in MUTANTS:
            print(f"{m.name:24} {m.file:34} {m.breaks}")
        return 0
    work = a.work or os.path.join(a.repo, "build-mutants")
    src, build = os.path.join(work, "src"), os.path.join(work, "build")
    os.makedirs(src, exist_ok=True)
    sync_copy(a.repo, src)
    problems = check_list(src)
    if problems:
        print("mutants: the list no longer matches the sources:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    if not os.path.exists(os.path.join(build, "build.ninja")):
        sh(["cmake", "-S", src, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
            "-DCMAKE_CXX_COMPILER=clang++-19"], check=True)
    print(f"mutants: building the unmutated copy in {build}", flush=True)
    r = sh(["cmake", "--build", build, "-j", str(a.jobs)])
    if r.returncode:
        print(r.stdout[-3000:], file=sys.stderr)
        return 2
    chosen = [m for m in MUTANTS if not a.only or re.search(a.only, m.name)]
    rows, survived, start = [], 0, time.time()
    for k, m in enumerate(chosen, 1):
        path = os.path.join(src, m.file)
        with open(path) as f:
            original = f.read()
        t0 = time.time()
        print(f"[{k}/{len(chosen)}] {m.name}: {m.breaks} ... ", end="", flush=True)
        try:
            with open(path, "w") as f:
                f.write(original.replace(m.find, m.replace))
            b = sh(["cmake", "--build", build, "-j", str(a.jobs)])
            if b.returncode:
                verdict = "DOES NOT BUILD (fix the list)"
                survived += 1
            else:
                caught, _ = run_tests(build, m.first, a.jobs)
                if not caught:
                    caught, _ = run_tests(build, None, a.jobs)
                verdict = ("caught by " + ", ".join(caught[:3]) + (" …" if len(caught) > 3 else "")) if caught \
                    else "SURVIVED"
                survived += not caught
        finally:
            with open(path, "w") as f:
                f.write(original)
        secs = time.time() - t0
        print(f"{verdict} ({secs:.0f} s)", flush=True)
        rows.append((m, verdict, secs))
    sh(["cmake", "--build", build, "-j", str(a.jobs)])  # leave the copy built unmutated
    print(f"\n| mutant | file | what it breaks | verdict | s |\n|---|---|---|---|---|")
    for m, verdict, secs in rows:
        print(f"| {m.name} | {m.file} | {m.breaks} | {verdict} | {secs:.0f} |")
    print(f"\n{len(rows) - survived} of {len(rows)} mutants caught in {(time.time() - start) / 60:.1f} min")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
