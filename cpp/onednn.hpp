// bfloat16 matrix products by oneDNN (the library PyTorch uses for them on the CPU), loaded at
// run time: the engine imports and runs everywhere without it, and only a network asked for
// bfloat16 products needs the `onednn-cpu-gomp` package (Python finds its libdnnl and calls
// load()). Only oneDNN's C API is used, through pointers looked up once.
//
// gemm_bfloat16 has gemm's signature (gemm.hpp) with bfloat16 operands and a float32 result:
// C ← α·op(A)·op(B) + β·C, accumulated in float32; or, given a bias row b, C ← op(A)·op(B) + 1bᵀ
// (the forward pass's z = a Wᵀ + b in one pass over z). Each call runs on the calling thread alone —
// the kernels give every thread its own slice, as they do with OpenBLAS — so a slice's result
// does not depend on how many threads the process has.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "bfloat16.hpp"
#include "types.hpp"

#ifdef FNN_ONEDNN
#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>

namespace fnn::onednn {

// The C API functions fnn calls, looked up in libdnnl by name.
struct Api {
  decltype(&dnnl_engine_create) engine_create = nullptr;
  decltype(&dnnl_stream_create) stream_create = nullptr;
  decltype(&dnnl_stream_destroy) stream_destroy = nullptr;
  decltype(&dnnl_memory_desc_create_with_strides) memory_desc_create_with_strides = nullptr;
  decltype(&dnnl_memory_desc_destroy) memory_desc_destroy = nullptr;
  decltype(&dnnl_memory_create) memory_create = nullptr;
  decltype(&dnnl_memory_set_data_handle) memory_set_data_handle = nullptr;
  decltype(&dnnl_memory_destroy) memory_destroy = nullptr;
  decltype(&dnnl_primitive_attr_create) primitive_attr_create = nullptr;
  decltype(&dnnl_primitive_attr_destroy) primitive_attr_destroy = nullptr;
  decltype(&dnnl_primitive_attr_set_scales_mask) primitive_attr_set_scales_mask = nullptr;
  decltype(&dnnl_primitive_attr_set_post_ops) primitive_attr_set_post_ops = nullptr;
  decltype(&dnnl_post_ops_create) post_ops_create = nullptr;
  decltype(&dnnl_post_ops_append_sum) post_ops_append_sum = nullptr;
  decltype(&dnnl_post_ops_destroy) post_ops_destroy = nullptr;
  decltype(&dnnl_matmul_primitive_desc_create) matmul_primitive_desc_create = nullptr;
  decltype(&dnnl_primitive_desc_query) primitive_desc_query = nullptr;
  decltype(&dnnl_primitive_desc_destroy) primitive_desc_destroy = nullptr;
  decltype(&dnnl_primitive_create) primitive_create = nullptr;
  decltype(&dnnl_primitive_destroy) primitive_destroy = nullptr;
  decltype(&dnnl_primitive_execute) primitive_execute = nullptr;
  decltype(&dnnl_version) version = nullptr;
  // The OpenMP runtime oneDNN runs its products on: the libgomp it was linked with, which is not
  // fnn's own when a repaired wheel vendors a renamed copy of libgomp for the engine.
  int (*omp_get_max_threads)() = nullptr;
  void (*omp_set_num_threads)(int) = nullptr;
  dnnl_engine_t engine = nullptr;
};

inline Api& api() {
  static Api instance;
  return instance;
}

inline std::atomic<bool>& loaded_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

inline bool loaded() { return loaded_flag().load(std::memory_order_acquire); }

// Opens libdnnl at `path` and creates its CPU engine; throws with the reason if it cannot.
// Later calls do nothing once it succeeded.
inline void load(const std::string& path) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded()) return;
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) throw std::runtime_error(std::string("cannot load oneDNN: ") + dlerror());
  Api& a = api();
  auto find = [&](auto& pointer, const char* name) {
    pointer = reinterpret_cast<std::decay_t<decltype(pointer)>>(dlsym(library, name));
    if (!pointer) throw std::runtime_error(std::string("oneDNN at ") + path + " has no " + name);
  };
  find(a.version, "dnnl_version");
  const dnnl_version_t* v = a.version();
  if (v->major != 3)
    throw std::runtime_error("fnn needs oneDNN 3.x, found " + std::to_string(v->major) + "." +
                             std::to_string(v->minor) + " at " + path);
  find(a.engine_create, "dnnl_engine_create");
  find(a.stream_create, "dnnl_stream_create");
  find(a.stream_destroy, "dnnl_stream_destroy");
  find(a.memory_desc_create_with_strides, "dnnl_memory_desc_create_with_strides");
  find(a.memory_desc_destroy, "dnnl_memory_desc_destroy");
  find(a.memory_create, "dnnl_memory_create");
  find(a.memory_set_data_handle, "dnnl_memory_set_data_handle");
  find(a.memory_destroy, "dnnl_memory_destroy");
  find(a.primitive_attr_create, "dnnl_primitive_attr_create");
  find(a.primitive_attr_destroy, "dnnl_primitive_attr_destroy");
  find(a.primitive_attr_set_scales_mask, "dnnl_primitive_attr_set_scales_mask");
  find(a.primitive_attr_set_post_ops, "dnnl_primitive_attr_set_post_ops");
  find(a.post_ops_create, "dnnl_post_ops_create");
  find(a.post_ops_append_sum, "dnnl_post_ops_append_sum");
  find(a.post_ops_destroy, "dnnl_post_ops_destroy");
  find(a.matmul_primitive_desc_create, "dnnl_matmul_primitive_desc_create");
  find(a.primitive_desc_query, "dnnl_primitive_desc_query");
  find(a.primitive_desc_destroy, "dnnl_primitive_desc_destroy");
  find(a.primitive_create, "dnnl_primitive_create");
  find(a.primitive_destroy, "dnnl_primitive_destroy");
  find(a.primitive_execute, "dnnl_primitive_execute");
  // (Searched in libdnnl's own dependencies; absent when oneDNN was built without OpenMP.)
  a.omp_get_max_threads = reinterpret_cast<int (*)()>(dlsym(library, "omp_get_max_threads"));
  a.omp_set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(library, "omp_set_num_threads"));
  if (!a.omp_get_max_threads || !a.omp_set_num_threads) {
    a.omp_get_max_threads = nullptr;
    a.omp_set_num_threads = nullptr;
  }
  if (a.engine_create(&a.engine, dnnl_cpu, 0) != dnnl_success)
    throw std::runtime_error("oneDNN could not create its CPU engine");
  loaded_flag().store(true, std::memory_order_release);
}

