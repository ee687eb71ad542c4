package dev.iteralite.nn;

import dev.iteralite.backend.Backend;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.Tensor;
import java.util.List;

/** Row-wise softmax as a layer (router probabilities, attention); keeps its output for backward. */
public final class Softmax implements Layer {
  private final Backend backend;
  private Tensor savedOutput;

  public Softmax(Backend backend) {
    this.backend = backend;
  }

  @Override
  public Tensor forward(Tensor x, Arena arena) {
    Shapes.requireRank2("Softmax", "input", x, -1);
    Tensor y = arena.allocate(x.dtype(), x.shape());
    backend.softmaxForward(x, y);
    savedOutput = y;
    return y;
  }

  @Override
  public Tensor backward(Tensor dy, Arena arena) {
    Shapes.requireSaved("Softmax", savedOutput);
    Tensor dx = arena.allocate(dy.dtype(), dy.shape());
    backend.softmaxBackward(savedOutput, dy, dx);
    return dx;
  }

  @Override
  public List<Parameter> parameters() {
    return List.of();
  }
}
