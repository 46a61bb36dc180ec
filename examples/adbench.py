"""ADBench-style objectives written as a user would: a GMM, bundle adjustment, an LSTM loss.

Ports of the three objectives of ADBench (Srajer, Kukelova & Fitzgibbon 2018) against the Array
API (`array_namespace`), so that numpy, jax, torch and diffgen's symbolic namespace all run them.
The differentiated parameters of each are packed into ONE flat vector (its first argument); the
data (points, observations, a character sequence) are constant arguments. The sizes follow from
the shapes of the arguments, so one function serves every ADBench size:

    diffgen generate examples.adbench:gmm_objective --arg params=float64[30] \
        --arg X=float64[1000,2] --ops gradient,hessian --backend jax:reverse --outer jax:forward
    diffgen generate examples.adbench:ba_objective --arg params=float64[215] \
        --arg features=float64[5,20,2] --ops jacobian --backend jax:reverse
    diffgen generate examples.adbench:lstm_objective --arg params=float64[266] \
        --arg state=float64[2,2,14] --arg sequence=float64[20,14] --ops gradient \
        --backend jax:reverse

`gmm_size`, `ba_size` and `lstm_size` give the length of the flat vector for a problem size.
"""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace

#: The depth of the scene in front of the cameras of `ba_objective` (points are offsets from it).
DEPTH = 4.0


