// oneDNN's bfloat16 products of the shapes one slice of a 784-256-256-10 step at B = 128 runs
// (two slices of 128 neurons), each with the operand layouts fnn passes (blocks of larger arrays,
// so strided) and with dense copies instead: the implementation oneDNN picks and its GFLOP/s on
// one thread. It answers whether copying the weights into dense per-slice arrays would speed the
// bfloat16 kernel up (it does not: every layout runs within a few per cent of the others).
//
// Build and run against the oneDNN of the `bfloat16` extra (headers from onednn-devel-cpu-gomp):
//   V=$(python -c 'import sys; print(sys.prefix)')
//   g++ -O2 -std=c++17 bench/onednn_layouts.cpp -I$V/include -L$V/lib -ldnnl -Wl,-rpath,$V/lib -o /tmp/layouts
//   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 /tmp/layouts
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

using namespace dnnl;
using dt = memory::data_type;

// C (m×n, float32, row stride c_row) = A (m×k) · B (k×n), A and B bfloat16 with the given
// (row, column) strides; `sum` adds to C (the update's β = 1).
struct Case {
  const char* name;
  memory::dim m, n, k, a_row, a_col, b_row, b_col, c_row;
  bool sum;
};

int main() {
  engine cpu(engine::kind::cpu, 0);
  stream s(cpu);
  const Case cases[] = {
      {"forward 1: as fnn (z a block)", 128, 128, 784, 784, 1, 1, 784, 256, false},
      {"forward 1: dense z", 128, 128, 784, 784, 1, 1, 784, 128, false},
      {"update 1: as fnn (δ block)ᵀ", 128, 784, 128, 1, 256, 784, 1, 784, true},
      {"update 1: dense δ copy, ᵀ", 128, 784, 128, 1, 128, 784, 1, 784, true},
      {"update 1: dense δᵀ copy", 128, 784, 128, 128, 1, 784, 1, 784, true},
      {"backward 2: as fnn (W columns)", 128, 128, 256, 256, 1, 256, 1, 256, false},
      {"backward 2: dense W columns", 128, 128, 256, 256, 1, 128, 1, 256, false},
      {"backward 2: dense W cols and out", 128, 128, 256, 256, 1, 128, 1, 128, false},
      {"update 2: as fnn", 256, 128, 128, 1, 256, 256, 1, 256, true},
      {"update 2: dense δᵀ", 256, 128, 128, 256, 1, 256, 1, 256, true},
      {"update 2: all dense", 256, 128, 128, 256, 1, 128, 1, 128, true},
  };
  std::printf("%-34s %-24s %9s %8s\n", "product", "oneDNN's kernel", "µs", "GFLOP/s");
  for (const Case& c : cases) {
    const memory::desc a({c.m, c.k}, dt::bf16, memory::dims{c.a_row, c.a_col});
    const memory::desc b({c.k, c.n}, dt::bf16, memory::dims{c.b_row, c.b_col});
    const memory::desc d({c.m, c.n}, dt::f32, memory::dims{c.c_row, 1});
    primitive_attr attr;
    if (c.sum) {
      post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    const matmul::primitive_desc pd(cpu, a, b, d, attr);
    const matmul product(pd);
    // Room for the largest stride of each operand; bfloat16 1.0 everywhere.
    std::vector<std::uint16_t> a_data(c.m * c.k * 2 + c.k * 256, 0x3f80), b_data(c.k * c.n * 2 + c.k * 256, 0x3f80);
    std::vector<float> c_data(c.m * c.c_row + c.n);
    memory am(a, cpu, a_data.data()), bm(b, cpu, b_data.data()), cm(d, cpu, c_data.data());
    auto run = [&] { product.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}}); };
    for (int i = 0; i < 50; ++i) run();
    std::vector<double> seconds;
    for (int round = 0; round < 7; ++round) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < 200; ++i) run();
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 200);
    }
    std::sort(seconds.begin(), seconds.end());
    const double median = seconds[seconds.size() / 2];
    std::printf("%-34s %-24s %9.1f %8.1f\n", c.name, pd.impl_info_str(), median * 1e6,
                2.0 * c.m * c.n * c.k / median / 1e9);
  }
}
