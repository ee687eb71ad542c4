package dev.iteralite.nn;

import dev.iteralite.backend.Backend;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.Tensor;
import java.util.List;

/** Root-mean-square normalisation of each row with a learned gain [C] (no weight decay). */
public final class RMSNorm implements Layer {
  private final Backend backend;
  private final long dim;
  private final float eps;
  private final Parameter weight;
  private Tensor savedInput;
  private Tensor savedRstd;

  public RMSNorm(Backend backend, ParameterSet.Builder params, String name, long dim, float eps) {
    this.backend = backend;
    this.dim = dim;
    this.eps = eps;
    this.weight = params.add(name + ".weight", Init.constant(1.0), false, dim);
  }

  public Parameter weight() {
    return weight;
  }

  @Override
  public Tensor forward(Tensor x, Arena arena) {
    Shapes.requireRank2("RMSNorm", "input", x, dim);
    Tensor y = arena.allocate(x.dtype(), x.dim(0), dim);
    Tensor rstd = arena.allocate(x.dtype(), x.dim(0));
    backend.rmsNormForward(x, weight.value(), eps, y, rstd);
    savedInput = x;
    savedRstd = rstd;
    return y;
  }

  @Override
  public Tensor backward(Tensor dy, Arena arena) {
    Shapes.requireSaved("RMSNorm", savedInput);
    Shapes.requireRank2("RMSNorm", "gradOutput", dy, dim);
    Tensor dx = arena.allocate(dy.dtype(), dy.dim(0), dim);
    backend.rmsNormBackward(dy, savedInput, weight.value(), savedRstd, dx, weight.grad());
    return dx;
  }

  @Override
  public List<Parameter> parameters() {
    return List.of(weight);
  }
}
