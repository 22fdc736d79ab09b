// Activation functions of section 4.1 and their derivatives (table 4.2), one struct each.
// value(z) gives a = f(z); derivative(z, a) gives f'(z), reusing a where that is cheaper.
// Both work on Eigen array expressions, so exp/tanh/log vectorise.
#pragma once

#include <stdexcept>
#include <string>

#include "types.hpp"

namespace fnn {

// I(z > t) and I(z < t) as Eigen functors with packet versions: a comparison cast to a number,
// `(z > t).cast<S>()`, is evaluated one entry at a time, as Eigen 3.4 has no packets of bool.
template <class S>
struct IsAbove {
  S threshold;
  S operator()(const S& z) const { return z > threshold ? S(1) : S(0); }
  template <class P>
  P packetOp(const P& z) const {
    using namespace Eigen::internal;
    return pand(pcmp_lt(pset1<P>(threshold), z), pset1<P>(S(1)));
  }
};

template <class S>
struct IsBelow {
  S threshold;
  S operator()(const S& z) const { return z < threshold ? S(1) : S(0); }
  template <class P>
  P packetOp(const P& z) const {
    using namespace Eigen::internal;
    return pand(pcmp_lt(z, pset1<P>(threshold)), pset1<P>(S(1)));
  }
};

template <class Z>
auto is_above(const Z& z, typename Z::Scalar threshold) {
  return z.unaryExpr(IsAbove<typename Z::Scalar>{threshold});
}
template <class Z>
auto is_below(const Z& z, typename Z::Scalar threshold) {
  return z.unaryExpr(IsBelow<typename Z::Scalar>{threshold});
}

}  // namespace fnn

namespace Eigen {
namespace internal {
template <class S>
struct functor_traits<fnn::IsAbove<S>> {
  enum { Cost = 2, PacketAccess = packet_traits<S>::HasCmp };
};
template <class S>
struct functor_traits<fnn::IsBelow<S>> {
  enum { Cost = 2, PacketAccess = packet_traits<S>::HasCmp };
};
}  // namespace internal
}  // namespace Eigen

