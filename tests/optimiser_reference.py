"""The optimisers of fnn.training.optimisers in plain NumPy float64, written from their formulas (PyTorch's
torch.optim), independently of the engine: one step at a time over a Reference network."""

import numpy as np

from reference import Reference


class ReferenceOptimiser:
    def __init__(self, name, lr, l2, momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8, clip_norm=None):
        self.name, self.lr, self.l2, self.clip_norm = name, lr, l2, clip_norm
        self.clipped = 0
        self.momentum, self.beta_1, self.beta_2, self.epsilon = momentum, beta_1, beta_2, epsilon
        self.t = 0
        self.first, self.second = {}, {}

    def step(self, key, w, g, decays):
        """The new value of parameter array `w` (key: its name) given the loss gradient g, the
        L2 term not included; `decays`: whether λ applies (weights) or not (biases, slopes)."""
        lam = self.l2 if decays else 0.0
        m1 = self.first.setdefault(key, np.zeros_like(w))
        m2 = self.second.setdefault(key, np.zeros_like(w))
        if self.name == "sgd":
            return w - self.lr * (g + lam * w)
        if self.name in ("momentum", "nesterov"):
            g = g + lam * w
            m1[...] = self.momentum * m1 + g
            direction = g + self.momentum * m1 if self.name == "nesterov" else m1
            return w - self.lr * direction
        if self.name in ("adam", "adamw"):
            if self.name == "adamw":
                w = w * (1 - self.lr * lam)
            else:
                g = g + lam * w
            m1[...] = self.beta_1 * m1 + (1 - self.beta_1) * g
            m2[...] = self.beta_2 * m2 + (1 - self.beta_2) * g * g
            c1, c2 = 1 - self.beta_1 ** self.t, 1 - self.beta_2 ** self.t
            return w - self.lr / c1 * m1 / (np.sqrt(m2) / np.sqrt(c2) + self.epsilon)
        g = g + lam * w
        if self.name == "adagrad":
            m2[...] = m2 + g * g
        else:  # rmsprop
            m2[...] = self.beta_2 * m2 + (1 - self.beta_2) * g * g
        return w - self.lr * g / (np.sqrt(m2) + self.epsilon)

    def epoch(self, ref: Reference, X, T, order, batch, w=None):
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            grads = ref.gradients(X[rows], T[rows], 0.0, None if w is None else w[rows])
            if self.clip_norm is not None:  # as torch.nn.utils.clip_grad_norm_, before the step
                norm = np.sqrt(sum((a ** 2).sum() for g in grads for a in g.values() if a is not None))
                factor = self.clip_norm / (norm + 1e-6)
                if factor < 1:
                    self.clipped += 1
                    grads = [{k: None if a is None else a * factor for k, a in g.items()} for g in grads]
            self.t += 1
            for i, (layer, g) in enumerate(zip(ref.layers, grads)):
                layer["W"] = self.step(("W", i), layer["W"], g["W"], True)
                layer["b"] = self.step(("b", i), layer["b"], g["b"], False)
                if g["slopes"] is not None:
                    layer["slopes"] = self.step(("slopes", i), layer["slopes"], g["slopes"], False)
