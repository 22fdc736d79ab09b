// Python bindings: convert and check arguments, release the GIL, call the engine. No maths here.
// Arrays are taken with noconvert(): an array of the wrong dtype or layout raises instead of being
// silently copied; the Python layer converts once at its public entry points.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <Eigen/Core>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "training.hpp"

namespace py = pybind11;
using namespace fnn;

namespace {

template <class S>
using CArray = py::array_t<S, py::array::c_style>;

// The data pointer of a writable, C-contiguous array of exactly dtype S and the expected size.
template <class S>
S* checked_buffer(const py::handle& obj, Index expected_size, const std::string& what) {
  if (!py::isinstance<py::array>(obj)) throw py::type_error(what + " must be a NumPy array");
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!py::isinstance<py::array_t<S>>(arr))
    throw py::type_error(what + " has dtype " + std::string(py::str(arr.dtype())) + ", expected " +
                         std::string(py::str(py::dtype::of<S>())));
  if (!(arr.flags() & py::array::c_style)) throw py::value_error(what + " must be C-contiguous");
  if (!arr.writeable()) throw py::value_error(what + " must be writeable");
  if (static_cast<Index>(arr.size()) != expected_size)
    throw py::value_error(what + " has " + std::to_string(arr.size()) + " elements, expected " +
                          std::to_string(expected_size));
  return static_cast<S*>(arr.mutable_data());
}

template <class S>
ConstMatrixMap<S> matrix_view(const CArray<S>& a, Index cols, const char* what) {
  if (a.ndim() != 2) throw py::value_error(std::string(what) + " must be 2-D");
  if (a.shape(1) != cols)
    throw py::value_error(std::string(what) + " has " + std::to_string(a.shape(1)) + " columns, expected " +
                          std::to_string(cols));
  return ConstMatrixMap<S>(a.data(), a.shape(0), a.shape(1));
}

// The data pointer of optional per-row sample weights: None, or a 1-D C-contiguous array of
// dtype S with one entry per row of X.
template <class S>
const S* sample_weights(const py::object& obj, Index rows) {
  if (obj.is_none()) return nullptr;
  if (!py::isinstance<py::array_t<S>>(obj))
    throw py::type_error("sample_weight must be a NumPy array of " + std::string(py::str(py::dtype::of<S>())));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (arr.ndim() != 1 || !(arr.flags() & py::array::c_style))
    throw py::value_error("sample_weight must be 1-D and C-contiguous");
  if (arr.shape(0) != rows) throw py::value_error("sample_weight and X have different numbers of rows");
  return static_cast<const S*>(arr.data());
}

// The data of a 1-D C-contiguous array of dtype S with `size` entries.
template <class S>
const S* vector_data(const py::object& obj, Index size, const char* what) {
  if (!py::isinstance<py::array_t<S>>(obj))
    throw py::type_error(std::string(what) + " must be a NumPy array of " + std::string(py::str(py::dtype::of<S>())));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (arr.ndim() != 1 || !(arr.flags() & py::array::c_style) || arr.shape(0) != size)
    throw py::value_error(std::string(what) + " must be 1-D, C-contiguous, with " + std::to_string(size) + " entries");
  return static_cast<const S*>(arr.data());
}

void check_threads(int n_threads) {
  if (n_threads < 1) throw py::value_error("n_threads must be at least 1");
}

// Network parameters live in NumPy arrays owned by Python; the engine views them in place and
// keeps a reference so they cannot be freed under it.
// One layer as Python describes it to the engine: its activation, that activation's γ, the
// pieces of a maxout unit, and the NumPy arrays holding its parameters.
struct LayerSpec {
  Activation activation = Activation::identity;
  double gamma = 0;
  Index pieces = 1;
  py::array weights, biases;
  py::object slopes = py::none();
};