inline std::string version_string() {
  if (!loaded()) return "";
  const dnnl_version_t* v = api().version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

// The first failure of a product inside the kernels' parallel regions, where nothing may throw:
// the product writes NaN (so the step stops as diverged) and the engine raises this afterwards.
inline std::mutex& error_mutex() {
  static std::mutex m;
  return m;
}
inline std::string& error_slot() {
  static std::string s;
  return s;
}
inline void record_error(const std::string& what) {
  std::lock_guard<std::mutex> lock(error_mutex());
  if (error_slot().empty()) error_slot() = what;
}
// Throws the recorded failure, if any, and clears it.
inline void raise_recorded_error() {
  std::string what;
  {
    std::lock_guard<std::mutex> lock(error_mutex());
    what.swap(error_slot());
  }
  if (!what.empty()) throw std::runtime_error(what);
}

// A product's shape, strides, transpositions and β: what its primitive depends on.
struct Shape {
  Index m, n, k, lda, ldb, ldc;
  bool transpose_a, transpose_b, scaled;
  float beta;
  bool bias = false;
  bool operator==(const Shape& o) const {
    return m == o.m && n == o.n && k == o.k && lda == o.lda && ldb == o.ldb && ldc == o.ldc &&
           transpose_a == o.transpose_a && transpose_b == o.transpose_b && scaled == o.scaled && beta == o.beta &&
           bias == o.bias;
  }
};
struct ShapeHash {
  std::size_t operator()(const Shape& s) const {
    std::size_t h = 1469598103934665603ull;
    for (Index x : {s.m, s.n, s.k, s.lda, s.ldb, s.ldc}) h = (h ^ static_cast<std::size_t>(x)) * 1099511628211ull;
    std::uint32_t b;
    std::memcpy(&b, &s.beta, sizeof b);
    return h ^ (b + (s.transpose_a ? 1u : 0u) + (s.transpose_b ? 2u : 0u) + (s.scaled ? 4u : 0u) + (s.bias ? 8u : 0u));
  }
};

// A primitive and the memory objects it runs on, whose data pointers each call sets.
class Product {
 public:
  explicit Product(const Shape& s) : scaled_(s.scaled), biased_(s.bias) {
    Api& a = api();
    auto desc = [&](dnnl_memory_desc_t* md, Index rows, Index cols, Index row_stride, Index col_stride,
                    dnnl_data_type_t type) {
      const dnnl_dims_t dims = {rows, cols}, strides = {row_stride, col_stride};
      check(a.memory_desc_create_with_strides(md, 2, dims, type, strides), "a memory descriptor");
    };
    // src = op(A) (m × k), weights = op(B) (k × n), dst = C (m × n), all through strides.
    desc(&src_md_, s.m, s.k, s.transpose_a ? 1 : s.lda, s.transpose_a ? s.lda : 1, dnnl_bf16);
    desc(&weights_md_, s.k, s.n, s.transpose_b ? 1 : s.ldb, s.transpose_b ? s.ldb : 1, dnnl_bf16);
    desc(&dst_md_, s.m, s.n, s.ldc, 1, dnnl_f32);
    const dnnl_dims_t one = {1};
    check(a.memory_desc_create_with_strides(&scale_md_, 1, one, dnnl_f32, one), "a memory descriptor");
    if (s.bias) desc(&bias_md_, 1, s.n, s.n, 1, dnnl_f32);
    dnnl_primitive_attr_t attr = nullptr;
    dnnl_post_ops_t post_ops = nullptr;
    check(a.primitive_attr_create(&attr), "an attribute");
    if (s.scaled) check(a.primitive_attr_set_scales_mask(attr, DNNL_ARG_WEIGHTS, 0), "the scale α");
    if (s.beta != 0) {
      check(a.post_ops_create(&post_ops), "post-ops");
      check(a.post_ops_append_sum(post_ops, s.beta, 0, dnnl_data_type_undef), "the sum β·C");
      check(a.primitive_attr_set_post_ops(attr, post_ops), "post-ops");
    }
    dnnl_primitive_desc_t pd = nullptr;
    const dnnl_status_t made =
        a.matmul_primitive_desc_create(&pd, a.engine, src_md_, weights_md_, bias_md_, dst_md_, attr);
    if (post_ops) a.post_ops_destroy(post_ops);
    a.primitive_attr_destroy(attr);
    check(made, "a bfloat16 matrix product of this shape");
    const char* info = nullptr;
    a.primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info);
    implementation_ = info ? info : "";
    const dnnl_status_t created = a.primitive_create(&primitive_, pd);
    a.primitive_desc_destroy(pd);
    check(created, "a bfloat16 matrix product");
    check(a.memory_create(&src_, src_md_, a.engine, DNNL_MEMORY_NONE), "memory");
    check(a.memory_create(&weights_, weights_md_, a.engine, DNNL_MEMORY_NONE), "memory");
    check(a.memory_create(&dst_, dst_md_, a.engine, DNNL_MEMORY_NONE), "memory");
    check(a.memory_create(&scale_, scale_md_, a.engine, &alpha_), "memory");
    if (s.bias) check(a.memory_create(&bias_, bias_md_, a.engine, DNNL_MEMORY_NONE), "memory");
  }
  Product(const Product&) = delete;
  Product& operator=(const Product&) = delete;
  ~Product() {
    Api& a = api();
    for (dnnl_memory_t m : {src_, weights_, dst_, scale_, bias_})
      if (m) a.memory_destroy(m);
    for (dnnl_memory_desc_t md : {src_md_, weights_md_, dst_md_, scale_md_, bias_md_})
      if (md) a.memory_desc_destroy(md);
    if (primitive_) a.primitive_destroy(primitive_);
  }

  void run(dnnl_stream_t stream, const bfloat16* a_data, const bfloat16* b_data, float alpha, float* c_data,
           const float* bias) {
    Api& a = api();
    alpha_ = alpha;
    a.memory_set_data_handle(src_, const_cast<bfloat16*>(a_data));
    a.memory_set_data_handle(weights_, const_cast<bfloat16*>(b_data));
    a.memory_set_data_handle(dst_, c_data);
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst_}};
    int count = 3;
    if (scaled_) args[count++] = {DNNL_ARG_ATTR_SCALES | DNNL_ARG_WEIGHTS, scale_};
    if (biased_) {
      a.memory_set_data_handle(bias_, const_cast<float*>(bias));
      args[count++] = {DNNL_ARG_BIAS, bias_};
    }
    check(a.primitive_execute(primitive_, stream, count, args), "a bfloat16 matrix product");
  }

  const std::string& implementation() const { return implementation_; }

  static void check(dnnl_status_t status, const char* what) {
    if (status != dnnl_success)
      throw std::runtime_error(std::string("oneDNN could not create or run ") + what + " (status " +
                               std::to_string(static_cast<int>(status)) + ")");
  }

 private:
  dnnl_memory_desc_t src_md_ = nullptr, weights_md_ = nullptr, dst_md_ = nullptr, scale_md_ = nullptr,
                     bias_md_ = nullptr;
  dnnl_memory_t src_ = nullptr, weights_ = nullptr, dst_ = nullptr, scale_ = nullptr, bias_ = nullptr;
  dnnl_primitive_t primitive_ = nullptr;
  bool scaled_ = false, biased_ = false;
  float alpha_ = 1;
  std::string implementation_;
};

