package dev.iteralite.nn;

import dev.iteralite.backend.Backend;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.Tensor;
import java.util.List;

/**
 * Fully connected layer {@code y = x W^T + b} with PyTorch's weight layout: weight [out, in],
 * optional bias [out]. Initialised like {@code nn.Linear} (uniform, bound 1/sqrt(in)).
 */
public final class Linear implements Layer {
  private final Backend backend;
  private final long in;
  private final long out;
  private final Parameter weight;
  private final Parameter bias;
  private Tensor savedInput;
  private Tensor savedOnes;

  /** Declares {@code name.weight} (and {@code name.bias} if {@code withBias}) on {@code params}. */
  public Linear(Backend backend, ParameterSet.Builder params, String name, long in, long out, boolean withBias) {
    this(backend, params, name, in, out, withBias, Init.fanIn());
  }

  /** As above with an explicit weight initialiser. */
  public Linear(
      Backend backend, ParameterSet.Builder params, String name, long in, long out, boolean withBias, Init weightInit) {
    this.backend = backend;
    this.in = in;
    this.out = out;
    this.weight = params.add(name + ".weight", weightInit, true, out, in);
    this.bias = withBias ? params.add(name + ".bias", Init.uniform(1.0 / Math.sqrt(in)), false, out) : null;
  }

  public Parameter weight() {
    return weight;
  }

  /** The bias, or null. */
  public Parameter bias() {
    return bias;
  }

  @Override
  public Tensor forward(Tensor x, Arena arena) {
    // x [R, in] -> y [R, out]
    Shapes.requireRank2("Linear", "input", x, in);
    long rows = x.dim(0);
    Tensor y = arena.allocate(x.dtype(), rows, out);
    backend.gemm(false, true, 1f, x, weight.value(), 0f, y);
    if (bias != null) {
      // Broadcasting the bias is a rank-1 GEMM: y += ones[R,1] * b[1,out].
      savedOnes = ones(arena, x, rows);
      backend.gemm(false, false, 1f, savedOnes, bias.value().reshape(1, out), 1f, y);
    }
    savedInput = x;
    return y;
  }

  @Override
  public Tensor backward(Tensor dy, Arena arena) {
    Shapes.requireSaved("Linear", savedInput);
    Shapes.requireRank2("Linear", "gradOutput", dy, out);
    Tensor dx = arena.allocate(dy.dtype(), dy.dim(0), in);
    backend.gemm(false, false, 1f, dy, weight.value(), 0f, dx); // dx = dy W
    backend.gemm(true, false, 1f, dy, savedInput, 1f, weight.grad()); // dW += dy^T x
    if (bias != null) {
      backend.gemm(true, false, 1f, savedOnes, dy, 1f, bias.grad().reshape(1, out)); // db += 1^T dy
    }
    return dx;
  }

  @Override
  public List<Parameter> parameters() {
    return bias == null ? List.of(weight) : List.of(weight, bias);
  }

  private Tensor ones(Arena arena, Tensor like, long rows) {
    Tensor ones = arena.allocate(like.dtype(), rows, 1);
    backend.fill(ones, 1f);
    return ones;
  }
}