template <class S>
class Engine {
 public:
  Engine(const std::vector<LayerSpec>& layers, Output output) {
    net_.output = output;
    if (layers.empty()) throw py::value_error("a network needs at least one layer");
    Index fan_in = -1;
    for (const LayerSpec& spec : layers) {
      Layer<S> layer;
      layer.activation = spec.activation;
      layer.gamma = spec.gamma;
      layer.pieces = spec.pieces;
      const py::array& w = spec.weights;
      if (w.ndim() < 2) throw py::value_error("weights must be at least 2-D");
      layer.units = w.shape(0);
      layer.fan_in = w.shape(w.ndim() - 1);
      if (layer.pieces < 1 || layer.units < 1 || layer.fan_in < 1)
        throw py::value_error("layer sizes must be positive");
      if (layer.activation != Activation::maxout && layer.pieces != 1)
        throw py::value_error("only maxout layers have pieces");
      if (fan_in >= 0 && layer.fan_in != fan_in) throw py::value_error("layer widths do not chain");
      layer.weights = checked_buffer<S>(w, layer.units * layer.pieces * layer.fan_in, "weights");
      layer.biases = checked_buffer<S>(spec.biases, layer.units * layer.pieces, "biases");
      if (layer.activation == Activation::prelu) {
        auto slopes = spec.slopes.cast<py::array>();
        layer.n_slopes = slopes.size();
        if (layer.n_slopes != 1 && layer.n_slopes != layer.units)
          throw py::value_error("PReLU needs one slope per unit or one per layer");
        layer.slopes = checked_buffer<S>(slopes, layer.n_slopes, "slopes");
      }
      for (const py::object& array : {py::object(spec.weights), py::object(spec.biases), spec.slopes})
        keep_alive_.push_back(array);
      net_.layers.push_back(layer);
      fan_in = layer.units;
    }
    const auto& last = net_.layers.back();
    if (last.activation != Activation::identity)
      throw py::value_error("the output layer's activation is set by `output`");
    if (net_.output == Output::softmax && last.units < 2)
      throw py::value_error("softmax needs at least 2 output units");
  }

  Index inputs() const { return net_.inputs(); }
  Index outputs() const { return net_.outputs(); }

  // rows: None for every row of X, or the indices of the rows to evaluate (the validation part
  // of a training set, without copying it). input_mean, input_scale: None, or a fitted
  // StandardScaler's mean_ and scale_ in S, applied to each row as it is read. Returns whether
  // every output is finite.
  bool predict(const CArray<S>& X, CArray<S>& out, Index chunk, int n_threads, const py::object& rows,
               const py::object& input_mean, const py::object& input_scale) {
    auto x = matrix_view(X, net_.inputs(), "X");
    const auto [idx, n] = row_indices(rows, x.rows());
    if (out.ndim() != 2 || out.shape(0) != n || out.shape(1) != net_.outputs())
      throw py::value_error("out has the wrong shape");
    MatrixMap<S> y(out.mutable_data(), out.shape(0), out.shape(1));
    check_threads(n_threads);
    if (chunk < 1) throw py::value_error("chunk must be at least 1");
    if (input_mean.is_none() != input_scale.is_none()) throw py::value_error("input_mean and input_scale go together");
    InputScaling<S> scaling;
    if (!input_mean.is_none()) {
      scaling.mean = vector_data<S>(input_mean, net_.inputs(), "input_mean");
      scaling.scale = vector_data<S>(input_scale, net_.inputs(), "input_scale");
    }
    py::gil_scoped_release release;
    if constexpr (std::is_same_v<S, float>) {
      if (bfloat16_) {
        fnn::predict_bfloat16(net_, x, idx, n, y, chunk, n_threads, policy_, scaling);
        onednn::raise_recorded_error();
        return y.allFinite();
      }
    }
    fnn::predict(net_, x, idx, n, y, chunk, n_threads, policy_, scaling);
    return y.allFinite();
  }

