package dev.iteralite.nn;

import dev.iteralite.backend.Activation;
import dev.iteralite.backend.Backend;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.Tensor;
import java.util.List;

/** A pointwise activation (SiLU, GELU or softplus) as a layer; keeps its input for backward. */
public final class ActivationLayer implements Layer {
  private final Backend backend;
  private final Activation function;
  private Tensor savedInput;

  public ActivationLayer(Backend backend, Activation function) {
    this.backend = backend;
    this.function = function;
  }

  public Activation function() {
    return function;
  }

  @Override
  public Tensor forward(Tensor x, Arena arena) {
    Tensor y = arena.allocate(x.dtype(), x.shape());
    backend.activationForward(function, x, y);
    savedInput = x;
    return y;
  }

  @Override
  public Tensor backward(Tensor dy, Arena arena) {
    Shapes.requireSaved("ActivationLayer(" + function + ")", savedInput);
    Tensor dx = arena.allocate(dy.dtype(), dy.shape());
    backend.activationBackward(function, savedInput, dy, dx);
    return dx;
  }

  @Override
  public List<Parameter> parameters() {
    return List.of();
  }
}
