package dev.iteralite.backend;

import dev.iteralite.tensor.Tensor;

/**
 * Gradient outputs of {@link Backend#selectiveScanBackward}, ACCUMULATED into ({@code +=}), with
 * the shapes of the matching {@link SelectiveScan} operands: {@code du}, {@code dDelta} (w.r.t. the
 * raw delta), {@code dz} [batch * L, E]; {@code dA} [E, N]; {@code dB}, {@code dC} [batch * L, N];
 * {@code dD}, {@code dDeltaBias} [E]. {@code dD}, {@code dz}, {@code dDeltaBias} must be non-null
 * exactly when the forward had the matching input.
 */
public record SelectiveScanGrads(
    Tensor du, Tensor dDelta, Tensor dA, Tensor dB, Tensor dC, Tensor dD, Tensor dz, Tensor dDeltaBias) {}
