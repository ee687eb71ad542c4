package dev.iteralite.nn;

import dev.iteralite.backend.Backend;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.Tensor;
import java.util.List;

/** A residual connection {@code y = x + inner(x)} around a shape-preserving layer. */
public final class Residual implements Layer {
  private final Backend backend;
  private final Layer inner;

  public Residual(Backend backend, Layer inner) {
    this.backend = backend;
    this.inner = inner;
  }

  @Override
  public Tensor forward(Tensor x, Arena arena) {
    Tensor fx = inner.forward(x, arena);
    if (fx.size() != x.size() || fx.rank() != x.rank()) {
      throw new IllegalStateException("Residual: inner layer changed the shape from " + x.describe() + " to " + fx.describe());
    }
    Tensor y = arena.allocate(x.dtype(), x.shape());
    backend.add(x, fx, y);
    return y;
  }

  @Override
  public Tensor backward(Tensor dy, Arena arena) {
    Tensor dx = inner.backward(dy, arena);
    backend.add(dx, dy, dx); // the skip path passes dy through unchanged
    return dx;
  }

  @Override
  public List<Parameter> parameters() {
    return inner.parameters();
  }
}