// Each thread keeps its own primitives, memory objects and stream: nothing is shared between the
// threads of a kernel, and a primitive is made once per shape (a few per layer and epoch).
struct ThreadProducts {
  dnnl_stream_t stream = nullptr;
  std::unordered_map<Shape, std::unique_ptr<Product>, ShapeHash> products;
  ~ThreadProducts() {
    products.clear();
    if (stream) api().stream_destroy(stream);
  }
  Product& get(const Shape& s) {
    if (!stream) Product::check(api().stream_create(&stream, api().engine, dnnl_stream_default_flags), "a stream");
    auto found = products.find(s);
    if (found != products.end()) return *found->second;
    if (products.size() >= 256) products.clear();  // shapes of earlier networks
    return *products.emplace(s, std::make_unique<Product>(s)).first->second;
  }
};

inline ThreadProducts& thread_products() {
  thread_local ThreadProducts instance;
  return instance;
}

// oneDNN's OpenMP build would share a product called outside a parallel region among
// omp_get_max_threads() threads of its OpenMP runtime; each call here runs on its own thread.
class OneThread {
 public:
  OneThread() {
    const Api& a = api();
    if (!a.omp_get_max_threads) return;
    before_ = a.omp_get_max_threads();
    if (before_ != 1) a.omp_set_num_threads(1);
  }
  ~OneThread() {
    if (before_ != 1) api().omp_set_num_threads(before_);
  }