  // Products of predict and train_epoch on bfloat16 copies (float32 engines only), by the oneDNN
  // library at `library` (loaded by the first such call in the process).
  void use_bfloat16(bool on, const std::string& library) {
    if (!on) {
      bfloat16_ = false;
      return;
    }
    if (!std::is_same_v<S, float>) throw py::value_error("bfloat16 products are for float32 networks");
    if (bfloat16_instructions().empty())
      throw py::value_error("bfloat16 products need a CPU with AVX512-BF16 or AMX-BF16 instructions");
    onednn::load(library);
    bfloat16_ = true;
  }
  bool bfloat16() const { return bfloat16_; }

  double loss_sum(const CArray<S>& X, const CArray<S>& T, Index chunk, int n_threads, const py::object& sample_weight,
                  const py::object& rows) {
    auto x = matrix_view(X, net_.inputs(), "X");
    auto t = targets(T, x.rows());
    const S* w = sample_weights<S>(sample_weight, x.rows());
    const auto [idx, n] = row_indices(rows, x.rows());
    check_threads(n_threads);
    if (chunk < 1) throw py::value_error("chunk must be at least 1");
    py::gil_scoped_release release;
    return fnn::loss_sum(net_, x, t, w, idx, n, chunk, n_threads, policy_);
  }

  // grads: arrays in the same order and shapes as the parameters (weights, biases[, slopes]) per
  // layer; the sums are over the rows `rows` of X (all rows if None).
  double loss_and_gradient_sums(const CArray<S>& X, const CArray<S>& T, const py::sequence& grads, Index chunk,
                                int n_threads, const py::object& sample_weight, const py::object& rows) {
    auto x = matrix_view(X, net_.inputs(), "X");
    auto t = targets(T, x.rows());
    const S* w = sample_weights<S>(sample_weight, x.rows());
    const auto [idx, n] = row_indices(rows, x.rows());
    const std::vector<Layer<S>> g = gradient_views(grads);
    check_threads(n_threads);
    if (chunk < 1) throw py::value_error("chunk must be at least 1");
    py::gil_scoped_release release;
    set_gemm_threads(policy_.team(n_threads));  // the sums' products run on the BLAS's threads
    // Kept between calls: data-parallel training calls this every step, and a fresh workspace of
    // a large network costs a millisecond of page faults.
    const std::lock_guard<std::mutex> hold(sums_workspace_mutex_);
    const Index capacity = std::max<Index>(1, std::min(chunk, n));
    if (!sums_workspace_ || sums_workspace_->capacity != capacity)
      sums_workspace_ = std::make_unique<Workspace<S>>(net_.make_workspace(capacity));
    return fnn::loss_and_gradient_sums(net_, x, t, w, idx, n, *sums_workspace_, g);
  }

  // One update of the optimiser from gradient sums over `count` samples (`grads` as for
  // loss_and_gradient_sums, scaled to their mean in place): the step of data-parallel training.
  // The state and t as for train_epoch; t advances by one.
  void apply_gradient_sums(const py::sequence& grads, double count, OptimiserSettings optimiser,
                           const py::object& first, const py::object& second, const py::object& step_count) {
    if (!(count > 0)) throw py::value_error("count must be positive");
    const std::vector<Layer<S>> g = gradient_views(grads);
    const auto state = optimiser_state(optimiser.kind, first, second);
    std::int64_t* count_of_steps = step_counter(step_count);
    if (count_of_steps) optimiser.step = *count_of_steps;
    {
      py::gil_scoped_release release;
      fnn::apply_gradient_sums<S>(net_, g, count, optimiser, state);
    }
    if (count_of_steps) *count_of_steps += 1;
  }