namespace fnn {

enum class Activation {
  identity,
  logistic,
  tanh,
  hard_logistic,
  hard_tanh,
  relu,
  leaky_relu,
  prelu,
  elu,
  softplus,
  maxout
};

inline Activation activation_from_name(const std::string& name) {
  if (name == "identity") return Activation::identity;
  if (name == "logistic") return Activation::logistic;
  if (name == "tanh") return Activation::tanh;
  if (name == "hard_logistic") return Activation::hard_logistic;
  if (name == "hard_tanh") return Activation::hard_tanh;
  if (name == "relu") return Activation::relu;
  if (name == "leaky_relu") return Activation::leaky_relu;
  if (name == "prelu") return Activation::prelu;
  if (name == "elu") return Activation::elu;
  if (name == "softplus") return Activation::softplus;
  if (name == "maxout") return Activation::maxout;
  throw std::invalid_argument("unknown activation '" + name + "'");
}

// (4.5)-(4.6) identity: f(x) = x.
struct Identity {
  template <class Z> static auto value(const Z& z, double) { return z; }
  template <class Z, class A> static auto derivative(const Z& z, const A&, double) {
    using S = typename Z::Scalar;
    return Z::PlainObject::Constant(z.rows(), z.cols(), S(1));
  }
};

// (4.4) logistic: σ(x) = 1 / (1 + exp(−x)); σ' = σ(1 − σ). exp overflow gives 1/inf = 0, not NaN.
struct Logistic {
  template <class Z> static auto value(const Z& z, double) {
    using S = typename Z::Scalar;
    return (S(1) + (-z).exp()).inverse();
  }
  template <class Z, class A> static auto derivative(const Z&, const A& a, double) {
    using S = typename Z::Scalar;
    return a * (S(1) - a);
  }
};

// (4.5) tanh(x) = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ); tanh' = 1 − tanh².
struct Tanh {
  template <class Z> static auto value(const Z& z, double) { return z.tanh(); }
  template <class Z, class A> static auto derivative(const Z&, const A& a, double) {
    using S = typename Z::Scalar;
    return S(1) - a.square();
  }
};

// (4.11) hard-logistic(x) = max(min(0.25x + 0.5, 1), 0); derivative 0.25 on (−2, 2), else 0.
struct HardLogistic {
  template <class Z> static auto value(const Z& z, double) {
    using S = typename Z::Scalar;
    return (S(0.25) * z + S(0.5)).cwiseMin(S(1)).cwiseMax(S(0));
  }
  template <class Z, class A> static auto derivative(const Z& z, const A&, double) {
    using S = typename Z::Scalar;
    return S(0.25) * is_above(z, S(-2)) * is_below(z, S(2));
  }
};

// (4.15) hard-tanh(x) = max(min(x, 1), −1); derivative 1 on (−1, 1), else 0.
struct HardTanh {
  template <class Z> static auto value(const Z& z, double) {
    using S = typename Z::Scalar;
    return z.cwiseMin(S(1)).cwiseMax(S(-1));
  }
  template <class Z, class A> static auto derivative(const Z& z, const A&, double) {
    using S = typename Z::Scalar;
    return is_above(z, S(-1)) * is_below(z, S(1));
  }
};

// (4.17) ReLU(x) = max(0, x); derivative I(x > 0) (table 4.2).
struct Relu {
  template <class Z> static auto value(const Z& z, double) {
    using S = typename Z::Scalar;
    return z.cwiseMax(S(0));
  }
  template <class Z, class A> static auto derivative(const Z& z, const A&, double) {
    using S = typename Z::Scalar;
    return is_above(z, S(0));
  }
};

// (4.19) LeakyReLU(x) = max(0, x) + γ·min(0, x); derivative 1 for x > 0, γ for x ≤ 0 (4.18).
struct LeakyRelu {
  template <class Z> static auto value(const Z& z, double gamma) {
    using S = typename Z::Scalar;
    return z.cwiseMax(S(0)) + S(gamma) * z.cwiseMin(S(0));
  }
  template <class Z, class A> static auto derivative(const Z& z, const A&, double gamma) {
    using S = typename Z::Scalar;
    return S(gamma) + S(1 - gamma) * is_above(z, S(0));
  }
};

// (4.24) ELU(x) = max(0, x) + min(0, γ(exp(x) − 1)); derivative I(x > 0) + I(x ≤ 0)·γ·exp(x).
// exp is taken of min(x, 0) so large x cannot overflow.
struct Elu {
  template <class Z> static auto value(const Z& z, double gamma) {
    using S = typename Z::Scalar;
    return z.cwiseMax(S(0)) + S(gamma) * (z.cwiseMin(S(0)).exp() - S(1));
  }
  template <class Z, class A> static auto derivative(const Z& z, const A&, double gamma) {
    using S = typename Z::Scalar;
    const auto positive = is_above(z, S(0));
    return positive + (S(1) - positive) * (S(gamma) * z.cwiseMin(S(0)).exp());
  }
};

// (4.25) softplus(x) = log(1 + exp(x)), computed as max(x, 0) + log1p(exp(−|x|)) so neither
// tail overflows; its derivative is the logistic function.
struct Softplus {
  template <class Z> static auto value(const Z& z, double) {
    using S = typename Z::Scalar;
    return z.cwiseMax(S(0)) + (-z.abs()).exp().log1p();
  }
  template <class Z, class A> static auto derivative(const Z& z, const A&, double) {
    using S = typename Z::Scalar;
    return (S(1) + (-z).exp()).inverse();
  }
};

// Calls `fn(Tag{})` with the struct of an element-wise activation. PReLU and maxout have
// per-neuron structure and are handled by the layer code itself.
template <class Fn>
decltype(auto) with_elementwise(Activation kind, Fn&& fn) {
  switch (kind) {
    case Activation::identity: return fn(Identity{});
    case Activation::logistic: return fn(Logistic{});
    case Activation::tanh: return fn(Tanh{});
    case Activation::hard_logistic: return fn(HardLogistic{});
    case Activation::hard_tanh: return fn(HardTanh{});
    case Activation::relu: return fn(Relu{});
    case Activation::leaky_relu: return fn(LeakyRelu{});
    case Activation::elu: return fn(Elu{});
    case Activation::softplus: return fn(Softplus{});
    default: break;
  }
  throw std::invalid_argument("activation is not element-wise");
}

}  // namespace fnn