def gmm_size(d: int, k: int) -> int:
    """The length of `gmm_objective`'s parameter vector for k components in d dimensions."""
    return k * (1 + d + d * (d + 1) // 2)


def ba_size(cameras: int, points: int) -> int:
    """The length of `ba_objective`'s parameter vector: 11 per camera, 3 per point, a weight
    per observation (every camera observes every point)."""
    return 11 * cameras + 3 * points + cameras * points


def lstm_size(layers: int, hidden: int) -> int:
    """The length of `lstm_objective`'s parameter vector: 4 weights and 4 biases per unit and
    layer, then the input weights, output weights and output biases."""
    return 8 * layers * hidden + 3 * hidden


def logsumexp(xp: Any, a: Any, axis: int) -> Any:
    """log(sum(exp(a))) along axis, shifted by the maximum as ADBench does."""
    top = xp.max(a, axis=axis, keepdims=True)
    return xp.squeeze(top, axis=axis) + xp.log(xp.sum(xp.exp(a - top), axis=axis))


def gmm_objective(params: Any, X: Any) -> Any:
    """Negative log-likelihood of the data X (n x d) under a mixture of k Gaussians, with
    ADBench's Wishart prior (gamma = 1, m = 0); constants that do not depend on the parameters
    are left out.

    params packs, for k components, the log-weights alpha (k), the means (k x d), then per
    component the inverse-covariance factor: d log-diagonal entries followed by the d(d-1)/2
    entries of the strictly lower triangle, row by row (ADBench's icf).
    """
    xp = array_namespace(params, X)
    n, d = X.shape
    k = params.shape[0] // (1 + d + d * (d + 1) // 2)
    alpha = params[:k]
    means = xp.reshape(params[k : k + k * d], (k, d))
    icf = xp.reshape(params[k + k * d :], (k, d * (d + 1) // 2))
    logdiag = icf[:, :d]
    rows = []  # the strictly lower triangle L of each component, built row by row
    start = d
    for j in range(d):
        rows.append(
            xp.concat([icf[:, start : start + j], xp.zeros((k, d - j), dtype=params.dtype)], axis=1)
        )
        start += j
    lower = xp.stack(rows, axis=1)  # k x d x d
    centred = xp.reshape(X, (n, 1, d)) - xp.reshape(means, (1, k, d))  # n x k x d
    mapped = xp.exp(logdiag) * centred + xp.matmul(lower, centred[..., None])[..., 0]
    mahalanobis = xp.sum(mapped * mapped, axis=2)  # n x k
    inner = alpha + xp.sum(logdiag, axis=1) - 0.5 * mahalanobis
    likelihood = xp.sum(logsumexp(xp, inner, axis=1)) - n * logsumexp(xp, alpha, axis=0)
    prior = 0.5 * (xp.sum(xp.exp(2.0 * logdiag)) + xp.sum(icf[:, d:] * icf[:, d:]))
    return prior - likelihood


def rodrigues(xp: Any, rotation: Any, x: Any) -> Any:
    """x (... x 3) rotated by the angle-axis vectors `rotation` (... x 3), Rodrigues' formula
    (ADBench's, without its branch for a zero angle: the angles here are never zero)."""
    theta = xp.sqrt(xp.sum(rotation * rotation, axis=-1, keepdims=True))
    w = rotation / theta
    cross = xp.stack(
        [
            w[..., 1] * x[..., 2] - w[..., 2] * x[..., 1],
            w[..., 2] * x[..., 0] - w[..., 0] * x[..., 2],
            w[..., 0] * x[..., 1] - w[..., 1] * x[..., 0],
        ],
        axis=-1,
    )
    along = xp.sum(w * x, axis=-1, keepdims=True) * (1.0 - xp.cos(theta))
    return x * xp.cos(theta) + cross * xp.sin(theta) + w * along


def ba_objective(params: Any, features: Any) -> Any:
    """Bundle-adjustment residuals: every one of C cameras observes every one of P points at the
    constant image features (C x P x 2); returns the weighted reprojection errors (C*P*2) then
    the weight errors 1 - w^2 (C*P), ADBench's residual.

    params packs the cameras (C x 11: angle-axis rotation, centre, focal length, principal point,
    two radial distortion coefficients), the points (P x 3, offsets from a scene DEPTH in front
    of the cameras), then a weight per observation (C x P).
    """
    xp = array_namespace(params, features)
    c, p, _ = features.shape
    cams = xp.reshape(params[: 11 * c], (c, 1, 11))
    points = xp.reshape(params[11 * c : 11 * c + 3 * p], (1, p, 3))
    weights = xp.reshape(params[11 * c + 3 * p :], (c, p))
    seen = rodrigues(xp, cams[..., 0:3], points - cams[..., 3:6])  # C x P x 3
    depth = seen[..., 2:3] + DEPTH
    projected = seen[..., 0:2] / depth
    radius = xp.sum(projected * projected, axis=-1, keepdims=True)
    distortion = 1.0 + cams[..., 9:10] * radius + cams[..., 10:11] * radius * radius
    image = projected * distortion * cams[..., 6:7] + cams[..., 7:9]
    reprojection = weights[..., None] * (image - features)
    return xp.concat([xp.reshape(reprojection, (-1,)), xp.reshape(1.0 - weights * weights, (-1,))])


def sigmoid(xp: Any, x: Any) -> Any:
    return 1.0 / (1.0 + xp.exp(-x))


def lstm_objective(params: Any, state: Any, sequence: Any) -> Any:
    """ADBench's LSTM loss: the mean negative log-probability of each character of `sequence`
    (c x b, one-hot-like rows) predicted from the ones before by an l-layer diagonal LSTM with
    b units, from the initial `state` (l x 2 x b: hidden, cell).

    params packs the layers' weights and biases (l x 2 x 4 x b: forget, input, output gates and
    the change), then the input weights, output weights and output biases (3 x b).
    """
    xp = array_namespace(params, state, sequence)
    c, b = sequence.shape
    layers = state.shape[0]
    main = xp.reshape(params[: 8 * layers * b], (layers, 2, 4, b))
    extra = xp.reshape(params[8 * layers * b :], (3, b))
    hidden = [state[i, 0, :] for i in range(layers)]
    cell = [state[i, 1, :] for i in range(layers)]
    total = 0.0
    for t in range(c - 1):
        x = sequence[t, :] * extra[0, :]
        for i in range(layers):
            weight, bias = main[i, 0], main[i, 1]
            forget = sigmoid(xp, x * weight[0] + bias[0])
            ingate = sigmoid(xp, hidden[i] * weight[1] + bias[1])
            outgate = sigmoid(xp, x * weight[2] + bias[2])
            change = xp.tanh(hidden[i] * weight[3] + bias[3])
            cell[i] = cell[i] * forget + ingate * change
            hidden[i] = outgate * xp.tanh(cell[i])
            x = hidden[i]
        predicted = x * extra[1, :] + extra[2, :]
        normalized = predicted - logsumexp(xp, predicted, axis=0)
        total = total + xp.sum(sequence[t + 1, :] * normalized)
    return -total / ((c - 1) * b)