  // One epoch of Algorithm 4.1: the loss summed over the samples done, and whether a non-finite
  // loss stopped it before its update (diverged). Ctrl-C raises KeyboardInterrupt. With an
  // optimiser other than SGD, `first` and `second` hold its state arrays (those it keeps, else
  // None), in the order and shapes of the parameters: weights, biases[, slopes] per layer.
  EpochResult train_epoch(const CArray<S>& X, const CArray<S>& T, const py::object& order, OptimiserSettings optimiser,
                          int n_threads, const py::object& sample_weight, const py::object& first,
                          const py::object& second, const py::object& step_count) {
    auto x = matrix_view(X, net_.inputs(), "X");
    auto t = targets(T, x.rows());
    const S* w = sample_weights<S>(sample_weight, x.rows());
    if (order.is_none()) throw py::type_error("order must be an int64 array of row indices");
    const auto [idx, n] = row_indices(order, x.rows(), "order");
    check_threads(n_threads);
    const auto state = optimiser_state(optimiser.kind, first, second);
    // t lives in `step_count` (a 0-d int64 array) when given: read here, advanced by the updates
    // applied, also those of an epoch that Ctrl-C cut short.
    std::int64_t* count = step_counter(step_count);
    if (count) optimiser.step = *count;
    EpochResult result;
    {
      py::gil_scoped_release release;
      result = fnn::train_epoch<S>(
          net_, x, t, w, idx, n, optimiser, state, n_threads, policy_,
          [] {
            py::gil_scoped_acquire acquire;
            return PyErr_CheckSignals() != 0;
          },
          bfloat16_);
    }
    if (bfloat16_) onednn::raise_recorded_error();
    if (count) *count += result.steps;
    if (result.interrupted) throw py::error_already_set();
    return result;
  }

 private:
  // The 0-d int64 array that holds t, or null for None.
  static std::int64_t* step_counter(const py::object& step_count) {
    if (step_count.is_none()) return nullptr;
    if (!py::isinstance<py::array_t<std::int64_t>>(step_count))
      throw py::type_error("step_count must be a 0-d int64 array");
    auto arr = py::reinterpret_borrow<py::array>(step_count);
    if (arr.ndim() != 0 || !arr.writeable()) throw py::value_error("step_count must be a writeable 0-d array");
    return static_cast<std::int64_t*>(arr.mutable_data());
  }

  // Layer views of gradient arrays shaped like the parameters, checked.
  std::vector<Layer<S>> gradient_views(const py::sequence& grads) const {
    std::vector<Layer<S>> g = net_.layers;
    std::size_t next = 0;
    auto take = [&](Index size, const char* what) {
      if (next >= static_cast<std::size_t>(py::len(grads))) throw py::value_error("too few gradient arrays");
      return checked_buffer<S>(grads[next++], size, what);
    };
    for (auto& layer : g) {
      layer.weights = take(layer.net_inputs() * layer.fan_in, "weight gradient");
      layer.biases = take(layer.net_inputs(), "bias gradient");
      if (layer.slopes) layer.slopes = take(layer.n_slopes, "slope gradient");
    }
    if (next != static_cast<std::size_t>(py::len(grads))) throw py::value_error("too many gradient arrays");
    return g;
  }

  // Views of the state arrays `kind` keeps, checked against the parameters' shapes.
  std::vector<LayerState<S>> optimiser_state(Optimiser kind, const py::object& first, const py::object& second) const {
    std::vector<LayerState<S>> state(net_.layers.size());
    const auto [has_first, has_second] = state_arrays(kind);
    auto take = [&](const py::object& arrays, bool wanted, const char* what, auto member) {
      if (!wanted) return;
      if (arrays.is_none()) throw py::value_error(std::string("this optimiser needs its ") + what + " state arrays");
      const auto list = arrays.cast<py::sequence>();
      std::size_t next = 0;
      auto array = [&](Index size) {
        if (next >= static_cast<std::size_t>(py::len(list)))
          throw py::value_error(std::string("too few ") + what + " state arrays");
        return checked_buffer<S>(list[next++], size, std::string(what) + " state");
      };
      for (std::size_t l = 0; l < net_.layers.size(); ++l) {
        const Layer<S>& layer = net_.layers[l];
        state[l].weights.*member = array(layer.net_inputs() * layer.fan_in);
        state[l].biases.*member = array(layer.net_inputs());
        if (layer.slopes) state[l].slopes.*member = array(layer.n_slopes);
      }
      if (next != static_cast<std::size_t>(py::len(list)))
        throw py::value_error(std::string("too many ") + what + " state arrays");
    };
    take(first, has_first, "first", &ParameterState<S>::first);
    take(second, has_second, "second", &ParameterState<S>::second);
    return state;
  }

