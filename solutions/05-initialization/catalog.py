'''Answer catalog for 05-initialization.

Names the setup cell provides (solutions/05-initialization/initialization.ipynb, tag "setup"):
``np`` (numpy), ``math``, ``ACTIVATION_FUNCTIONS`` (activation name -> g, from
backproplab.activations). initialize_parameters uses init_std.
'''
from __future__ import annotations

from backproplab.grading.answer_catalogs import S, V, notebook_sources

SETUP, ANSWERS = notebook_sources(__file__)  # the solution notebook's setup and answer cells

VARIANTS = [
    # ---- init_std ---------------------------------------------------------------------
    V("init_std", "dict-of-formulas", None, """\
        def init_std(method, fan_in, fan_out):
            formulas = {"zeros": lambda: 0, "random": lambda: 0.01,
                        "xavier": lambda: np.sqrt(2 / (fan_in + fan_out)), "he": lambda: np.sqrt(2 / fan_in)}
            return formulas[method]()
        """),
    V("init_std", "he-with-fan-out", "init-fan", """\
        def init_std(method, fan_in, fan_out):
            return {"zeros": 0.0, "random": 0.01, "xavier": math.sqrt(2 / (fan_in + fan_out)),
                    "he": math.sqrt(2 / fan_out)}[method]
        """),
    V("init_std", "xavier-with-fan-in-only", "init-fan", """\
        def init_std(method, fan_in, fan_out):
            return {"zeros": 0.0, "random": 0.01, "xavier": math.sqrt(2 / fan_in),
                    "he": math.sqrt(2 / fan_in)}[method]
        """),
    V("init_std", "variance-not-std", "init-scale", """\
        def init_std(method, fan_in, fan_out):
            return {"zeros": 0.0, "random": 0.01, "xavier": 2 / (fan_in + fan_out), "he": 2 / fan_in}[method]
        """),
    V("init_std", "he-without-gain", "init-scale", """\
        def init_std(method, fan_in, fan_out):
            return {"zeros": 0.0, "random": 0.01, "xavier": math.sqrt(2 / (fan_in + fan_out)),
                    "he": math.sqrt(1 / fan_in)}[method]
        """),
    V("init_std", "random-without-0.01", "init-scale", """\
        def init_std(method, fan_in, fan_out):
            return {"zeros": 0.0, "random": 1.0, "xavier": math.sqrt(2 / (fan_in + fan_out)),
                    "he": math.sqrt(2 / fan_in)}[method]
        """),
    V("init_std", "not-implemented", "not-implemented", """\
        def init_std(method, fan_in, fan_out):
            # YOUR CODE HERE
            raise NotImplementedError()
        """),
    S("init_std", "calls-the-library", "forbidden-call", """\
        def init_std(method, fan_in, fan_out):
            from backproplab.init import init_std as library_init_std
            return library_init_std(method, fan_in, fan_out)
        """),
    # ---- initialize_parameters --------------------------------------------------------
    V("initialize_parameters", "legacy-global-seed", None, """\
        def initialize_parameters(layer_sizes, method, seed=None):
            if seed is not None:
                np.random.seed(seed)
            params = {}
            for l in range(1, len(layer_sizes)):
                n_in, n_out = layer_sizes[l - 1], layer_sizes[l]
                params["W" + str(l)] = np.random.randn(n_out, n_in) * init_std(method, n_in, n_out)
                params["B" + str(l)] = np.zeros((1, n_out))
            return params
        """),
    V("initialize_parameters", "rng.normal-with-scale", None, """\
        def initialize_parameters(layer_sizes, method, seed=None):
            rng = np.random.default_rng(seed)
            params = {}
            for l, (n_in, n_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]), start=1):
                params[f"W{l}"] = rng.normal(0.0, init_std(method, n_in, n_out), size=(n_out, n_in))
                params[f"B{l}"] = np.zeros((1, n_out))
            return params
        """),
    V("initialize_parameters", "W-transposed", "transposed", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            rng = np.random.default_rng(seed)
            params = {}
            for l in range(1, len(layer_sizes)):
                n_in, n_out = layer_sizes[l - 1], layer_sizes[l]
                params[f"W{l}"] = init_std(method, n_in, n_out) * rng.standard_normal((n_in, n_out))
                params[f"B{l}"] = np.zeros((1, n_out))
            return params
        """),
    V("initialize_parameters", "bias-1d", "bias-shape", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            rng = np.random.default_rng(seed)
            params = {}
            for l in range(1, len(layer_sizes)):
                n_in, n_out = layer_sizes[l - 1], layer_sizes[l]
                params[f"W{l}"] = init_std(method, n_in, n_out) * rng.standard_normal((n_out, n_in))
                params[f"B{l}"] = np.zeros(n_out)
            return params
        """),
    V("initialize_parameters", "random-biases", "init-bias", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            rng = np.random.default_rng(seed)
            params = {}
            for l in range(1, len(layer_sizes)):
                n_in, n_out = layer_sizes[l - 1], layer_sizes[l]
                std = init_std(method, n_in, n_out)
                params[f"W{l}"] = std * rng.standard_normal((n_out, n_in))
                params[f"B{l}"] = std * rng.standard_normal((1, n_out))
            return params
        """),
    V("initialize_parameters", "seed-ignored", "init-seed", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            params = {}
            for l in range(1, len(layer_sizes)):
                n_in, n_out = layer_sizes[l - 1], layer_sizes[l]
                params[f"W{l}"] = init_std(method, n_in, n_out) * np.random.randn(n_out, n_in)
                params[f"B{l}"] = np.zeros((1, n_out))
            return params
        """),
    V("initialize_parameters", "fixed-seed", "init-seed", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            rng = np.random.default_rng(42)
            params = {}
            for l in range(1, len(layer_sizes)):
                n_in, n_out = layer_sizes[l - 1], layer_sizes[l]
                params[f"W{l}"] = init_std(method, n_in, n_out) * rng.standard_normal((n_out, n_in))
                params[f"B{l}"] = np.zeros((1, n_out))
            return params
        """),
    V("initialize_parameters", "he-with-fan-out", "init-fan", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            rng = np.random.default_rng(seed)
            params = {}
            for l in range(1, len(layer_sizes)):
                n_in, n_out = layer_sizes[l - 1], layer_sizes[l]
                std = math.sqrt(2 / n_out) if method == "he" else init_std(method, n_in, n_out)
                params[f"W{l}"] = std * rng.standard_normal((n_out, n_in))
                params[f"B{l}"] = np.zeros((1, n_out))
            return params
        """),
    V("initialize_parameters", "variance-as-scale", "init-scale", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            rng = np.random.default_rng(seed)
            params = {}
            for l in range(1, len(layer_sizes)):
                n_in, n_out = layer_sizes[l - 1], layer_sizes[l]
                variance = init_std(method, n_in, n_out) ** 2
                params[f"W{l}"] = variance * rng.standard_normal((n_out, n_in))
                params[f"B{l}"] = np.zeros((1, n_out))
            return params
        """),
    V("initialize_parameters", "one-row-for-all-units", "init-symmetry", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            rng = np.random.default_rng(seed)
            params = {}
            for l in range(1, len(layer_sizes)):
                n_in, n_out = layer_sizes[l - 1], layer_sizes[l]
                row = init_std(method, n_in, n_out) * rng.standard_normal((1, n_in))
                params[f"W{l}"] = np.repeat(row, n_out, axis=0)
                params[f"B{l}"] = np.zeros((1, n_out))
            return params
        """),
    V("initialize_parameters", "always-zeros", "init-symmetry", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            params = {}
            for l in range(1, len(layer_sizes)):
                params[f"W{l}"] = np.zeros((layer_sizes[l], layer_sizes[l - 1]))
                params[f"B{l}"] = np.zeros((1, layer_sizes[l]))
            return params
        """),
    V("initialize_parameters", "uniform-with-the-right-std", "wrong-values", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            rng = np.random.default_rng(seed)
            params = {}
            for l in range(1, len(layer_sizes)):
                n_in, n_out = layer_sizes[l - 1], layer_sizes[l]
                limit = math.sqrt(3.0) * init_std(method, n_in, n_out)  # uniform(-a, a) has std a / sqrt(3)
                params[f"W{l}"] = rng.uniform(-limit, limit, (n_out, n_in))
                params[f"B{l}"] = np.zeros((1, n_out))
            return params
        """),
    V("initialize_parameters", "rng.random-not-centred", "wrong-values", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            rng = np.random.default_rng(seed)
            params = {}
            for l in range(1, len(layer_sizes)):
                n_in, n_out = layer_sizes[l - 1], layer_sizes[l]
                params[f"W{l}"] = init_std(method, n_in, n_out) * rng.random((n_out, n_in))
                params[f"B{l}"] = np.zeros((1, n_out))
            return params
        """),
    V("initialize_parameters", "skips-the-output-layer", "missing-keys", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            rng = np.random.default_rng(seed)
            params = {}
            for l in range(1, len(layer_sizes) - 1):
                n_in, n_out = layer_sizes[l - 1], layer_sizes[l]
                params[f"W{l}"] = init_std(method, n_in, n_out) * rng.standard_normal((n_out, n_in))
                params[f"B{l}"] = np.zeros((1, n_out))
            return params
        """),
    S("initialize_parameters", "calls-the-library", "forbidden-call", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            import backproplab
            return backproplab.initialize_parameters(layer_sizes, method, seed)
        """),
    S("initialize_parameters", "torch.nn.init", "forbidden-call", """\
        def initialize_parameters(layer_sizes, method, seed=None):
            import torch
            params = {}
            for l in range(1, len(layer_sizes)):
                W = torch.empty(layer_sizes[l], layer_sizes[l - 1], dtype=torch.float64)
                torch.nn.init.kaiming_normal_(W, nonlinearity="relu")
                params[f"W{l}"] = W.numpy()
                params[f"B{l}"] = np.zeros((1, layer_sizes[l]))
            return params
        """),
    # ---- layer_statistics -------------------------------------------------------------
    V("layer_statistics", "ddof-1-like-torch", None, """\
        def layer_statistics(X, params, activation):
            A, stds, l = X, [], 1
            while f"W{l}" in params:
                A = ACTIVATION_FUNCTIONS[activation](A @ params[f"W{l}"].T + params[f"B{l}"])
                stds.append(A.std(ddof=1))
                l += 1
            return np.array(stds)
        """),
    V("layer_statistics", "std-of-Z", "activation-layer", """\
        def layer_statistics(X, params, activation):
            A, stds = X, []
            for l in range(1, len(params) // 2 + 1):
                Z = A @ params[f"W{l}"].T + params[f"B{l}"]
                stds.append(np.std(Z))
                A = ACTIVATION_FUNCTIONS[activation](Z)
            return stds
        """),
    V("layer_statistics", "no-bias", "missing-bias", """\
        def layer_statistics(X, params, activation):
            A, stds = X, []
            for l in range(1, len(params) // 2 + 1):
                A = ACTIVATION_FUNCTIONS[activation](A @ params[f"W{l}"].T)
                stds.append(np.std(A))
            return stds
        """),
    V("layer_statistics", "variance", "wrong-values", """\
        def layer_statistics(X, params, activation):
            A, stds = X, []
            for l in range(1, len(params) // 2 + 1):
                A = ACTIVATION_FUNCTIONS[activation](A @ params[f"W{l}"].T + params[f"B{l}"])
                stds.append(np.var(A))
            return stds
        """),
    V("layer_statistics", "includes-the-input", "wrong-shape", """\
        def layer_statistics(X, params, activation):
            A, stds = X, [np.std(X)]
            for l in range(1, len(params) // 2 + 1):
                A = ACTIVATION_FUNCTIONS[activation](A @ params[f"W{l}"].T + params[f"B{l}"])
                stds.append(np.std(A))
            return stds
        """),
    V("layer_statistics", "not-implemented", "not-implemented", """\
        def layer_statistics(X, params, activation):
            # YOUR CODE HERE
            raise NotImplementedError()
        """),
]
