// Shared by the step benchmarks (cmd_bench.cpp, bench_mpi.cpp): synthetic inputs and medians.
#pragma once
#include <vector>

#include "runtime/engine.h"
#include "runtime/program.h"

namespace gradc::cli {

double median(std::vector<double> t);  // of a non-empty sample

// Median µs per run() over `reps` runs (after one warm-up), stopping early past `budget_s`.
double median_us(Engine& e, int reps, double budget_s);

// Random pixels and labels and a tiny learning rate (keeps the weights sane over thousands of
// runs) in every input of the graph.
void fill_inputs(const Graph& g, Engine& e);
void fill_inputs(Program& p);

}  // namespace gradc::cli