  // (pointer, count) of 1-D int64 row indices, each checked against `rows`; (null, rows) for None.
  static std::pair<const std::int64_t*, Index> row_indices(const py::object& obj, Index rows,
                                                           const char* what = "rows") {
    if (obj.is_none()) return {nullptr, rows};
    if (!py::isinstance<py::array_t<std::int64_t>>(obj))
      throw py::type_error(std::string(what) + " must be an int64 array");
    auto arr = py::reinterpret_borrow<py::array>(obj);
    if (arr.ndim() != 1 || !(arr.flags() & py::array::c_style))
      throw py::value_error(std::string(what) + " must be 1-D and C-contiguous");
    const auto* idx = static_cast<const std::int64_t*>(arr.data());
    const Index n = arr.shape(0);
    for (Index i = 0; i < n; ++i)
      if (idx[i] < 0 || idx[i] >= rows) throw py::value_error(std::string(what) + " has an index out of range");
    return {idx, n};
  }

  ConstMatrixMap<S> targets(const CArray<S>& T, Index rows) const {
    auto t = matrix_view(T, net_.outputs(), "targets");
    if (t.rows() != rows) throw py::value_error("targets and X have different numbers of rows");
    return t;
  }

  Network<S> net_;
  bool bfloat16_ = false;
  std::vector<py::object> keep_alive_;
  std::unique_ptr<Workspace<S>> sums_workspace_;
  std::mutex sums_workspace_mutex_;

 public:
  ThreadPolicy policy_;  // contention seen by this network's kernels, remembered across calls
};