 private:
  int before_ = 1;
};

// The implementation oneDNN chose for a product of this shape (for benchmarks and checks).
inline std::string implementation(Index m, Index n, Index k) {
  if (!loaded()) throw std::runtime_error("oneDNN is not loaded (no network has used bfloat16 products yet)");
  OneThread one;
  Product p(Shape{m, n, k, k, n, n, false, false, false, 0.0f});
  return p.implementation();
}

template <class A, class B, class C>
void gemm_bfloat16(bool transpose_a, bool transpose_b, float alpha, const A& a, const B& b, float beta, C&& c,
                   const float* bias = nullptr) {
  static_assert(A::IsRowMajor && B::IsRowMajor && std::decay_t<C>::IsRowMajor, "gemm takes row-major blocks");
  if (c.rows() == 0 || c.cols() == 0) return;
  const Index k = transpose_a ? a.rows() : a.cols();
  if (k == 0) {
    if (beta == 0.0f)
      c.setZero();
    else
      c *= beta;
    if (bias)
      for (Index r = 0; r < c.rows(); ++r)
        for (Index j = 0; j < c.cols(); ++j) c(r, j) += bias[j];
    return;
  }
  const Shape shape{c.rows(),    c.cols(),      k,    a.outerStride(), b.outerStride(), c.outerStride(), transpose_a,
                    transpose_b, alpha != 1.0f, beta, bias != nullptr};
  try {
    OneThread one;
    thread_products().get(shape).run(thread_products().stream, a.data(), b.data(), alpha, c.data(), bias);
  } catch (const std::exception& e) {
    record_error(e.what());
    c.setConstant(std::numeric_limits<float>::quiet_NaN());
  }
}

}  // namespace fnn::onednn

#else  // built without oneDNN's headers: no bfloat16 products

namespace fnn::onednn {
inline bool loaded() { return false; }
inline void load(const std::string&) {
  throw std::runtime_error(
      "this build of fnn has no bfloat16 products (oneDNN's headers, from the "
      "onednn-devel-cpu-gomp package, were not found when it was compiled)");
}
inline std::string version_string() { return ""; }
inline void raise_recorded_error() {}
inline std::string implementation(Index, Index, Index) { return ""; }
template <class A, class B, class C>
void gemm_bfloat16(bool, bool, float, const A&, const B&, float, C&&, const float* = nullptr) {}
}  // namespace fnn::onednn

#endif
