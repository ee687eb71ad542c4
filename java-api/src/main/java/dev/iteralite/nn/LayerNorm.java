package dev.iteralite.nn;

import dev.iteralite.backend.Backend;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.Tensor;
import java.util.List;

/** Layer normalisation of each row with learned gain and bias [C] (no weight decay). */
public final class LayerNorm implements Layer {
  private final Backend backend;
  private final long dim;
  private final float eps;
  private final Parameter weight;
  private final Parameter bias;
  private Tensor savedInput;
  private Tensor savedMean;
  private Tensor savedRstd;

  public LayerNorm(Backend backend, ParameterSet.Builder params, String name, long dim, float eps) {
    this.backend = backend;
    this.dim = dim;
    this.eps = eps;
    this.weight = params.add(name + ".weight", Init.constant(1.0), false, dim);
    this.bias = params.add(name + ".bias", Init.zeros(), false, dim);
  }

  @Override
  public Tensor forward(Tensor x, Arena arena) {
    Shapes.requireRank2("LayerNorm", "input", x, dim);
    long rows = x.dim(0);
    Tensor y = arena.allocate(x.dtype(), rows, dim);
    Tensor mean = arena.allocate(x.dtype(), rows);
    Tensor rstd = arena.allocate(x.dtype(), rows);
    backend.layerNormForward(x, weight.value(), bias.value(), eps, y, mean, rstd);
    savedInput = x;
    savedMean = mean;
    savedRstd = rstd;
    return y;
  }

  @Override
  public Tensor backward(Tensor dy, Arena arena) {
    Shapes.requireSaved("LayerNorm", savedInput);
    Shapes.requireRank2("LayerNorm", "gradOutput", dy, dim);
    Tensor dx = arena.allocate(dy.dtype(), dy.dim(0), dim);
    backend.layerNormBackward(dy, savedInput, weight.value(), savedMean, savedRstd, dx, weight.grad(), bias.grad());
    return dx;
  }

  @Override
  public List<Parameter> parameters() {
    return List.of(weight, bias);
  }
}