template <class S>
void bind_engine(py::module_& m, const char* name) {
  py::class_<Engine<S>>(m, name, "C++ view of a network whose parameters live in NumPy arrays.")
      .def(py::init<const std::vector<LayerSpec>&, Output>(), py::arg("layers"), py::arg("output"))
      .def_property_readonly("inputs", &Engine<S>::inputs)
      .def_property_readonly("outputs", &Engine<S>::outputs)
      .def("predict", &Engine<S>::predict, py::arg("X").noconvert(), py::arg("out").noconvert(), py::arg("chunk"),
           py::arg("n_threads"), py::arg("rows") = py::none(), py::arg("input_mean") = py::none(),
           py::arg("input_scale") = py::none())
      .def("loss_sum", &Engine<S>::loss_sum, py::arg("X").noconvert(), py::arg("targets").noconvert(), py::arg("chunk"),
           py::arg("n_threads"), py::arg("sample_weight") = py::none(), py::arg("rows") = py::none())
      .def("loss_and_gradient_sums", &Engine<S>::loss_and_gradient_sums, py::arg("X").noconvert(),
           py::arg("targets").noconvert(), py::arg("grads"), py::arg("chunk"), py::arg("n_threads"),
           py::arg("sample_weight") = py::none(), py::arg("rows") = py::none())
      .def("apply_gradient_sums", &Engine<S>::apply_gradient_sums, py::arg("grads"), py::arg("count"),
           py::arg("optimiser"), py::arg("first") = py::none(), py::arg("second") = py::none(),
           py::arg("step_count") = py::none())
      .def("train_epoch", &Engine<S>::train_epoch, py::arg("X").noconvert(), py::arg("targets").noconvert(),
           py::arg("order"), py::arg("optimiser"), py::arg("n_threads"), py::arg("sample_weight") = py::none(),
           py::arg("first") = py::none(), py::arg("second") = py::none(), py::arg("step_count") = py::none())
      .def("use_bfloat16", &Engine<S>::use_bfloat16, py::arg("on"), py::arg("library") = "",
           "Run the products of predict and train_epoch on bfloat16 copies, with the oneDNN library at `library`.")
      .def_property_readonly("bfloat16", &Engine<S>::bfloat16)
      .def_property_readonly(
          "contended", [](const Engine<S>& e) { return e.policy_.contended(); },
          "Whether this network's kernels run on one thread for now, having lost their cores.")
      .def_property_readonly(
          "_helper_rests", [](const Engine<S>& e) { return e.policy_.helper_judge.rests(); },
          "For tests: the short predictions after which helper threads were sent to rest, having slowed the call.")
      .def_property_readonly(
          "_last_team", [](const Engine<S>& e) { return e.policy_.last_team(); },
          "For tests: the threads the last kernel call started (0 before any), after looking at the machine.")
      .def_property(
          "_switch_to_one_thread_at", [](const Engine<S>& e) { return e.policy_.switch_at; },
          [](Engine<S>& e, long long at) { e.policy_.switch_at = at; },
          "For tests: the sample (per-sample kernel) or step (mini-batch kernel) after which a team "
          "acts as if it had lost its cores.")
      .def_property(
          "_mini_batch_block_rows", [](const Engine<S>& e) { return e.policy_.block_rows; },
          [](Engine<S>& e, long long rows) { e.policy_.block_rows = rows; },
          "For tests: rows per block of a long mini-batch step (0: chosen from the network's size).");
}

// f(z) or f'(z) of an element-wise activation on a 1-D float64 array (for tests and figures).
py::array_t<double> activation_apply(const std::string& name, double gamma,
                                     const py::array_t<double, py::array::c_style>& z, bool derivative) {
  const Activation kind = activation_from_name(name);
  if (kind == Activation::maxout) throw py::value_error("maxout is not element-wise");
  if (kind == Activation::prelu && derivative) {
    // PReLU with a fixed γ is Leaky ReLU's formula.
    return activation_apply("leaky_relu", gamma, z, derivative);
  }
  const Activation f_kind = kind == Activation::prelu ? Activation::leaky_relu : kind;
  py::array_t<double> out(z.size());
  Eigen::Map<const Eigen::ArrayXd> zin(z.data(), z.size());
  Eigen::Map<Eigen::ArrayXd> res(out.mutable_data(), z.size());
  with_elementwise(f_kind, [&](auto f) {
    using F = decltype(f);
    Eigen::ArrayXd a = F::value(zin, gamma);
    if (derivative)
      res = F::derivative(zin, a, gamma);
    else
      res = a;
  });
  return out;
}

}  // namespace

#ifndef FNN_MODULE_NAME
#define FNN_MODULE_NAME _core
#endif

// The instruction-set level this CPU supports: 4 = x86-64-v4 (AVX-512), 3 = x86-64-v3 (AVX2,
// FMA), 1 = anything else. The baseline module answers it, so Python can pick an engine.
int cpu_level() {
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
                  __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("movbe");
  const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512vl");
  return v4 ? 4 : v3 ? 3 : 1;
#else
  return 1;
#endif
}

// Whether every entry of a C-ordered array is finite: Σ x·0 is 0 unless some x is NaN or infinite
// (then NaN), a vectorised sum with no mask allocated (NumPy's isfinite(x).all() makes one, and
// costs a one-row prediction more than its network).
template <class S>
void bind_all_finite(py::module_& m) {
  m.def(
      "all_finite",
      [](const CArray<S>& a) {
        const Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>> values(a.data(), a.size());
        if (a.size() < (Index(1) << 16)) return (values * S(0)).sum() == S(0);
        py::gil_scoped_release release;
        return (values * S(0)).sum() == S(0);
      },
      py::arg("a").noconvert(), "Whether every entry of a C-ordered float32 or float64 array is finite.");
}

