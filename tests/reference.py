"""A small, plain NumPy float64 reference of the chapter's equations, written independently of
fnn's engine, to check it against. Rows are samples: Z = A Wᵀ + b is (4.28) for each row."""

import numpy as np


def activation(name, z, gamma=0.0):
    if name == "identity":
        return z
    if name == "logistic":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "hard_logistic":
        return np.maximum(np.minimum(0.25 * z + 0.5, 1), 0)
    if name == "hard_tanh":
        return np.maximum(np.minimum(z, 1), -1)
    if name == "relu":
        return np.maximum(0, z)
    if name in ("leaky_relu", "prelu"):
        return np.maximum(0, z) + gamma * np.minimum(0, z)
    if name == "elu":
        return np.maximum(0, z) + np.minimum(0, gamma * (np.exp(z) - 1))
    if name == "softplus":
        return np.log1p(np.exp(z))
    raise KeyError(name)


def derivative(name, z, gamma=0.0):
    """Table 4.2, and the piecewise derivatives of section 4.1."""
    if name == "identity":
        return np.ones_like(z)
    if name == "logistic":
        s = activation("logistic", z)
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "hard_logistic":
        return np.where((z > -2) & (z < 2), 0.25, 0.0)
    if name == "hard_tanh":
        return np.where((z > -1) & (z < 1), 1.0, 0.0)
    if name == "relu":
        return (z > 0).astype(float)
    if name in ("leaky_relu", "prelu"):
        return np.where(z > 0, 1.0, gamma)
    if name == "elu":
        return (z > 0) + (z <= 0) * gamma * np.exp(z)
    if name == "softplus":
        return 1 / (1 + np.exp(-z))
    raise KeyError(name)


class Reference:
    """layers: list of dicts with W, b, name, gamma, pieces, slopes (or None); output kind."""

    def __init__(self, layers, output):
        self.layers = layers
        self.output = output

    @classmethod
    def of(cls, net):
        params = {k: v.astype(np.float64).copy() for k, v in net.parameters().items()}
        layers = []
        for l in range(1, net.n_layers + 1):
            f = net.layer_activation(l)
            layers.append(dict(W=params[f"weights_{l}"], b=params[f"biases_{l}"], name=f.name, gamma=f.gamma,
                               pieces=f.pieces, slopes=params.get(f"slopes_{l}")))
        return cls(layers, net.output)

    def _act(self, layer, z):
        if layer["name"] == "maxout":
            return z.reshape(z.shape[0], -1, layer["pieces"]).max(axis=2)
        if layer["name"] == "prelu":
            return np.maximum(0, z) + layer["slopes"] * np.minimum(0, z)
        return activation(layer["name"], z, layer["gamma"])

    def forward(self, X):
        a, zs, acts = X, [], [X]
        for i, layer in enumerate(self.layers):
            W = layer["W"].reshape(-1, layer["W"].shape[-1])
            z = a @ W.T + layer["b"].reshape(-1)
            zs.append(z)
            if i + 1 < len(self.layers):
                a = self._act(layer, z)
            elif self.output == "softmax":
                e = np.exp(z - z.max(axis=1, keepdims=True))
                a = e / e.sum(axis=1, keepdims=True)
            elif self.output == "logistic":
                a = 1 / (1 + np.exp(-z))
            else:
                a = z
            acts.append(a)
        return zs, acts

    def losses(self, X, T):
        zs, acts = self.forward(X)
        y_hat = acts[-1]
        if self.output == "softmax":
            return -(T * np.log(y_hat)).sum(axis=1)
        if self.output == "logistic":
            return -(T * np.log(y_hat) + (1 - T) * np.log(1 - y_hat)).sum(axis=1)
        return 0.5 * ((y_hat - T) ** 2).sum(axis=1)

    def risk(self, X, T, l2, w=None):
        """Mean loss (weighted by w, which must have mean 1) + λ/2·‖W‖²."""
        penalty = sum((layer["W"] ** 2).sum() for layer in self.layers)
        losses = self.losses(X, T) if w is None else w * self.losses(X, T)
        return losses.mean() + 0.5 * l2 * penalty

    def gradients(self, X, T, l2, w=None):
        """Mean gradients of the risk by (4.59)-(4.62): lists of dW, db, dslopes per layer.
        Sample weights w scale each sample's loss, hence its δ⁽ᴸ⁾."""
        zs, acts = self.forward(X)
        n = X.shape[0]
        delta = acts[-1] - T
        if w is not None:
            delta = w[:, None] * delta
        grads = [None] * len(self.layers)
        for i in reversed(range(len(self.layers))):
            layer = self.layers[i]
            W = layer["W"].reshape(-1, layer["W"].shape[-1])
            dW = (delta.T @ acts[i]).reshape(layer["W"].shape) / n + l2 * layer["W"]
            db = delta.sum(axis=0).reshape(layer["b"].shape) / n
            grads[i] = {"W": dW, "b": db, "slopes": None}
            if i == 0:
                break
            below = self.layers[i - 1]
            grad_a = delta @ W
            z = zs[i - 1]
            if below["name"] == "maxout":
                K = below["pieces"]
                zz = z.reshape(n, -1, K)
                winner = zz.argmax(axis=2)
                mask = np.zeros_like(zz)
                np.put_along_axis(mask, winner[:, :, None], 1.0, axis=2)
                delta = (mask * grad_a[:, :, None]).reshape(n, -1)
            elif below["name"] == "prelu":
                g = below["slopes"]
                d_slopes = (grad_a * np.minimum(0, z)).sum(axis=0)
                below["_d_slopes"] = (d_slopes.sum(keepdims=True) if g.size == 1 else d_slopes) / n
                delta = grad_a * np.where(z > 0, 1.0, g)
            else:
                delta = grad_a * derivative(below["name"], z, below["gamma"])
        for i, layer in enumerate(self.layers):
            grads[i]["slopes"] = layer.pop("_d_slopes", None)
        return grads

    def sgd_epoch(self, X, T, order, lr, l2, batch, w=None):
        """Algorithm 4.1 lines 4-12 with mini-batches of `batch` rows (1 = per sample)."""
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            grads = self.gradients(X[rows], T[rows], l2, None if w is None else w[rows])
            for layer, g in zip(self.layers, grads):
                layer["W"] -= lr * g["W"]
                layer["b"] -= lr * g["b"]
                if g["slopes"] is not None:
                    layer["slopes"] -= lr * g["slopes"]


def one_hot(y, C):
    T = np.zeros((len(y), C))
    T[np.arange(len(y)), y] = 1
    return T


def sgd_settings(learning_rate, l2=0.0, batch_size=1, module=None):
    """The engine's settings for an epoch of plain SGD (`engine.train_epoch`'s `optimiser`), from
    `module`, the compiled engine (by default the one fnn picked for this CPU)."""
    if module is None:
        from fnn._engine import core as module
    return module.OptimiserSettings(learning_rate=learning_rate, l2=l2, batch_size=batch_size)
