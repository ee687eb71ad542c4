package dev.iteralite.backend;

/** Pointwise activation functions with native forward and backward kernels. */
public enum Activation {
  /** x * sigmoid(x). */
  SILU,
  /** GELU, tanh approximation (as in GPT-2): 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))). */
  GELU,
  /** log(1 + e^x), the identity above x = 20 (as Mamba's kernel computes it). */
  SOFTPLUS
}