PYBIND11_MODULE(FNN_MODULE_NAME, m) {
  m.doc() = "fnn's C++ engine: forward propagation, backpropagation and SGD on row-major NumPy arrays.";
  // module_local: the baseline, x86-64-v3 and v4 builds are loaded together and register these
  // same C++ types, which pybind11 otherwise allows once per process.
  py::enum_<Activation>(m, "Activation", "The hidden activations of section 4.1, as the engine knows them.",
                        py::module_local())
      .value("identity", Activation::identity)
      .value("logistic", Activation::logistic)
      .value("tanh", Activation::tanh)
      .value("hard_logistic", Activation::hard_logistic)
      .value("hard_tanh", Activation::hard_tanh)
      .value("relu", Activation::relu)
      .value("leaky_relu", Activation::leaky_relu)
      .value("prelu", Activation::prelu)
      .value("elu", Activation::elu)
      .value("softplus", Activation::softplus)
      .value("maxout", Activation::maxout);
  py::enum_<Output>(m, "Output", "The output layers of section 4.3.1: softmax, logistic, identity.", py::module_local())
      .value("softmax", Output::softmax)
      .value("logistic", Output::logistic)
      .value("identity", Output::identity);
  py::class_<LayerSpec>(m, "LayerSpec", "One layer for the engine: its activation and its parameter arrays.",
                        py::module_local())
      .def(py::init([](Activation activation, double gamma, Index pieces, py::array weights, py::array biases,
                       py::object slopes) {
             return LayerSpec{activation, gamma, pieces, std::move(weights), std::move(biases), std::move(slopes)};
           }),
           py::kw_only(), py::arg("activation"), py::arg("gamma"), py::arg("pieces"), py::arg("weights"),
           py::arg("biases"), py::arg("slopes") = py::none())
      .def_readonly("activation", &LayerSpec::activation)
      .def_readonly("gamma", &LayerSpec::gamma)
      .def_readonly("pieces", &LayerSpec::pieces);
  py::enum_<Optimiser>(m, "Optimiser", "The update rules of the training kernels (optimisers.hpp).", py::module_local())
      .value("sgd", Optimiser::sgd)
      .value("momentum", Optimiser::momentum)
      .value("nesterov", Optimiser::nesterov)
      .value("adam", Optimiser::adam)
      .value("adamw", Optimiser::adamw)
      .value("adagrad", Optimiser::adagrad)
      .value("rmsprop", Optimiser::rmsprop);
  py::class_<OptimiserSettings>(m, "OptimiserSettings",
                                "One epoch's update: the rule, α, λ, the batch size, the rule's hyper-parameters and "
                                "its step count.",
                                py::module_local())
      .def(py::init([](Optimiser kind, double learning_rate, double l2, Index batch_size, double momentum, double beta1,
                       double beta2, double epsilon, std::int64_t step, double clip_norm) {
             if (!(clip_norm >= 0)) throw py::value_error("clip_norm must be >= 0 (0: no clipping)");
             if (batch_size < 1) throw py::value_error("batch_size must be at least 1");
             return OptimiserSettings{kind,  learning_rate, l2,      batch_size, momentum,
                                      beta1, beta2,         epsilon, step,       clip_norm};
           }),
           py::kw_only(), py::arg("kind") = Optimiser::sgd, py::arg("learning_rate"), py::arg("l2") = 0.0,
           py::arg("batch_size") = 1, py::arg("momentum") = 0.9, py::arg("beta1") = 0.9, py::arg("beta2") = 0.999,
           py::arg("epsilon") = 1e-8, py::arg("step") = 0, py::arg("clip_norm") = 0.0)
      .def_readonly("kind", &OptimiserSettings::kind)
      .def_readonly("learning_rate", &OptimiserSettings::learning_rate)
      .def_readonly("l2", &OptimiserSettings::l2)
      .def_readonly("batch_size", &OptimiserSettings::batch_size)
      .def_readonly("momentum", &OptimiserSettings::momentum)
      .def_readonly("beta1", &OptimiserSettings::beta1)
      .def_readonly("beta2", &OptimiserSettings::beta2)
      .def_readonly("epsilon", &OptimiserSettings::epsilon)
      .def_readonly("step", &OptimiserSettings::step)
      .def_readonly("clip_norm", &OptimiserSettings::clip_norm);
  py::class_<EpochResult>(m, "EpochResult", "What one epoch of the engine did.", py::module_local())
      .def_readonly("loss_sum", &EpochResult::loss_sum, "Σ of the per-sample loss, each just before its update.")
      .def_readonly("samples", &EpochResult::samples, "Samples whose update was applied.")
      .def_readonly("steps", &EpochResult::steps, "Updates applied.")
      .def_readonly("diverged", &EpochResult::diverged, "A non-finite loss stopped the epoch before its update.");
  bind_engine<float>(m, "Engine32");
  bind_engine<double>(m, "Engine64");
  m.def(
      "activation_value",
      [](const std::string& name, double gamma, const py::array_t<double, py::array::c_style>& z) {
        return activation_apply(name, gamma, z, false);
      },
      py::arg("name"), py::arg("gamma"), py::arg("z"));
  m.def(
      "activation_derivative",
      [](const std::string& name, double gamma, const py::array_t<double, py::array::c_style>& z) {
        return activation_apply(name, gamma, z, true);
      },
      py::arg("name"), py::arg("gamma"), py::arg("z"));
  bind_all_finite<float>(m);
  bind_all_finite<double>(m);
  m.attr("openblas") = gemm_uses_openblas();
  m.def("cpu_level", &cpu_level, "Instruction-set level of this CPU: 4 (x86-64-v4), 3 (x86-64-v3) or 1.");
  m.attr("simd") = Eigen::SimdInstructionSetsInUse();
  m.def("bfloat16_instructions", &bfloat16_instructions,
        "This CPU's bfloat16 instructions that oneDNN uses: 'amx_bf16', 'avx512_bf16' or '' (none).");
  m.def("onednn_version", &onednn::version_string, "The version of the oneDNN loaded for bfloat16 products, or ''.");
  m.def("bfloat16_product_implementation", &onednn::implementation, py::arg("m"), py::arg("n"), py::arg("k"),
        "oneDNN's implementation of an (m×k)·(k×n) bfloat16 product, e.g. 'brg:avx512_core_bf16'.");
  m.attr("onednn_headers") =
#ifdef FNN_ONEDNN
      true;
#else
      false;
#endif
#ifdef _OPENMP
  m.attr("openmp") = true;
  m.attr("max_threads") = omp_get_max_threads();
#else
  m.attr("openmp") = false;
  m.attr("max_threads") = 1;
#endif
  // Read at each call: threadpoolctl's threadpool_limits() lowers it through omp_set_num_threads.
  m.def("openmp_thread_limit", &openmp_thread_limit,
        "OpenMP's current limit on threads (OMP_NUM_THREADS, OMP_THREAD_LIMIT, threadpoolctl); 1 in a forked child.");
  m.def(
      "helper_parts",
      [] {
        const Helpers& helpers = Helpers::instance();
        return py::make_tuple(helpers.done_here(), helpers.done_by_helpers());
      },
      "Parts of short predictions done so far by calling threads while helpers were offered parts, and by helper "
      "threads (for tests).");
  m.def("forked_child", &forked_child, "Whether this process was forked after the engine ran a team of threads.");
  install_fork_handler();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
}
